"""``doctor`` checks of the portfolios app (registered in ``PortfoliosConfig.ready``)."""

from __future__ import annotations

from core.doctor import HINT_SEED, OK, WARN, CheckResult


def check_demo_data() -> CheckResult:
    """The 3 demo users, their 3 portfolios and 63 positions (WARN when absent or incomplete)."""
    from django.contrib.auth import get_user_model

    from portfolios.demo import demo_portfolio_id, load_fixture
    from portfolios.selectors import portfolios_all, positions_open

    users = load_fixture()["users"]
    emails = [u["email"].lower() for u in users]
    expected = (len(users), len(users), sum(len(u["portfolio"]["positions"]) for u in users))
    ids = [demo_portfolio_id(email) for email in emails]
    found = (
        get_user_model().objects.filter(email__in=emails).count(),
        portfolios_all().filter(id__in=ids).count(),
        positions_open(portfolio_ids=ids).count(),
    )
    detail = f"{found[0]} users, {found[1]} portfolios, {found[2]} positions"
    if found == expected:
        return CheckResult("demo data", OK, detail)
    if not any(found):
        return CheckResult("demo data", WARN, "demo data not seeded", HINT_SEED)
    want = f"{expected[0]} users, {expected[1]} portfolios, {expected[2]} positions"
    return CheckResult("demo data", WARN, f"incomplete: {detail} (expected {want})", HINT_SEED)

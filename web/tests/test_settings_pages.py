"""The access tokens, limits and portfolio settings pages: owner-only, the API's validation with errors per
field, a token stored hashed and shown once (and accepted by the MCP server's authentication until revoked),
limits with their stored status, alerts acknowledged with a note."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agent.access import access_token_authenticate
from agent.models import AccessToken
from analytics.models import Alert, PortfolioResult, RiskLimit
from portfolios.models import Portfolio, User

pytestmark = pytest.mark.django_db
TOKEN_RE = re.compile(r"ssa_[A-Za-z0-9_-]{43}")


@pytest.fixture
def web(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def stranger(other_user: User) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


# --- access tokens ------------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_restricted_and_revocable(web: Client, owner: User, portfolio: Portfolio):
    second = Portfolio.objects.create(user=owner, name="Second book")
    page = web.get(reverse("web:access_tokens"))
    assert page.status_code == 200 and b'id="token-form"' in page.content and b"No tokens yet." in page.content
    assert reverse("web:access_tokens").encode() in web.get(reverse("web:portfolio_list")).content  # user menu

    last_day = timezone.now().date() + dt.timedelta(days=30)
    made = web.post(
        reverse("web:access_tokens"), {"name": "Claude", "expires_on": last_day.isoformat(), "portfolios": [second.pk]}
    )
    html = made.content.decode()
    assert made.status_code == 200 and made["Cache-Control"].startswith("max-age=0")
    raw = TOKEN_RE.findall(html)[0]
    token = AccessToken.objects.get(user=owner)
    # Stored hashed (SHA-256 of the raw value), never the value itself; the prefix identifies it.
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw[:12] == token.prefix
    assert raw not in str(AccessToken.objects.values().get())
    assert token.expires_at == dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    assert list(token.portfolios.all()) == [second]
    assert "http://testserver/mcp" in html and f"Bearer {raw}" in html  # MCP client instructions
    # The MCP server's authentication accepts it, restricted to the chosen portfolio.
    identity = access_token_authenticate(raw)
    assert identity is not None and identity.user == owner and identity.portfolio_ids == frozenset({second.pk})

    # Shown once: the list has the prefix only.
    listed = web.get(reverse("web:access_tokens")).content.decode()
    assert raw not in listed and f"{token.prefix}…" in listed and 'data-state="active"' in listed

    # Revoke: a confirmation page, then the token stops working and is listed as revoked.
    revoke_url = reverse("web:access_token_revoke", args=[token.pk])
    confirm = web.get(revoke_url)
    assert confirm.status_code == 200 and b'id="revoke-form"' in confirm.content
    assert AccessToken.objects.get().revoked_at is None
    assert web.post(revoke_url).status_code == 302
    assert access_token_authenticate(raw) is None
    assert 'data-state="revoked"' in web.get(reverse("web:access_tokens")).content.decode()


def test_token_form_errors_and_another_users_token(
    web: Client, stranger: Client, owner: User, other_user: User, portfolio: Portfolio
) -> None:
    theirs = Portfolio.objects.create(user=other_user, name="Theirs")
    blank = web.post(reverse("web:access_tokens"), {"name": "  "})
    assert b"This field is required." in blank.content and not AccessToken.objects.exists()
    past = web.post(reverse("web:access_tokens"), {"name": "Old", "expires_on": "2020-01-01"})
    assert b"The last day must not be in the past." in past.content and not AccessToken.objects.exists()
    foreign = web.post(reverse("web:access_tokens"), {"name": "Sneaky", "portfolios": [theirs.pk]})
    assert b"is not one of the available choices" in foreign.content and not AccessToken.objects.exists()
    assert not TOKEN_RE.search(foreign.content.decode())
    # A token with no portfolio ticked reads all the owner's.
    web.post(reverse("web:access_tokens"), {"name": "All"})
    token = AccessToken.objects.get(user=owner)
    assert not token.portfolios.exists()
    # Another user can neither see nor revoke it.
    assert b"All" not in stranger.get(reverse("web:access_tokens")).content.split(b"<main")[1].split(b"New token")[0]
    url = reverse("web:access_token_revoke", args=[token.pk])
    assert stranger.get(url).status_code == 404 and stranger.post(url).status_code == 404
    assert web.get(reverse("web:access_token_revoke", args=["not-a-uuid"])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert Client().get(reverse("web:access_tokens")).status_code == 302  # login required


# --- limits -------------------------------------------------------------------------------------


def test_limits_are_created_edited_and_deleted_with_the_apis_rules(web: Client, portfolio: Portfolio) -> None:
    url = reverse("web:limits", args=[portfolio.pk])
    page = web.get(url)
    assert page.status_code == 200 and b"No limits set on this portfolio" in page.content
    assert url.encode() in web.get(reverse("web:positions", args=[portfolio.pk])).content  # a portfolio tab

    new_url = reverse("web:limit_new", args=[portfolio.pk])
    ok = web.post(new_url, {"metric": "gross_leverage", "warning_level": "1.5", "hard_level": "2", "is_active": "on"})
    assert ok.status_code == 302 and ok["Location"] == url
    limit = RiskLimit.objects.get(portfolio=portfolio)
    assert (limit.metric, limit.warning_level, limit.hard_level, limit.is_active) == ("gross_leverage", 1.5, 2.0, True)
    listed = web.get(url).content.decode()
    assert 'data-limit="gross_leverage"' in listed and "not evaluated yet" in listed

    # The API's rules, each error under its field; nothing stored.
    cases = [
        ({"metric": "nonsense", "hard_level": "1"}, "metric", "is not one of the available choices"),
        ({"metric": "var_99_pct_equity", "hard_level": "abc"}, "hard_level", "A valid number is required."),
        ({"metric": "var_99_pct_equity", "warning_level": "0.2", "hard_level": "0.1"}, "warning_level", ""),
        ({"metric": "factor_beta", "hard_level": "1"}, "factor", "needs a factor"),
        ({"metric": "gross_leverage", "underlying": "NVDA", "hard_level": "3"}, "underlying", "only an underlying"),
        ({"metric": "gross_leverage", "hard_level": "3"}, None, "already has a limit on that figure"),
    ]
    for data, field, text in cases:
        html = web.post(new_url, data).content.decode()
        if field is not None:
            block = re.search(rf'<div class="field has-error">\s*<label for="id_{field}">.*?</div>', html, re.S)
            assert block is not None and text in block.group(0), (data, html[:0])
        else:
            assert 'class="alert alert-error"' in html and text in html
    assert RiskLimit.objects.count() == 1

    edit_url = reverse("web:limit_edit", args=[limit.pk])
    assert b'value="1.5"' in web.get(edit_url).content
    refused = web.post(edit_url, {"metric": "gross_leverage", "warning_level": "3", "hard_level": "2"})
    assert refused.status_code == 200 and b"has-error" in refused.content
    limit.refresh_from_db()
    assert limit.warning_level == 1.5
    saved = web.post(edit_url, {"metric": "gross_leverage", "warning_level": "1.8", "hard_level": "2.5", "note": "IC"})
    assert saved.status_code == 302
    limit.refresh_from_db()
    assert (limit.warning_level, limit.hard_level, limit.note, limit.is_active) == (1.8, 2.5, "IC", False)

    delete_url = reverse("web:limit_delete", args=[limit.pk])
    assert b'id="limit-delete-form"' in web.get(delete_url).content and RiskLimit.objects.exists()
    assert web.post(delete_url).status_code == 302 and not RiskLimit.objects.exists()


def test_limits_page_shows_the_stored_status_and_acknowledges_alerts(web: Client, portfolio: Portfolio) -> None:
    limit = RiskLimit.objects.create(portfolio=portfolio, metric="gross_leverage", warning_level=1.0, hard_level=1.2)
    as_of = dt.date(2026, 6, 1)
    PortfolioResult.objects.create(
        portfolio=portfolio,
        kind="limits",
        as_of=as_of,
        method="limits v1",
        data_source="simulated",
        payload={
            "status": "BREACH", "breaches": 1, "warnings": 0, "no_data": 0,
            "limits": [{
                "limit_id": str(limit.pk), "metric": "gross_leverage", "label": "Gross leverage", "factor": "",
                "underlying": "", "subject": "", "unit": "ratio", "value": 1.3127, "warning_level": 1.0,
                "hard_level": 1.2, "lower_warning": None, "lower_hard": None, "status": "BREACH",
                "previous_status": "OK",
            }],
        },
    )  # fmt: skip
    alert = Alert.objects.create(
        portfolio=portfolio, limit=limit, limit_label="Gross leverage", as_of=as_of, event="breach",
        status="BREACH", previous_status="OK", value=1.3127, hard_level=1.2, message="Gross leverage 1.3127 > 1.2",
    )  # fmt: skip
    url = reverse("web:limits", args=[portfolio.pk])
    html = web.get(url).content.decode()
    row = re.search(rf'<tr data-limit-id="{limit.pk}".*?</tr>', html, re.S)
    assert row is not None and "1.3127" in row.group(0) and "limit-breach" in row.group(0) and "ratio" in row.group(0)
    assert "1 unacknowledged" in html and f'data-alert="{alert.pk}"' in html
    done = web.post(reverse("web:alert_acknowledge", args=[alert.pk]), {"note": "cut gross", "next": f"{url}#alerts"})
    assert done.status_code == 302 and done["Location"] == f"{url}#alerts"
    alert.refresh_from_db()
    assert alert.acknowledgement_note == "cut gross" and alert.acknowledged_at is not None
    html = web.get(url).content.decode()
    assert "0 unacknowledged" in html and "cut gross" in html


def test_another_users_limits_and_settings_are_404(stranger: Client, portfolio: Portfolio) -> None:
    limit = RiskLimit.objects.create(portfolio=portfolio, metric="gross_leverage", hard_level=2.0)
    for url in (
        reverse("web:limits", args=[portfolio.pk]),
        reverse("web:limit_new", args=[portfolio.pk]),
        reverse("web:limit_edit", args=[limit.pk]),
        reverse("web:limit_delete", args=[limit.pk]),
        reverse("web:settings", args=[portfolio.pk]),
        reverse("web:limit_edit", args=["not-a-uuid"]),
    ):
        assert stranger.get(url).status_code == 404, url
        assert stranger.post(url, {"metric": "gross_leverage", "hard_level": "9", "name": "x"}).status_code == 404
    limit.refresh_from_db()
    assert limit.hard_level == 2.0 and RiskLimit.objects.count() == 1
    portfolio.refresh_from_db()
    assert portfolio.name == "Owner book"


# --- portfolio settings -------------------------------------------------------------------------


def test_portfolio_settings_edit_with_the_apis_validation(web: Client, owner: User, portfolio: Portfolio) -> None:
    Portfolio.objects.create(user=owner, name="Taken")
    url = reverse("web:settings", args=[portfolio.pk])
    page = web.get(url)
    assert page.status_code == 200 and b'value="Owner book"' in page.content and b'value="100000"' in page.content
    good = {"name": "Renamed", "description": "Core", "equity_balance": "250000.50", "benchmark_symbol": "spy"}
    bad_cases = [
        ({**good, "name": "Taken"}, "name", "already have a portfolio named"),
        ({**good, "name": ""}, "name", "may not be blank"),
        ({**good, "equity_balance": "-5"}, "equity_balance", "greater than or equal to 0"),
        ({**good, "equity_balance": "lots"}, "equity_balance", "A valid number is required."),
        ({**good, "benchmark_symbol": "ZZZQ"}, "benchmark_symbol", "No prices are stored for 'ZZZQ'"),
    ]
    for data, field, text in bad_cases:
        html = web.post(url, data).content.decode()
        block = re.search(rf'<div class="field has-error">\s*<label for="id_{field}">.*?</div>', html, re.S)
        assert block is not None and text in unescape(block.group(0)), (field, text)
    portfolio.refresh_from_db()
    assert portfolio.name == "Owner book" and portfolio.equity_balance == Decimal("100000")
    assert web.post(url, good).status_code == 302
    portfolio.refresh_from_db()
    assert (portfolio.name, portfolio.description, portfolio.equity_balance, portfolio.benchmark_symbol) == (
        "Renamed", "Core", Decimal("250000.50"), "SPY",
    )  # fmt: skip
    cleared = web.post(url, {**good, "equity_balance": ""})
    assert cleared.status_code == 302
    portfolio.refresh_from_db()
    assert portfolio.equity_balance is None

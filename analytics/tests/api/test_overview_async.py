"""The async overview view: its fast path answers exactly what OverviewView answers, hands every other
case to it, and its cache of rendered answers never outlives a change in the database."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from analytics.api import views
from analytics.models import PortfolioResult, PortfolioSnapshot, ResultKind
from core import auth
from core.testing import FIXTURE_PASSWORDS, assert_error, login
from portfolios.models import Portfolio, User

AS_OF = dt.date(2026, 11, 20)


def overview_url(portfolio_id: object) -> str:
    return f"/api/v1/analytics/portfolios/{portfolio_id}/overview"


def store_overview(portfolio: Portfolio, *, as_of: dt.date = AS_OF, market_value: float = 60_000.0) -> None:
    """A computed overview and the snapshot of its day, as the batch stores them."""
    PortfolioResult.objects.update_or_create(
        portfolio=portfolio,
        kind=ResultKind.OVERVIEW,
        as_of=as_of,
        defaults={
            "method": "aggregation",
            "data_source": "simulated",
            "inputs": {"prices_as_of": as_of.isoformat()},
            "payload": {
                "market_value": market_value,
                "equity_balance": 100_000.0,
                "long_exposure": 80_000.0,
                "short_exposure": -20_000.0,
                "gross_exposure": 100_000.0,
                "net_exposure": 60_000.0,
                "delta_adjusted_exposure": 58_000.0,
                "options_exposure": 5_000.0,
                "stock_exposure": 95_000.0,
                "cash": 40_000.0,
                "leverage": 1.0,
                "unrealised_pnl": 1_234.5,
                "position_count": 3,
                "counts_by_type": {"LONG": 2, "SHORT": 1},
                "missing_prices": [],
                "expired_options": [],
            },
        },
    )
    PortfolioSnapshot.objects.update_or_create(
        portfolio=portfolio,
        as_of=as_of,
        defaults={
            "method": "aggregation",
            "data_source": "simulated",
            "total_value": market_value,
            "long_exposure": 80_000.0,
            "short_exposure": -20_000.0,
            "gross_exposure": 100_000.0,
            "net_exposure": 60_000.0,
            "daily_pnl": 321.0,
            "daily_return": 0.0032,
            "cumulative_pnl": 1_500.0,
            "position_count": 3,
        },
    )


def token_of(user: User) -> str:
    return login(user.email, FIXTURE_PASSWORDS[user.email])["access_token"]


def async_get(path: str, *, token: str | None = None, **extra: str):
    """GET through Django's ASGI request path (the async handler, as under daphne)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return async_to_sync(AsyncClient().get)(path, headers={**headers, **extra})


@pytest.fixture
def no_drf_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fast path handed this request to OverviewView")

    monkeypatch.setattr(views, "_overview_drf_view", refuse)


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    auth.verified_tokens.clear()
    yield
    auth.verified_tokens.clear()


def comparable_headers(response) -> dict[str, str]:
    return dict(response.headers.items())


def test_the_fast_path_answers_the_same_bytes_and_headers_as_the_drf_view(
    owner, portfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_overview(portfolio)
    token = token_of(owner)
    for query in ("", "?as_of=2026-11-21"):
        fast = async_get(overview_url(portfolio.pk) + query, token=token)
        monkeypatch.setattr(views, "_OVERVIEW_FAST_PATH", False)
        slow = async_get(overview_url(portfolio.pk) + query, token=token)
        sync = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get(overview_url(portfolio.pk) + query)
        monkeypatch.setattr(views, "_OVERVIEW_FAST_PATH", True)

        assert fast.status_code == slow.status_code == sync.status_code == 200
        assert fast.content == slow.content == sync.content
        assert comparable_headers(fast) == comparable_headers(slow) == comparable_headers(sync)
    body = json.loads(fast.content)
    assert body["portfolio"]["id"] == str(portfolio.pk)
    assert body["value"] == 60_000.0
    assert body["pnl"]["daily"] == 321.0
    assert body["provenance"]["as_of"] == AS_OF.isoformat()


def test_a_plain_authenticated_get_never_reaches_the_drf_view(owner, portfolio, no_drf_fallback) -> None:
    store_overview(portfolio)
    token = token_of(owner)

    assert async_get(overview_url(portfolio.pk), token=token).status_code == 200
    assert async_get(overview_url(portfolio.pk), token=token, Accept="application/json").status_code == 200
    assert async_get(overview_url(portfolio.pk) + "?as_of=2026-11-20", token=token).status_code == 200


def test_errors_come_from_the_drf_view_in_the_api_error_format(owner, other_user, portfolio) -> None:
    store_overview(portfolio)
    token = token_of(owner)

    unauthenticated = async_get(overview_url(portfolio.pk))
    assert_error(unauthenticated, 401, "not_authenticated")
    assert unauthenticated["WWW-Authenticate"] == 'Bearer realm="api"'
    assert_error(async_get(overview_url(portfolio.pk), token="not.a.token"), 401)
    assert_error(async_get(overview_url(portfolio.pk), token=token_of(other_user)), 404, "not_found")
    assert_error(async_get(overview_url(uuid.uuid4()), token=token), 404, "not_found")
    assert_error(async_get(overview_url(portfolio.pk) + "?as_of=yesterday", token=token), 400)
    before = async_get(overview_url(portfolio.pk) + "?as_of=2020-01-01", token=token)
    assert_error(before, 404, "not_computed")
    post = async_to_sync(AsyncClient().post)(overview_url(portfolio.pk), headers={"Authorization": f"Bearer {token}"})
    assert_error(post, 405)

    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert_error(async_get(overview_url(portfolio.pk), token=token), 401)


def test_a_browser_still_gets_the_browsable_api(owner, portfolio) -> None:
    store_overview(portfolio)

    response = async_get(overview_url(portfolio.pk), token=token_of(owner), Accept="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_the_access_log_names_the_caller_of_the_fast_path(owner, portfolio, no_drf_fallback) -> None:
    store_overview(portfolio)
    token = token_of(owner)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logger = logging.getLogger("sigmasight.access")
    logger.addHandler(handler)
    try:
        async_get(overview_url(portfolio.pk), token=token)
    finally:
        logger.removeHandler(handler)

    assert len(lines) == 1
    assert lines[0].startswith(f"GET {overview_url(portfolio.pk)} 200 ")
    assert lines[0].endswith(f"user={owner.pk}")


def test_an_expired_token_is_refused_even_after_it_was_verified_once(owner, portfolio) -> None:
    store_overview(portfolio)
    access = AccessToken.for_user(owner)
    access.set_exp(lifetime=dt.timedelta(seconds=1))
    token = str(access)
    assert async_get(overview_url(portfolio.pk), token=token).status_code == 200  # verified and remembered

    time.sleep(1.1)

    assert_error(async_get(overview_url(portfolio.pk), token=token), 401)


def test_the_schema_still_documents_the_overview_of_overviewview() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/analytics/portfolios/{portfolio_id}/overview"]["get"]

    assert operation["operationId"] == "analytics_overview"
    assert "200" in operation["responses"]


def test_the_fast_path_is_on_only_while_overviewview_has_no_throttle_or_extra_permission() -> None:
    # If OverviewView gains a throttle or a permission, the fast path must turn itself off (and this
    # test says so) rather than bypass it.
    assert views._OVERVIEW_FAST_PATH


# --- the cache of rendered answers (no enclosing transaction: it is off inside one) -----------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_repeated_overview_costs_one_query_and_any_write_invalidates_it(
    owner, portfolio, django_assert_num_queries
) -> None:
    store_overview(portfolio)
    token = token_of(owner)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = overview_url(portfolio.pk)

    first = client.get(url)
    with django_assert_num_queries(1):  # the database's change counter only
        again = client.get(url)
    assert again.content == first.content

    # a new batch result is visible at once
    store_overview(portfolio, market_value=61_000.0)
    assert client.get(url).json()["value"] == 61_000.0

    # so is a renamed portfolio
    Portfolio.objects.filter(pk=portfolio.pk).update(name="Renamed book", equity_balance=Decimal("1"))
    assert client.get(url).json()["portfolio"]["name"] == "Renamed book"

    # and a deactivated user is refused at once
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert_error(client.get(url), 401)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_cache_never_answers_one_users_portfolio_to_another(owner, other_user, portfolio) -> None:
    store_overview(portfolio)
    owner_client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token_of(owner)}")
    other_client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token_of(other_user)}")

    assert owner_client.get(overview_url(portfolio.pk)).status_code == 200
    assert_error(other_client.get(overview_url(portfolio.pk)), 404, "not_found")
    assert owner_client.get(overview_url(portfolio.pk)).status_code == 200

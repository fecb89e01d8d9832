"""The read endpoints' response cache and the database's change counter (``core.response_cache``,
``core.datachange``), over real commits (``transaction=True``): a hit is the view's answer byte for byte
without running the view, and a committed write through every path — ``save()``, the API, ``update``,
``delete``, ``bulk_create``, raw SQL, another connection (another process), COPY on PostgreSQL — makes
the next request miss and answer the new data."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.datachange import data_version, is_watched_write
from core.testing import assert_error, bearer_client
from portfolios.models import Portfolio, User
from portfolios.services import position_create

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def client(owner: User, portfolio: Portfolio) -> APIClient:
    return bearer_client("owner@example.com")


def detail_url(portfolio: Portfolio) -> str:
    return f"/api/v1/data/portfolios/{portfolio.pk}"


def _ok(client: APIClient, url: str, **extra: str) -> Any:
    response = client.get(url, **extra)
    assert response.status_code == 200, response.content[:300]
    return response


def _view_queries(client: APIClient, url: str) -> list[str]:
    """The SQL one GET ran, the authentication's user lookup and the counter's read left out."""
    with CaptureQueriesContext(connection) as captured:
        _ok(client, url)
    return [
        q["sql"]
        for q in captured.captured_queries
        if "sigmasight_data_change" not in q["sql"] and 'FROM "portfolios_user"' not in q["sql"]
    ]


def test_a_hit_is_the_views_answer_byte_for_byte_without_running_the_view(client, portfolio, settings) -> None:
    url = f"/api/v1/data/portfolios/{portfolio.pk}/positions"
    position_create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=10, entry_price=100, entry_date="2024-01-02"
    )
    first = _ok(client, url)
    assert _view_queries(client, url) == []  # served from the cache: no portfolio, position or price query
    second = _ok(client, url)
    settings.RESPONSE_CACHE_SECONDS = 0  # the cache off: the view itself
    assert _view_queries(client, url) != []
    uncached = _ok(client, url)
    for response in (second, uncached):
        assert response.content == first.content
        assert dict(response.items()) == dict(first.items())
    assert first.json()["count"] == 1


WRITES: dict[str, Callable[[Portfolio], None]] = {}


def write(name: str) -> Callable[[Callable[[Portfolio], None]], Callable[[Portfolio], None]]:
    def register(function: Callable[[Portfolio], None]) -> Callable[[Portfolio], None]:
        WRITES[name] = function
        return function

    return register


@write("save")
def _save(portfolio: Portfolio) -> None:
    portfolio.name = "Renamed"
    portfolio.save(update_fields=["name"])


@write("queryset update")
def _update(portfolio: Portfolio) -> None:
    Portfolio.objects.filter(pk=portfolio.pk).update(name="Renamed")


@write("raw SQL")
def _raw(portfolio: Portfolio) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portfolios_portfolio SET name = %s WHERE id = %s", ["Renamed", portfolio.pk.hex])


@write("inside a transaction")
def _atomic(portfolio: Portfolio) -> None:
    with transaction.atomic():
        Portfolio.objects.filter(pk=portfolio.pk).update(name="Renamed")
        Portfolio.objects.filter(pk=portfolio.pk).update(description="twice in one transaction")


@write("another connection")
def _other_connection(portfolio: Portfolio) -> None:
    """Another thread has its own connection: the stand-in for another process (a daphne, the worker)."""

    def run() -> None:
        try:
            Portfolio.objects.filter(pk=portfolio.pk).update(name="Renamed")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@pytest.mark.parametrize("path", sorted(WRITES))
def test_a_committed_write_through_any_path_is_served_at_once(client, portfolio, path) -> None:
    url = detail_url(portfolio)
    assert _ok(client, url).json()["name"] == "Owner book"
    assert _view_queries(client, url) == []  # cached
    WRITES[path](portfolio)
    assert _ok(client, url).json()["name"] == "Renamed"


def test_bulk_create_and_delete_are_served_at_once(client, owner, portfolio) -> None:
    url = "/api/v1/data/portfolios"
    assert _ok(client, url).json()["count"] == 1
    Portfolio.objects.bulk_create([Portfolio(user=owner, name="Second"), Portfolio(user=owner, name="Third")])
    assert _ok(client, url).json()["count"] == 3
    assert _view_queries(client, url) == []
    Portfolio.objects.filter(name__in=["Second", "Third"]).delete()
    assert _ok(client, url).json()["count"] == 1


def test_a_write_through_the_api_is_served_at_once(client, portfolio) -> None:
    url = detail_url(portfolio)
    _ok(client, url)
    response = client.patch(url, {"name": "Through the API"}, format="json")
    assert response.status_code == 200
    assert _ok(client, url).json()["name"] == "Through the API"


def test_the_counter_moves_after_commit_and_not_for_a_rollback(portfolio) -> None:
    before = data_version()
    assert before is not None
    with transaction.atomic():
        Portfolio.objects.filter(pk=portfolio.pk).update(name="Inside")
        assert data_version() is None  # inside a transaction: cannot be used
        with connections["default"].cursor():
            pass
    after = data_version()
    assert after is not None and after != before
    with pytest.raises(RuntimeError), transaction.atomic():
        Portfolio.objects.filter(pk=portfolio.pk).update(name="Rolled back")
        raise RuntimeError
    assert data_version() == after  # nothing committed, nothing moved
    Portfolio.objects.filter(pk=portfolio.pk).values_list("name").first()  # a read moves nothing either
    assert data_version() == after


def _counter_reads(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "sigmasight_data_change" in q["sql"]]


def test_a_bearer_request_reads_the_counter_once_in_the_authentications_statement(client, portfolio) -> None:
    url = detail_url(portfolio)
    for _ in range(2):  # a miss (the view runs), then a hit
        with CaptureQueriesContext(connection) as captured:
            _ok(client, url)
        reads = _counter_reads(captured)
        assert len(reads) == 1 and "portfolios_user" in reads[0], reads
    assert len(captured.captured_queries) == 1  # the hit: that statement and nothing else


def test_a_session_request_reads_the_counter_on_its_own(owner, portfolio) -> None:
    session = APIClient()
    session.force_login(owner)
    url = detail_url(portfolio)
    with CaptureQueriesContext(connection) as captured:
        first = _ok(session, url)
    reads = _counter_reads(captured)
    assert len(reads) == 1 and "portfolios_user" not in reads[0], reads
    with CaptureQueriesContext(connection) as captured:
        assert _ok(session, url).content == first.content
    assert len(_counter_reads(captured)) == 1
    assert not any("portfolios_portfolio" in q["sql"] for q in captured.captured_queries)  # cached: no view


def test_the_authentications_counter_keeps_data_versions_rules(owner, portfolio) -> None:
    """The counter read with the user: the same value as ``data_version()``; None inside a transaction and
    without the counter's row (then nothing is cached)."""
    from rest_framework_simplejwt.tokens import AccessToken

    from core.authentication import JWTAuthentication

    token = AccessToken.for_user(owner)
    authentication = JWTAuthentication()
    assert authentication.get_user(token) == owner
    assert authentication.data_version is not None and authentication.data_version == data_version()
    assert not hasattr(owner, "sigmasight_data_version") and "sigmasight_data_version" not in vars(
        authentication.get_user(token)
    )
    with transaction.atomic():
        assert authentication.get_user(token) == owner and authentication.data_version is None
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sigmasight_data_change")
    assert authentication.get_user(token) == owner and authentication.data_version is None


def test_a_bearer_request_inside_a_transaction_is_not_cached(client, portfolio) -> None:
    url = detail_url(portfolio)
    with transaction.atomic():
        _ok(client, url)
        assert _view_queries(client, url) != []  # the view ran again: nothing was cached
    _ok(client, url)
    assert _view_queries(client, url) == []  # outside: cached


def test_another_users_request_never_gets_the_cached_answer(client, portfolio, other_user) -> None:
    url = detail_url(portfolio)
    _ok(client, url)
    assert_error(bearer_client("other@example.com").get(url), 404, "not_found")


def test_a_deactivated_user_is_refused_although_an_answer_is_cached(client, owner, portfolio) -> None:
    url = detail_url(portfolio)
    _ok(client, url)
    with connection.cursor() as cursor:  # behind the counter's back: authentication still runs on a hit
        cursor.execute("SELECT value FROM sigmasight_data_change")
        (value,) = cursor.fetchone()
        User.objects.filter(pk=owner.pk).update(is_active=False)
        cursor.execute("UPDATE sigmasight_data_change SET value = %s", [value])
    assert client.get(url).status_code == 401


def test_the_browsable_api_and_errors_are_not_cached(client, portfolio) -> None:
    url = detail_url(portfolio)
    html = client.get(url, HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    with CaptureQueriesContext(connection) as captured:
        client.get(url, HTTP_ACCEPT="text/html")
    assert any("portfolios_portfolio" in q["sql"] for q in captured.captured_queries)
    missing = "/api/v1/data/portfolios/00000000-0000-0000-0000-000000000000"
    assert_error(client.get(missing), 404, "not_found")
    with CaptureQueriesContext(connection) as captured:
        assert_error(client.get(missing), 404, "not_found")
    assert any("portfolios_portfolio" in q["sql"] for q in captured.captured_queries)


def test_which_statements_count_as_writes() -> None:
    assert is_watched_write('UPDATE "portfolios_portfolio" SET "name" = %s')
    assert is_watched_write("insert into analytics_portfolioresult (id) values (1)")
    assert is_watched_write('DELETE FROM "marketdata_pricebar" WHERE "symbol" = %s')
    assert is_watched_write("  TRUNCATE portfolios_position")
    assert not is_watched_write('SELECT * FROM "portfolios_portfolio" FOR UPDATE')
    assert not is_watched_write('UPDATE "django_session" SET "session_data" = %s')  # not served data
    assert not is_watched_write("INSERT INTO sigmasight_data_change (id, value) VALUES (1, 1)")
    assert not is_watched_write('INSERT INTO "django_q_ormq" ("key") VALUES (%s)')


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_copy_writes_of_the_batch_and_the_price_sync_are_served_at_once(client, portfolio) -> None:
    """The paths that bypass Django's execute wrappers: the batch's COPY (analytics.services.persist) and
    the price sync's binary COPY (marketdata.services)."""
    from analytics.models import PortfolioResult
    from analytics.services import persist
    from marketdata.providers.base import Bar
    from marketdata.services import bars_upsert

    # prices: the positions endpoint values the stock at the latest close
    position_create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=10, entry_price=100, entry_date="2024-01-02"
    )
    url = f"/api/v1/data/portfolios/{portfolio.pk}/positions"
    assert _ok(client, url).json()["results"][0]["price"] is None
    day = timezone.localdate() - dt.timedelta(days=1)
    bars_upsert(bars=[Bar("AAPL", day, 120.0, 121.0, 119.0, 120.5, 120.5, 1000)], source="simulated")
    assert _ok(client, url).json()["results"][0]["price"] == 120.5

    # results: COPY straight into the table (COPY_THRESHOLD rows, a new day), then through the staging merge
    url = f"/api/v1/analytics/portfolios/{portfolio.pk}/correlations"
    other = Portfolio.objects.create(user=portfolio.user, name="Other")

    def rows(value: int, as_of: dt.date) -> list[PortfolioResult]:
        return [
            PortfolioResult(
                portfolio=p,
                kind="correlations",
                as_of=as_of,
                method="m",
                data_source="simulated",
                payload={"value": value},
            )
            for p in (portfolio, other)
        ]

    assert len(rows(1, day)) >= persist.COPY_THRESHOLD
    PortfolioResult.objects.bulk_create(rows(0, day - dt.timedelta(days=1)))
    assert _ok(client, url).json()["data"] == {"value": 0}
    assert _view_queries(client, url) == []  # cached
    persist.portfolio_results_upsert(rows=rows(1, day))  # no row of that day yet: the direct COPY
    assert _ok(client, url).json()["data"] == {"value": 1}
    persist.portfolio_results_upsert(rows=rows(2, day))  # a rerun: the rows exist, the staging path
    assert _ok(client, url).json()["data"] == {"value": 2}

"""The response cache's ASGI front (``core.response_front``), through the served application
(``sigmasight.asgi.application``) over real commits: a front hit is Django's answer byte for byte and runs
no view; a committed write, a deactivated user, a bad or expired token, another user, another ``Accept``,
a POST, a session cookie and the cache switched off all reach Django, which answers as it always does.
A live daphne test checks the same over real HTTP on SQLite and (with ``DATABASE_URL=postgres://…``)
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.signals import connection_created
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from core.response_cache import front_inputs
from core.response_front import PER_REQUEST_HEADERS, FrontThreads, answer_storable
from core.testing import FIXTURE_PASSWORDS, logged_messages, login
from portfolios.models import Portfolio, User
from portfolios.services import position_create

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms user=(?P<user>\S+)"
    r"(?: cache=(?P<cache>\w+))?$"
)


# --- the served application, in process ---------------------------------------------------------


class Answer:
    """One answer of the ASGI application: status, headers as sent, body, and how the access log saw it."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, line: str) -> None:
        self.status, self.headers, self.body, self.line = status, headers, body, line
        match = LINE.match(line)
        assert match, line
        self.cache = match["cache"]

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    import sigmasight.asgi  # noqa: F401  (its first import sets Django up again, which resets the loggers)

    with logged_messages("sigmasight.access") as lines:
        yield lines


@pytest.fixture
def served(access_lines: list[str]) -> Iterator[Any]:
    """``served(method, path, headers=..., body=...)``: one request through ``sigmasight.asgi.application``."""
    from sigmasight.asgi import application, front_app, http_app

    http_app.close()  # fresh pooled threads: their connections are made (and watched) by this test
    # One front thread (two in production), so that a test knows which connection a front hit uses: of two, which
    # takes a call is the executor's choice.
    configured, front_app.threads = front_app.threads, FrontThreads(1)

    async def call(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        query = b""
        if "?" in path:
            path, raw = path.split("?", 1)
            query = raw.encode()
        scope = {
            "type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query, "headers": headers, "scheme": "http", "http_version": "1.1",
            "server": ("testserver", 80), "client": ("127.0.0.1", 50000),
        }  # fmt: skip
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": body})
        start = await communicator.receive_output(10)
        chunks = []
        while True:
            message = await communicator.receive_output(10)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await communicator.wait(10)
        return Answer(start["status"], list(start["headers"]), b"".join(chunks), access_lines[-1])

    def request(
        method: str, path: str, *, token: str | None = None, headers: dict[str, str] | None = None, body: Any = None
    ) -> Answer:
        raw = [(b"host", b"testserver")]
        if token is not None:
            raw.append((b"authorization", f"Bearer {token}".encode()))
        for name, value in (headers or {}).items():
            raw.append((name.lower().encode(), value.encode()))
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            raw += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        count = len(access_lines)
        answer = asyncio.run(call(method, path, raw, data))
        assert len(access_lines) == count + 1, access_lines[count:]  # exactly one access line per request
        return answer

    yield request
    http_app.close()  # the test database cannot be dropped while a pooled thread holds a connection
    front_app.threads = configured


@pytest.fixture
def token(owner: User) -> str:
    return str(login(owner.email, FIXTURE_PASSWORDS[owner.email])["access_token"])


@pytest.fixture
def sql_seen() -> Iterator[list[str]]:
    """Every SQL statement run on any connection opened from now on, whatever its thread."""
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    def watch(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.execute_wrappers.append(record)

    connection_created.connect(watch)
    yield statements
    connection_created.disconnect(watch)


@dataclass
class ServerLog:
    """What reached the database server: statements and connections opened (see ``server_log``)."""

    statements: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    """Every statement sent to the database server on any connection opened from now on (whatever its
    thread), seen below Django's cursor wrappers: on PostgreSQL at psycopg's cursors (so Django's health
    check, ``is_usable()``'s ``SELECT 1`` on the raw connection, is seen too), on SQLite by its trace
    callback. A connection's own set-up, before ``connection_created``, is not in it (its opening is)."""
    log = ServerLog()

    def watch(sender: Any, connection: Any, **kwargs: Any) -> None:
        log.connections.append(connection.alias)
        raw = connection.connection
        if connection.vendor != "postgresql":
            raw.set_trace_callback(log.statements.append)
            return

        class Counted(raw.cursor_factory):  # type: ignore[name-defined]
            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                log.statements.append(query if isinstance(query, str) else repr(query))
                return super().execute(query, *args, **kwargs)

            def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                log.statements.append(query if isinstance(query, str) else repr(query))
                return super().executemany(query, *args, **kwargs)

        raw.cursor_factory = Counted

    connection_created.connect(watch)
    yield log
    connection_created.disconnect(watch)


def positions_url(portfolio: Portfolio) -> str:
    return f"/api/v1/data/portfolios/{portfolio.pk}/positions"


def detail_url(portfolio: Portfolio) -> str:
    return f"/api/v1/data/portfolios/{portfolio.pk}"


def _cached(served: Any, url: str, **kwargs: Any) -> Answer:
    """Ask until the front answers (the first request goes through Django, which records its answer)."""
    first = served("GET", url, **kwargs)
    assert first.status == 200, first.body[:300]
    second = served("GET", url, **kwargs)
    assert second.cache == "front", second.line
    return second


def _stable_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in answer.headers if name.lower() not in PER_REQUEST_HEADERS]


# --- what a front hit is ------------------------------------------------------------------------


def test_a_front_hit_is_djangos_answer_byte_for_byte_and_runs_no_view(
    served, token, portfolio, settings, sql_seen
) -> None:
    position_create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=10, entry_price=100, entry_date="2024-01-02"
    )
    url = positions_url(portfolio) + "?page_size=10"
    django = served("GET", url, token=token)
    assert django.status == 200 and django.cache is None
    del sql_seen[:]
    front = served("GET", url, token=token)

    assert front.cache == "front"
    assert front.status == django.status
    assert front.body == django.body
    assert front.headers == django.headers  # every header, in order (Django's answers carry no per-request one)
    # no view ran: the authentication's user lookup, which reads the counter too, and nothing else
    assert len(sql_seen) == 1, sql_seen
    assert "portfolios_user" in sql_seen[0] and "sigmasight_data_change" in sql_seen[0]

    settings.RESPONSE_CACHE_SECONDS = 0  # no cache at all: the view itself
    uncached = served("GET", url, token=token)
    assert uncached.cache is None
    assert (uncached.status, uncached.headers, uncached.body) == (front.status, front.headers, front.body)
    assert front.json()["count"] == 1


def test_the_access_log_records_a_front_hit_like_djangos_line_with_its_user(served, token, owner, portfolio) -> None:
    django = served("GET", detail_url(portfolio), token=token)
    front = served("GET", detail_url(portfolio), token=token)

    for answer in (django, front):
        match = LINE.match(answer.line)
        assert match and match["method"] == "GET" and match["path"] == detail_url(portfolio)
        assert match["status"] == "200" and match["user"] == str(owner.pk)
    assert (django.cache, front.cache) == (None, "front")


def test_a_front_hit_sends_one_statement_to_the_database_health_check_included(
    served, token, portfolio, server_log
) -> None:
    """The user's row and the change counter in one SELECT, and no ``SELECT 1`` before it: Django's health
    check of the open persistent connection is that statement (PostgreSQL: three round trips before)."""
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] and connection.settings_dict["CONN_MAX_AGE"] > 0
    url = detail_url(portfolio)
    _cached(served, url, token=token)
    opened = len(server_log.connections)
    del server_log.statements[:]
    front = served("GET", url, token=token)

    assert front.cache == "front" and front.status == 200
    assert len(server_log.connections) == opened  # on the connection an earlier request left open (checked)
    assert len(server_log.statements) == 1, server_log.statements
    assert "portfolios_user" in server_log.statements[0] and "sigmasight_data_change" in server_log.statements[0]


def test_the_front_looks_up_on_its_own_threads_and_django_answers_on_the_request_threads(
    served, token, portfolio
) -> None:
    """A front hit runs on one of the front's threads (``response-front``), a request Django answers on a pooled
    request thread (``request-``), each bracketed by Django's request signals on that thread."""
    threads: list[str] = []

    def started(**kwargs: Any) -> None:
        threads.append(threading.current_thread().name)

    signals.request_started.connect(started)
    try:
        django = served("GET", detail_url(portfolio), token=token)
        front = served("GET", detail_url(portfolio), token=token)
    finally:
        signals.request_started.disconnect(started)
    assert (django.cache, front.cache) == (None, "front")
    assert len(threads) == 2, threads
    assert threads[0].startswith("request-") and threads[1].startswith("response-front"), threads


def test_front_threads_are_bounded_queue_their_calls_and_close_every_connection() -> None:
    """At most ``size`` threads however many calls wait; ``close()`` closes each thread's database connection
    (a test database cannot be dropped while one is open) and the next call starts new threads."""
    threads = FrontThreads(2)

    def on_a_front_thread() -> tuple[str, Any]:
        wrapper = connections[DEFAULT_DB_ALIAS]
        wrapper.ensure_connection()
        time.sleep(0.02)  # held, so that the other calls queue or start the second thread
        return threading.current_thread().name, wrapper

    async def calls(count: int) -> list[tuple[str, Any]]:
        return list(await asyncio.gather(*(threads.run(on_a_front_thread) for _ in range(count))))

    ran = asyncio.run(calls(8))
    names = {name for name, _ in ran}
    wrappers = list({id(wrapper): wrapper for _, wrapper in ran}.values())
    assert len(names) == 2 and all(name.startswith("response-front") for name in names), names
    assert len(wrappers) == 2 and all(wrapper.connection is not None for wrapper in wrappers)

    threads.close()
    assert all(wrapper.connection is None for wrapper in wrappers if closable(wrapper))
    again = asyncio.run(calls(1))
    assert again[0][1] not in wrappers  # a new thread, with a connection of its own
    threads.close()
    assert again[0][1].connection is None or not closable(again[0][1])


def closable(wrapper: Any) -> bool:
    """Whether Django closes this connection when asked (not SQLite's in-memory test database, which closing
    would destroy: Django keeps it open)."""
    return not getattr(wrapper, "is_in_memory_db", lambda: False)()


def _terminate_other_backends() -> int:
    """End every other server process on this database (the pooled threads' connections), as a restart or
    an administrator would, and wait until they are gone; how many there were."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
        for _ in range(100):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s::int[])", [pids])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"backends {pids} still there")
    return len(pids)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_terminated_connection_fails_the_front_lookup_and_django_answers_on_a_new_one(
    served, token, portfolio, server_log
) -> None:
    url = detail_url(portfolio)
    cached = _cached(served, url, token=token)
    assert _terminate_other_backends() >= 1
    opened = len(server_log.connections)

    answer = served("GET", url, token=token)  # the front's statement meets the dead connection: Django answers
    assert answer.status == 200 and answer.cache is None
    assert (answer.headers, answer.body) == (cached.headers, cached.body)
    assert len(server_log.connections) == opened + 1  # Django's request thread replaced its dead one
    again = served("GET", url, token=token)  # the front's thread closed its broken one and opens another
    assert again.cache == "front" and again.body == cached.body
    assert len(server_log.connections) == opened + 2

    # Django's own requests keep their health check: a dead connection is replaced before the first query.
    assert _terminate_other_backends() >= 1
    del server_log.statements[:]
    me = served("GET", "/api/v1/auth/me", token=token)
    assert me.status == 200 and me.json()["email"] == "owner@example.com"
    assert server_log.statements[0] == "SELECT 1", server_log.statements
    assert len(server_log.connections) == opened + 3


@pytest.mark.slow
def test_every_read_endpoint_is_served_by_the_front_as_django_answered(served, analytics_demo) -> None:
    """The portfolios, the portfolio, its positions and every registered result kind, on the demo's batch."""
    from analytics.results import registry
    from portfolios.demo import demo_portfolio_id

    email = "demo_hedgefundstyle@sigmasight.com"
    demo_token = str(login(email, "demo12345")["access_token"])
    portfolio_id = demo_portfolio_id(email)
    urls = [
        "/api/v1/data/portfolios",
        f"/api/v1/data/portfolios/{portfolio_id}",
        f"/api/v1/data/portfolios/{portfolio_id}/positions",
        *(f"/api/v1/analytics/portfolios/{portfolio_id}/{spec.name}" for spec in registry.specs()),
    ]
    for url in urls:
        django = served("GET", url, token=demo_token)
        assert django.status == 200 and django.cache is None, (url, django.body[:300])
        front = served("GET", url, token=demo_token)
        assert front.cache == "front", url
        assert (front.status, front.headers, front.body) == (django.status, django.headers, django.body), url


# --- what goes to Django ------------------------------------------------------------------------


def _write_save(portfolio: Portfolio) -> None:
    portfolio.name = "Renamed"
    portfolio.save(update_fields=["name"])


def _write_raw_sql(portfolio: Portfolio) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portfolios_portfolio SET name = %s WHERE id = %s", ["Renamed", portfolio.pk.hex])


@pytest.mark.parametrize("write", [_write_save, _write_raw_sql], ids=["save", "raw SQL"])
def test_a_committed_write_is_served_on_the_next_request(served, token, portfolio, write) -> None:
    assert _cached(served, detail_url(portfolio), token=token).json()["name"] == "Owner book"
    write(portfolio)
    after = served("GET", detail_url(portfolio), token=token)
    assert after.cache is None and after.json()["name"] == "Renamed"


def test_a_write_through_the_api_is_served_on_the_next_request(served, token, portfolio) -> None:
    _cached(served, detail_url(portfolio), token=token)
    patch = served("PATCH", detail_url(portfolio), token=token, body={"name": "Through the API"})
    assert patch.status == 200 and patch.cache is None
    assert served("GET", detail_url(portfolio), token=token).json()["name"] == "Through the API"


def test_a_batch_write_is_served_on_the_next_request(served, token, owner, portfolio) -> None:
    """The batch's writer (``persist``: COPY on PostgreSQL, which bypasses Django's execute wrappers)."""
    from analytics.models import PortfolioResult
    from analytics.services import persist

    other = Portfolio.objects.create(user=owner, name="Other")
    day = timezone.localdate() - dt.timedelta(days=1)

    def rows(value: int) -> list[PortfolioResult]:
        return [
            PortfolioResult(
                portfolio=p, kind="correlations", as_of=day, method="m", data_source="simulated", payload={"v": value}
            )
            for p in (portfolio, other)
        ]

    url = f"/api/v1/analytics/portfolios/{portfolio.pk}/correlations"
    persist.portfolio_results_upsert(rows=rows(1))
    assert _cached(served, url, token=token).json()["data"] == {"v": 1}
    persist.portfolio_results_upsert(rows=rows(2))
    assert served("GET", url, token=token).json()["data"] == {"v": 2}


def _deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _change_password(user: User) -> None:
    user.set_password("a-new-pass-2")
    user.save(update_fields=["password"])


@pytest.mark.parametrize("change", [_deactivate, _change_password], ids=["deactivated", "password changed"])
def test_a_refused_user_is_refused_although_an_answer_is_cached(served, token, owner, portfolio, change) -> None:
    _cached(served, detail_url(portfolio), token=token)
    with connection.cursor() as cursor:  # behind the counter's back: the front authenticates on every request
        cursor.execute("SELECT value FROM sigmasight_data_change")
        (value,) = cursor.fetchone()
        change(owner)
        cursor.execute("UPDATE sigmasight_data_change SET value = %s", [value])
    refused = served("GET", detail_url(portfolio), token=token)
    assert refused.status == 401 and refused.cache is None


def test_a_garbage_or_expired_token_is_refused_although_an_answer_is_cached(served, token, owner, portfolio) -> None:
    _cached(served, detail_url(portfolio), token=token)
    expired = AccessToken.for_user(owner)
    expired.set_exp(from_time=timezone.now() - dt.timedelta(hours=2), lifetime=dt.timedelta(minutes=1))
    for bad in ("garbage", token[:-4] + "AAAA", str(expired)):
        refused = served("GET", detail_url(portfolio), token=bad)
        assert refused.status == 401 and refused.cache is None, refused.body
        assert refused.json()["error"]["code"] == "token_not_valid"


def test_another_users_request_for_the_portfolio_is_a_404(served, token, portfolio, other_user) -> None:
    _cached(served, detail_url(portfolio), token=token)
    other = str(login(other_user.email, FIXTURE_PASSWORDS[other_user.email])["access_token"])
    for _ in range(2):
        answer = served("GET", detail_url(portfolio), token=other)
        assert answer.status == 404 and answer.cache is None


def test_another_accept_header_is_never_served_the_others_entry(served, token, portfolio) -> None:
    compact = _cached(served, detail_url(portfolio), token=token, headers={"Accept": "application/json"})
    indented = served("GET", detail_url(portfolio), token=token, headers={"Accept": "application/json; indent=4"})
    assert indented.cache is None and indented.body != compact.body and b"\n    " in indented.body
    again = _cached(served, detail_url(portfolio), token=token, headers={"Accept": "application/json; indent=4"})
    assert again.body == indented.body
    html = served("GET", detail_url(portfolio), token=token, headers={"Accept": "text/html"})
    assert html.status == 200 and html.cache is None and html.body.lstrip().startswith(b"<!DOCTYPE html>")
    assert served("GET", detail_url(portfolio), token=token, headers={"Accept": "text/html"}).cache is None


def test_a_post_and_a_session_request_go_to_django(served, token, owner, portfolio, client) -> None:
    url = "/api/v1/data/portfolios"
    _cached(served, url, token=token)
    created = served("POST", url, token=token, body={"name": "Posted"})
    assert created.status == 201 and created.cache is None
    client.force_login(owner)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    for headers in ({"Cookie": cookie}, {"Cookie": cookie, "Authorization": f"Bearer {token}"}):
        answer = served("GET", url, headers=headers)
        assert answer.status == 200 and answer.cache is None
        assert answer.json()["count"] == 2


def test_a_bearer_get_of_another_endpoint_goes_straight_to_django(served, token, portfolio, sql_seen) -> None:
    for _ in range(3):
        answer = served("GET", "/api/v1/auth/me", token=token)
        assert answer.status == 200 and answer.cache is None
    # no front lookup: one authentication per request (Django's), a front lookup would be a second one
    authentications = [sql for sql in sql_seen if "portfolios_user" in sql and "sigmasight_data_change" in sql]
    assert len(authentications) == 3, sql_seen


def test_switched_off_with_the_response_cache(served, token, portfolio, settings) -> None:
    settings.RESPONSE_CACHE_SECONDS = 0
    for _ in range(3):
        assert served("GET", detail_url(portfolio), token=token).cache is None


# --- the pure parts -----------------------------------------------------------------------------


def _scope(**overrides: Any) -> dict[str, Any]:
    scope = {
        "type": "http", "method": "GET", "path": "/api/v1/data/portfolios", "query_string": b"page=2",
        "headers": [(b"host", b"example.com"), (b"authorization", b"Bearer x"), (b"accept", b"application/json")],
        "scheme": "https", "server": ("10.0.0.1", 8000), "root_path": "",
    }  # fmt: skip
    return {**scope, **overrides}


def test_the_front_inputs_are_the_raw_request_and_refuse_what_the_front_does_not_serve(settings) -> None:
    base = front_inputs(_scope())
    assert base is not None
    assert front_inputs(_scope()) == base
    headers = _scope()["headers"]
    for changed in (
        {"query_string": b"page=3"},
        {"path": "/api/v1/data/portfolios/x"},
        {"scheme": "http"},
        {"headers": [*headers[:2], (b"accept", b"text/html")]},
        {"headers": [(b"host", b"other.example"), *headers[1:]]},
        {"headers": headers[1:]},  # no Host
    ):
        other = front_inputs(_scope(**changed))
        assert other is not None and other != base, changed
    assert front_inputs(_scope(headers=[*headers, (b"user-agent", b"x")])) == base  # not read by Django here
    for refused in (
        {"method": "POST"},
        {"method": "HEAD"},
        {"type": "websocket"},
        {"headers": [h for h in headers if h[0] != b"authorization"]},
        {"headers": [*headers, (b"cookie", b"sessionid=1")]},
        {"headers": [*headers, (b"authorization", b"Bearer y")]},
        {"headers": [*headers, (b"accept", b"text/html")]},
        {"headers": [*headers, (b"content-length", b"5")]},
        {"headers": [*headers, (b"transfer-encoding", b"chunked")]},
    ):
        assert front_inputs(_scope(**refused)) is None, refused
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = _scope(headers=[*headers, (b"x-forwarded-proto", b"https")])
    assert front_inputs(proxied) != front_inputs(_scope())


def test_only_a_plain_200_without_cookies_or_unkeyed_vary_is_stored() -> None:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"Content-Type", b"application/json"), (b"Vary", b"Accept, Cookie"), (b"Date", b"then")],
    }
    stored = answer_storable(start, [b'{"a":', b"1}"])
    assert stored is not None and stored.body == b'{"a":1}'
    replayed, body = stored.messages()
    assert replayed["headers"][:2] == start["headers"][:2]
    assert replayed["headers"][2][0] == b"Date" and replayed["headers"][2][1] != b"then"  # made afresh
    assert body == {"type": "http.response.body", "body": b'{"a":1}', "more_body": False}
    assert answer_storable({**start, "status": 404}, [b""]) is None
    assert answer_storable({**start, "headers": [*start["headers"], (b"Set-Cookie", b"a=b")]}, [b""]) is None
    assert answer_storable({**start, "headers": [(b"Vary", b"Accept-Language")]}, [b""]) is None
    assert answer_storable({**start, "headers": [(b"Vary", b"*")]}, [b""]) is None


# --- over real HTTP -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_over_daphne_a_front_hit_is_byte_identical_and_a_write_is_seen(tmp_path: Path, backend: str) -> None:
    import http.client

    from agent.tests.live import live_server, postgres_server
    from agent.tests.live import login as live_login
    from portfolios.demo import demo_portfolio_id

    if backend == "postgresql" and postgres_server() is None:
        pytest.skip("needs DATABASE_URL=postgres://…")
    with live_server(tmp_path, backend=backend) as live:
        host, port = live["base"].removeprefix("http://").split(":")
        token = live_login(live["base"], "demo_hedgefundstyle@sigmasight.com")
        path = f"/api/v1/data/portfolios/{demo_portfolio_id('demo_hedgefundstyle@sigmasight.com')}"
        connection_ = http.client.HTTPConnection(host, int(port), timeout=30)

        def get(method: str = "GET", body: bytes | None = None, bearer: str = token) -> tuple[int, list, bytes]:
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
            connection_.request(method, path, body=body, headers=headers)
            response = connection_.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() != "date"]
            return response.status, kept, data

        answers = [get() for _ in range(6)]
        log = (Path(live["env"]["LOG_DIR"]) / "access.log").read_text()
        assert " cache=front" in log  # some of the later ones were front hits
        assert all(answer == answers[0] for answer in answers), "front and Django answers differ"
        assert answers[0][0] == 200
        status, _, _ = get("PATCH", json.dumps({"name": "Renamed live"}).encode())
        assert status == 200
        status, _, body = get()
        assert status == 200 and json.loads(body)["name"] == "Renamed live"
        assert get(bearer="garbage")[0] == 401
        connection_.close()

"""Pooled request threads: a request's synchronous parts run on a thread borrowed for that request and
kept for the next, so its database connection is kept too; never two requests on one thread."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db.backends.signals import connection_created

from core.asgi import PooledRequestThreads

HTTP = {"type": "http", "method": "GET", "path": "/", "headers": []}


def recording_app(idents: list[int], *, hold: asyncio.Event | None = None):
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        idents.append(await sync_to_async(threading.get_ident)())
        if hold is not None:
            await hold.wait()
        idents.append(await sync_to_async(threading.get_ident)())

    return app


def test_sequential_requests_reuse_one_thread_that_is_not_the_event_loops() -> None:
    idents: list[int] = []
    pooled = PooledRequestThreads(recording_app(idents), size=4)

    async def main() -> None:
        for _ in range(3):
            await pooled(dict(HTTP), None, None)

    asyncio.run(main())

    assert len(set(idents)) == 1
    assert idents[0] != threading.get_ident()


def test_concurrent_requests_get_their_own_threads_and_overflow_gets_a_throwaway_one() -> None:
    idents: list[int] = []

    async def main() -> PooledRequestThreads:
        hold = asyncio.Event()
        pooled = PooledRequestThreads(recording_app(idents, hold=hold), size=2)
        requests = [asyncio.create_task(pooled(dict(HTTP), None, None)) for _ in range(3)]
        await asyncio.sleep(0.2)
        hold.set()
        await asyncio.gather(*requests)
        return pooled

    pooled = asyncio.run(main())

    assert len(set(idents)) == 3  # one thread per in-flight request, both hops of a request on the same one
    assert len(pooled._idle) == 2  # the overflow executor was not kept


def test_an_executor_still_running_left_over_work_is_not_lent_again() -> None:
    pooled = PooledRequestThreads(recording_app([]), size=1)
    executor, is_pooled = pooled._acquire()
    started = threading.Event()
    executor.submit(lambda: (started.set(), time.sleep(0.3)))
    started.wait(1)

    pooled._release(executor, is_pooled)

    assert pooled._idle == []
    again, _ = pooled._acquire()
    assert again is not executor


def test_websocket_and_lifespan_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    pooled = PooledRequestThreads(app, size=1)

    async def main() -> None:
        await pooled({"type": "websocket"}, None, None)
        await pooled({"type": "lifespan"}, None, None)

    asyncio.run(main())
    assert seen == ["websocket", "lifespan"]
    assert pooled._created == 0


def test_close_stops_the_idle_threads() -> None:
    idents: list[int] = []
    pooled = PooledRequestThreads(recording_app(idents), size=2)
    asyncio.run(pooled(dict(HTTP), None, None))

    pooled.close()

    assert pooled._idle == []
    assert pooled._created == 0
    assert idents[0] not in {thread.ident for thread in threading.enumerate()}


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PooledRequestThreads(recording_app([]), size=0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_served_application_keeps_its_database_connection_between_requests() -> None:
    from sigmasight.asgi import application, http_app

    opened: list[object] = []

    def count(sender: object, connection: object, **kwargs: object) -> None:
        opened.append(connection)

    async def get_health() -> int:
        communicator = ApplicationCommunicator(
            application,
            {**HTTP, "path": "/health", "query_string": b"", "server": ("testserver", 80), "client": ("1.2.3.4", 1)},
        )
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(10)
        await communicator.receive_output(10)
        await communicator.wait(10)
        return start["status"]

    async def main() -> list[int]:
        return [await get_health() for _ in range(3)]

    connection_created.connect(count)
    try:
        statuses = asyncio.run(main())
    finally:
        connection_created.disconnect(count)
        http_app.close()  # the pooled threads' connections, or the test database cannot be dropped

    assert statuses == [200, 200, 200]
    assert len(opened) <= 1  # Django's default under ASGI: one new connection per request

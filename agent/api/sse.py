"""Server-sent events for the chat stream: framing, and a heartbeat while the answer is slow.

Under ASGI (daphne) Django streams an *async* iterator chunk by chunk; a sync iterator would be
collected whole before the first byte is sent. So the chat's (sync, ORM-using) event iterator is
advanced one event at a time with ``sync_to_async`` (thread-sensitive: all its ORM calls stay on
the request's thread) while the async side sends a ``heartbeat`` event every
``HEARTBEAT_INTERVAL_S`` seconds of silence, so that proxies and ``curl -N`` keep the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.serializers.json import DjangoJSONEncoder

HEARTBEAT_INTERVAL_S = 15.0
_END = object()


def sse_frame(event: dict[str, Any]) -> bytes:
    """``event: <type>`` and one ``data:`` line of JSON (JSON never contains a raw newline)."""
    data = json.dumps(event, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def _next(iterator: Iterator[dict[str, Any]]) -> Any:
    return next(iterator, _END)


def _close(iterator: Iterator[dict[str, Any]]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def sse_stream(events: Iterator[dict[str, Any]], *, heartbeat_s: float | None = None) -> AsyncIterator[bytes]:
    """The SSE bytes of ``events``, with heartbeats; closing it closes ``events`` (the answer is saved)."""
    interval = heartbeat_s if heartbeat_s is not None else HEARTBEAT_INTERVAL_S
    step = sync_to_async(_next, thread_sensitive=True)
    pending: asyncio.Future[Any] | None = None
    finished = False
    try:
        yield b": sigmasight agent stream\n\n"
        while True:
            if pending is None:
                pending = asyncio.ensure_future(step(events))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield sse_frame({"type": "heartbeat"})
                continue
            event = pending.result()
            pending = None
            if event is _END:
                finished = True
                break
            yield sse_frame(event)
    finally:
        if pending is not None:
            # The sync step cannot be interrupted mid-call: let it finish before closing the iterator.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        if not finished:
            await sync_to_async(_close, thread_sensitive=True)(events)

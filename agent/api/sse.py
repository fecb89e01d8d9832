"""Server-sent events for the chat stream: ``event: <type>`` + one ``data:`` JSON line per event.

Under ASGI (daphne) Django streams an *async* iterator chunk by chunk, whereas a sync iterator
would be collected whole before the first byte is sent; so the response body is an async
generator over :func:`agent.streaming.events_async`, heartbeats included. (Under WSGI Django
collects it first: run the agent under daphne to stream.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from agent import streaming


def sse_frame(event: dict[str, Any]) -> bytes:
    """One SSE frame (JSON never contains a raw newline, so one ``data:`` line suffices)."""
    data = json.dumps(event, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


async def sse_stream(events: Iterator[dict[str, Any]], *, heartbeat_s: float | None = None) -> AsyncIterator[bytes]:
    """The SSE bytes of an answer, starting with a comment line so proxies flush headers at once.

    The last frame is always ``done`` or ``error`` (:func:`agent.streaming.events_guarded`).
    """
    yield b": sigmasight agent stream\n\n"
    async for event in streaming.events_guarded(events, heartbeat_s=heartbeat_s):
        yield sse_frame(event)

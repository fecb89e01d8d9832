"""Turning the chat's sync event iterator into an async one, with heartbeats while it is silent.

The chat service is sync (ORM, SDK calls); the SSE view and the websocket consumer are async.
Each event is pulled with a thread-sensitive ``sync_to_async`` step so every ORM call of one
answer runs on one thread, and while a step takes longer than the heartbeat interval (a slow
model, a slow tool) a ``{"type": "heartbeat"}`` event is produced so that connections stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async

logger = logging.getLogger("sigmasight.agent")

HEARTBEAT_INTERVAL_S = 15.0
FINAL_EVENTS = ("done", "error")
_END = object()
Step = Callable[[Callable[..., Any]], Callable[..., Any]]


def _next(iterator: Iterator[dict[str, Any]]) -> Any:
    return next(iterator, _END)


def _close(iterator: Iterator[dict[str, Any]]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _thread_sensitive(func: Callable[..., Any]) -> Callable[..., Any]:
    return sync_to_async(func, thread_sensitive=True)


async def events_async(
    events: Iterator[dict[str, Any]], *, heartbeat_s: float | None = None, wrap: Step = _thread_sensitive
) -> AsyncIterator[dict[str, Any]]:
    """Events of ``events`` plus heartbeats; closing this closes ``events`` (the answer is then saved)."""
    interval = heartbeat_s if heartbeat_s is not None else HEARTBEAT_INTERVAL_S
    step = wrap(_next)
    pending: asyncio.Future[Any] | None = None
    finished = False
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(step(events))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield {"type": "heartbeat"}
                continue
            event = pending.result()
            pending = None
            if event is _END:
                finished = True
                break
            yield event
    finally:
        if pending is not None:
            # A sync step cannot be interrupted mid-call: let it finish before closing the iterator.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        if not finished:
            await wrap(_close)(events)


def failure_event(message: str = "The answer failed; see the server log.") -> dict[str, Any]:
    """The ``error`` event that ends a stream which failed on the server's side."""
    return {"type": "error", "code": "internal_error", "message": message}


async def events_guarded(
    events: Iterator[dict[str, Any]], *, heartbeat_s: float | None = None, wrap: Step = _thread_sensitive
) -> AsyncIterator[dict[str, Any]]:
    """:func:`events_async`, ending with ``done`` or ``error`` whatever happens on the server.

    The chat service already turns provider and tool failures into an ``error`` event; this guard
    covers the rest (the database failing while the answer is saved, a bug): the exception is logged
    and the stream ends with an ``error`` event, so no client waits for a terminator that never comes.
    """
    last = ""
    try:
        async for event in events_async(events, heartbeat_s=heartbeat_s, wrap=wrap):
            last = str(event.get("type", ""))
            yield event
    except Exception:
        logger.exception("chat stream failed")
        yield failure_event()
        return
    if last not in FINAL_EVENTS:
        logger.error("chat stream ended without done or error (last event %r)", last)
        yield failure_event("The answer ended early; see the server log.")

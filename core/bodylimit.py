"""Request bodies refused while they are read, not after.

A view's own size check — the CSV import's 5 MB — used to come after a 50 MB upload had been
received whole: daphne (twisted) reads a request's entire body before it calls the application, and
Django's ASGI handler reads it again into a temporary file before any middleware runs. So the limit
(``settings.MAX_REQUEST_BODY_BYTES``) is enforced at two levels:

- ``daphne_body_limit_install``: in the daphne process, twisted's request object refuses the body
  as soon as it is known to be too large — at once when its ``Content-Length`` says so (nothing of
  it is read), or, for a chunked body, when the bytes received pass the limit — with a 413 and the
  connection closed (the rest of the body is never read);
- ``BodySizeLimit``: the same rule as ASGI middleware, for any other ASGI server and in-process use.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.asgi import app_close

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _too_large_body(limit: int) -> bytes:
    """The 413 answer's JSON (the API's error shape), for a body over ``limit`` bytes."""
    return json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"Request body is larger than {limit // (1024 * 1024)} MB.",
                "details": {"max_bytes": limit},
            }
        }
    ).encode()


async def _too_large(send: Send, limit: int) -> None:
    body = _too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body is not read: the connection cannot be reused
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse HTTP request bodies over ``max_bytes`` (413 with the JSON error envelope) while reading."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def close(self) -> None:
        """Close the wrapped application (the response front's and the pooled request threads, their connections)."""
        app_close(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            await self.app(scope, receive, send)  # Django reads at most the declared length
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        # No length given: read up to the limit here, then hand the body on from memory.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


def _too_large_http(limit: int) -> bytes:
    body = _too_large_body(limit)
    head = (
        "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


def daphne_body_limit_install(max_bytes: int) -> None:
    """Make daphne refuse request bodies over ``max_bytes`` while receiving them (see the module doc),
    and leave multipart bodies to Django (an empty or broken one is Django's JSON 400, not twisted's
    bare one).

    daphne builds each request from ``daphne.http_protocol.WebRequest`` (looked up when a connection
    is made); it is replaced by a subclass whose twisted hooks count the body. Idempotent; a no-op
    where daphne is not installed.
    """
    try:
        from daphne import http_protocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return
    base: Any = http_protocol.WebRequest
    if getattr(base, "max_body_bytes", None) is not None:
        base.max_body_bytes = max_bytes
        return

    class LimitedWebRequest(base):
        """daphne's request, refusing a body over ``max_body_bytes`` with 413 before reading the rest."""

        max_body_bytes: int = max_bytes
        _body_received = 0
        _refused = False

        def _refuse(self) -> None:
            self._refused = True
            transport = self.channel.transport
            transport.write(_too_large_http(self.max_body_bytes))
            transport.loseConnection()  # after the write is flushed; what is still being sent is dropped

        def gotLength(self, length: int | None) -> None:
            if length is not None and length > self.max_body_bytes:
                super().gotLength(0)  # an empty body buffer: nothing of this one will be kept
                self._refuse()
                return
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            if self._refused:
                return
            self._body_received += len(data)
            if self._body_received > self.max_body_bytes:
                self._refuse()
                return
            super().handleContentChunk(data)

        def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
            if self._refused:
                return
            # twisted parses a multipart body itself (for ``request.args``, which daphne never reads)
            # and answers a bare "400 Bad Request" without headers or body when it cannot: Django does it.
            self._parsePOSTFormSubmission = False
            super().requestReceived(command, path, version)

    http_protocol.WebRequest = LimitedWebRequest

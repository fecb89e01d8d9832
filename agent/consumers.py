"""The chat websocket (``/ws/agent/chat/``): a thin async adapter over :func:`agent.services.chat_run`.

Authentication: a simplejwt access token in the query string (``?token=…``) or as a subprotocol
(``Sec-WebSocket-Protocol: bearer, <token>`` — the server answers ``bearer``); without a token, the
web app's login session cookie, from a page of this site only (``core.websocket_auth.websocket_session_user``).
A missing or bad token (or no session) is accepted then closed at once with code 4401, so that the
client sees a clear reason rather than a bare handshake failure. The client sends
``{"type": "message", "message", "portfolio_id", "session_id"?, "mode"?}`` and receives the events
of the SSE stream (start, token, tool_call, tool_result, heartbeat, error, done). One answer at a
time per socket; a question while one is streaming gets an ``error`` event with code ``busy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from agent import streaming
from agent.api.throttling import agent_throttle_check
from agent.services import chat_run
from core.authentication import JWTAuthentication
from core.errors import ApplicationError
from core.parsers import json_loads_safe
from core.websocket_auth import websocket_session_user

logger = logging.getLogger("sigmasight.agent")

CLOSE_UNAUTHORIZED = 4401
BEARER_SUBPROTOCOL = "bearer"


def _token_from_scope(scope: dict[str, Any]) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer) from the query string or the offered subprotocols."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], None
    protocols = [p.strip() for p in scope.get("subprotocols") or []]
    lowered = [p.lower() for p in protocols]
    if BEARER_SUBPROTOCOL in lowered:
        index = lowered.index(BEARER_SUBPROTOCOL)
        if index + 1 < len(protocols):
            return protocols[index + 1], protocols[index]
    for protocol in protocols:
        if protocol.lower().startswith(("bearer.", "jwt.")):
            return protocol.split(".", 1)[1], protocol
    return None, None


@database_sync_to_async
def _user_for_token(token: str) -> Any:
    auth = JWTAuthentication()
    try:
        user = auth.get_user(auth.get_validated_token(token.encode()))
    except (InvalidToken, AuthenticationFailed, TokenError):
        return None
    return user if user.is_active else None


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """Authenticated chat over a websocket; every ORM call goes through ``database_sync_to_async``."""

    user: Any = None
    task: asyncio.Task[None] | None = None
    answering: bool = False

    async def connect(self) -> None:
        token, subprotocol = _token_from_scope(self.scope)
        self.user = await _user_for_token(token) if token else await websocket_session_user(self.scope)
        await self.accept(subprotocol=subprotocol)
        if self.user is None:
            logger.info("websocket refused: missing or invalid token, no same-origin session")
            await self.send_json(
                {"type": "error", "code": "not_authenticated", "message": "A valid token is required."}
            )
            await self.close(code=CLOSE_UNAUTHORIZED)

    async def disconnect(self, code: int) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return json_loads_safe(text_data)  # a too-deeply nested frame is a ValueError: an error event

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is None:
            return
        if not isinstance(content, dict) or content.get("type") not in ("message", "ping"):
            await self.send_json({"type": "error", "code": "invalid", "message": 'Send {"type": "message", ...}.'})
            return
        if content["type"] == "ping":
            await self.send_json({"type": "pong"})
            return
        if self.answering:
            await self.send_json({"type": "error", "code": "busy", "message": "An answer is still streaming."})
            return
        wait = await database_sync_to_async(agent_throttle_check)(user=self.user)
        if wait is not None:
            await self.send_json(
                {"type": "error", "code": "throttled", "message": "Too many questions.", "retry_after_s": int(wait)}
            )
            return
        self.answering = True
        self.task = asyncio.create_task(self._answer(content))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except (json.JSONDecodeError, ValueError):
            await self.send_json({"type": "error", "code": "invalid", "message": "Messages must be JSON objects."})

    async def _answer(self, content: dict[str, Any]) -> None:
        # Whatever fails (the database while the turn is stored, a bug), the client gets an ``error``
        # event and the socket stays usable: the task never dies silently.
        try:
            await self._stream_answer(content)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("websocket answer failed user=%s", getattr(self.user, "pk", None))
            with contextlib.suppress(Exception):
                await self.send_json(streaming.failure_event())
        finally:
            self.answering = False

    async def _stream_answer(self, content: dict[str, Any]) -> None:
        try:
            events = await database_sync_to_async(chat_run)(
                user=self.user,
                message=content.get("message"),
                portfolio_id=content.get("portfolio_id"),
                session_id=content.get("session_id"),
                mode=content.get("mode"),
                transport="websocket",
            )
        except ApplicationError as exc:
            await self.send_json({"type": "error", "code": exc.code, "message": exc.message, "status": exc.status_code})
            return
        async for event in streaming.events_guarded(events, wrap=database_sync_to_async):
            if event.get("type") == "done":
                # The client may ask again as soon as it sees "done": the socket is free from here.
                self.answering = False
            await self.send_json(event)

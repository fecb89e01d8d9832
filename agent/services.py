"""Chat orchestration shared by the three transports (REST, SSE, websocket).

:func:`chat_run` validates the turn and stores the user's message *before* it returns (so a bad
request fails fast with a 4xx), then hands back an iterator of events:

``start`` → (``tool_call`` → ``tool_result``)* and ``token``* in the order they happen →
``error``? → ``done``.

The assistant's message is stored when the iterator ends, also when the client goes away
mid-answer (``error = "client disconnected"``) or the provider fails. Tools run through
:func:`agent.tools.tool_execute` bound to the authenticated user, whatever the model asks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agent.models import AgentMode, Conversation, Message, MessageRole
from agent.prompts import DEFAULT_MODE, MODES, prompt_build
from agent.providers import ChatRequest, Event, Provider, ProviderError, provider_get
from agent.tools import ToolContext, tool_execute, tools_all
from core.exceptions import ApplicationError, NotFoundError
from portfolios.models import Portfolio, User
from portfolios.selectors import portfolio_get_for_user

logger = logging.getLogger("sigmasight.agent")

MODE_COMMAND = re.compile(r"^\s*/mode(?:\s+(\S+))?\s*(.*)$", re.IGNORECASE | re.DOTALL)


HEALTH_CACHE_KEY = "agent:health"


def agent_health() -> dict[str, Any]:
    """``{"status", "provider", "model", "reachable", "detail", "api_style"?}`` — no URL, key or user data.

    Cached for ``AGENT_HEALTH_CACHE_S`` seconds (default 30): the openai provider's probe is an HTTP call.
    """
    configured = (
        f"{settings.AGENT_PROVIDER}|{getattr(settings, 'OPENAI_BASE_URL', '')}|{getattr(settings, 'OPENAI_MODEL', '')}"
    )
    key = f"{HEALTH_CACHE_KEY}:{hashlib.sha256(configured.encode()).hexdigest()[:16]}"  # a new setup probes anew
    cached = cache.get(key)
    if cached is not None:
        return dict(cached)
    try:
        probe = provider_get().health()
    except ProviderError as exc:
        probe = {"provider": settings.AGENT_PROVIDER, "model": "", "reachable": False, "detail": exc.code}
    health = {
        "status": "ok" if probe.get("reachable") else "unavailable",
        **{key: probe[key] for key in ("provider", "model", "reachable", "detail", "api_style") if key in probe},
    }
    cache.set(key, health, int(getattr(settings, "AGENT_HEALTH_CACHE_S", 30)))
    return health


def history_limit() -> int:
    return int(getattr(settings, "AGENT_HISTORY_MESSAGES", 20))


@dataclass
class ChatTurn:
    """A validated user turn, its conversation and the stored user message."""

    user: User
    conversation: Conversation
    portfolio: Portfolio
    user_message: Message
    text: str
    mode: str
    mode_switched: bool
    history: list[dict[str, str]] = field(default_factory=list)
    transport: str = "internal"
    started: float = field(default_factory=time.perf_counter)


def _parse_uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFoundError(f"{what} {str(value)[:64]} not found.") from None


def message_validate(message: Any) -> str:
    """The user's text, or a 400: empty, not a string, or over ``AGENT_MAX_MESSAGE_CHARS``."""
    if not isinstance(message, str) or not message.strip():
        raise ApplicationError("message must be a non-empty string.", code="invalid")
    limit = settings.AGENT_MAX_MESSAGE_CHARS
    if len(message) > limit:
        raise ApplicationError(
            f"message is {len(message)} characters; the limit is {limit}.",
            code="message_too_long",
            details={"max_chars": limit},
        )
    return message.strip()


def _mode_from(text: str, mode: str | None) -> tuple[str, str | None, bool]:
    """(question, mode, switched-by-command) from a ``/mode x`` prefix or the ``mode`` field."""
    match = MODE_COMMAND.match(text)
    if match:
        wanted = (match.group(1) or "").lower()
        if wanted not in MODES:
            raise ApplicationError(f"Unknown mode {wanted!r}; use one of {', '.join(MODES)}.", code="invalid_mode")
        return match.group(2).strip(), wanted, True
    if mode is not None and mode != "":
        if mode not in MODES:
            raise ApplicationError(f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.", code="invalid_mode")
        return text, mode, False
    return text, None, False


def conversation_get_for_user(*, user: User, session_id: uuid.UUID | str) -> Conversation:
    """The user's conversation, or ``NotFoundError`` — also for another user's session (never 403)."""
    try:
        return Conversation.objects.select_related("portfolio").get(pk=_parse_uuid(session_id, "Session"), user=user)
    except Conversation.DoesNotExist:
        raise NotFoundError(f"Session {session_id} not found.") from None


def conversations_for_user(*, user: User) -> Any:
    return Conversation.objects.filter(user=user).select_related("portfolio").order_by("-updated_at", "id")


def conversation_delete(*, user: User, session_id: uuid.UUID | str) -> None:
    conversation_get_for_user(user=user, session_id=session_id).delete()


def _message_append(conversation: Conversation, **fields: Any) -> Message:
    # Lock the conversation row so that two turns in the same session never take the same sequence.
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().only("id", "message_count").get(pk=conversation.pk)
        message = Message.objects.create(conversation_id=conversation.pk, sequence=locked.message_count, **fields)
        # update() skips auto_now: set updated_at so the session list shows recent activity first.
        Conversation.objects.filter(pk=conversation.pk).update(
            message_count=F("message_count") + 1, updated_at=timezone.now()
        )
    return message


def portfolio_default_for_user(*, user: User) -> Portfolio:
    """The caller's only portfolio, when ``portfolio_id`` is left out; a 400 naming the field otherwise."""
    owned = list(Portfolio.objects.filter(user=user).order_by("created_at")[:2])
    if len(owned) == 1:
        return owned[0]
    reason = "you have no portfolio" if not owned else "you have several portfolios; name one"
    raise ApplicationError(f"portfolio_id is required: {reason}.", code="invalid", details={"field": "portfolio_id"})


def chat_prepare(
    *, user: User, message: Any, portfolio_id: Any = None, session_id: Any = None, mode: str | None = None
) -> ChatTurn:
    """Validate a turn, find or start the conversation and store the user's message."""
    text = message_validate(message)
    question, wanted_mode, switched = _mode_from(text, mode)
    conversation = conversation_get_for_user(user=user, session_id=session_id) if session_id else None
    if portfolio_id in (None, "") and conversation is not None and conversation.portfolio_id:
        portfolio_id = conversation.portfolio_id
    if portfolio_id in (None, ""):
        portfolio = portfolio_default_for_user(user=user)
    else:
        portfolio = portfolio_get_for_user(user=user, portfolio_id=_parse_uuid(portfolio_id, "Portfolio"))
    provider_name = settings.AGENT_PROVIDER
    if conversation is None:
        conversation = Conversation.objects.create(
            user=user,
            portfolio=portfolio,
            title=" ".join(text.split())[:80],
            mode=wanted_mode or DEFAULT_MODE,
            provider=provider_name,
        )
    else:
        changed = []
        if conversation.portfolio_id != portfolio.id:
            conversation.portfolio = portfolio
            changed.append("portfolio")
        if wanted_mode and conversation.mode != wanted_mode:
            conversation.mode = wanted_mode
            changed.append("mode")
        if changed:
            conversation.save(update_fields=[*changed, "updated_at"])
    earlier = list(
        Message.objects.filter(conversation=conversation, role__in=[MessageRole.USER, MessageRole.ASSISTANT])
        .exclude(content="")
        .order_by("-sequence")
        .values("role", "content", "error")[: history_limit()]
    )
    history = [{"role": m["role"], "content": m["content"]} for m in reversed(earlier) if not m["error"]]
    stored = _message_append(conversation, role=MessageRole.USER, content=text, mode=conversation.mode)
    return ChatTurn(
        user=user,
        conversation=conversation,
        portfolio=portfolio,
        user_message=stored,
        text=question,
        mode=conversation.mode,
        mode_switched=switched,
        history=history,
    )


def chat_run(
    *,
    user: User,
    message: Any,
    portfolio_id: Any = None,
    session_id: Any = None,
    mode: str | None = None,
    transport: str = "internal",
) -> Iterator[Event]:
    """Validate and store the turn now (raising 4xx errors), then return the answer's event iterator.

    ``transport`` (``rest``, ``sse``, ``websocket``) is recorded with every tool call in the audit trail.
    """
    turn = chat_prepare(user=user, message=message, portfolio_id=portfolio_id, session_id=session_id, mode=mode)
    turn.transport = transport
    logger.info(
        "chat user=%s session=%s portfolio=%s mode=%s chars=%d",
        user.pk,
        turn.conversation.pk,
        turn.portfolio.pk,
        turn.mode,
        len(turn.text),
    )
    return chat_events(turn)


@dataclass
class _Answer:
    provider: str
    model: str
    parts: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    first_token_ms: float | None = None
    error: str = ""


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)


def _answer_save(turn: ChatTurn, answer: _Answer) -> Message:
    message = _message_append(
        turn.conversation,
        role=MessageRole.ASSISTANT,
        content="".join(answer.parts),
        tool_calls=answer.tool_calls,
        mode=turn.mode,
        provider=answer.provider,
        model=answer.model,
        first_token_ms=answer.first_token_ms,
        latency_ms=_elapsed_ms(turn.started),
        prompt_tokens=answer.usage.get("prompt_tokens"),
        completion_tokens=answer.usage.get("completion_tokens"),
        total_tokens=answer.usage.get("total_tokens"),
        error=answer.error,
    )
    Conversation.objects.filter(pk=turn.conversation.pk).update(provider=answer.provider, model=answer.model)
    logger.info(
        "answer session=%s provider=%s model=%s first_token_ms=%s latency_ms=%s tools=%d tokens=%s error=%s",
        turn.conversation.pk,
        answer.provider,
        answer.model,
        answer.first_token_ms,
        message.latency_ms,
        len(answer.tool_calls),
        answer.usage.get("total_tokens"),
        answer.error or "-",
    )
    return message


def _provider_events(turn: ChatTurn, provider: Provider, answer: _Answer) -> Iterator[Event]:
    """The provider's events, recorded into ``answer`` and reshaped for clients."""
    if turn.mode_switched and not turn.text:
        yield {"type": "token", "text": f"Mode switched to {AgentMode(turn.mode).label}."}
        return
    context = ToolContext(
        user=turn.user, portfolio_id=turn.portfolio.id, transport=turn.transport, session=str(turn.conversation.pk)
    )
    durations: list[float] = []

    def execute(name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        started = time.perf_counter()
        result = tool_execute(name=name, arguments=arguments, context=context)
        durations.append(_elapsed_ms(started))
        return result

    request = ChatRequest(
        system_prompt=prompt_build(
            mode=turn.mode, portfolio_name=turn.portfolio.name, portfolio_id=str(turn.portfolio.id)
        ),
        message=turn.text,
        mode=turn.mode,
        tools=tools_all(),
        execute=execute,
        history=turn.history,
    )
    records: dict[str, dict[str, Any]] = {}
    for event in provider.stream(request):
        kind = event["type"]
        if kind == "token":
            yield event
        elif kind == "tool_call":
            record = {"id": event["id"], "name": event["name"], "arguments": event["arguments"]}
            records[event["id"]] = record
            answer.tool_calls.append(record)
            yield {"type": "tool_call", **record}
        elif kind == "tool_result":
            record = records.get(event["id"]) or {"id": event["id"], "name": event["name"]}
            record["result"] = event["result"]
            record["duration_ms"] = durations[-1] if durations else None
            yield {"type": "tool_result", "id": event["id"], "name": event["name"], "result": event["result"]}
        elif kind == "usage":
            answer.usage = {k: int(event.get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        elif kind == "model":
            answer.model = event["model"]


def chat_events(turn: ChatTurn) -> Iterator[Event]:
    """The event stream of one answer; stores the assistant message however it ends."""
    provider: Provider | None = None
    answer = _Answer(provider=settings.AGENT_PROVIDER, model="")
    yield {
        "type": "start",
        "session_id": str(turn.conversation.pk),
        "message_id": str(turn.user_message.pk),
        "portfolio_id": str(turn.portfolio.pk),
        "mode": turn.mode,
        "provider": answer.provider,
    }
    failure: Event | None = None
    try:
        provider = provider_get()
        answer.provider, answer.model = provider.name, provider.model
        for event in _provider_events(turn, provider, answer):
            if event["type"] == "token":
                if answer.first_token_ms is None:
                    answer.first_token_ms = _elapsed_ms(turn.started)
                answer.parts.append(event["text"])
            yield event
    except GeneratorExit:
        answer.error = "client disconnected"
        try:
            _answer_save(turn, answer)
        except Exception:
            logger.exception("chat answer not stored after disconnect session=%s", turn.conversation.pk)
        raise
    except ProviderError as exc:
        answer.error = f"{exc.code}: {exc.message}"
        failure = {"type": "error", "code": exc.code, "message": exc.message}
    except Exception:
        logger.exception("chat failed session=%s", turn.conversation.pk)
        answer.error = "internal_error"
        failure = {"type": "error", "code": "internal_error", "message": "The answer failed; see the server log."}
    try:
        message = _answer_save(turn, answer)
    except Exception:
        # E.g. the session was deleted while it answered, or the database refused the write.
        logger.exception("chat answer not stored session=%s", turn.conversation.pk)
        yield failure or {"type": "error", "code": "not_stored", "message": "The answer could not be stored."}
        return
    if failure is not None:
        yield failure
    yield {
        "type": "done",
        "session_id": str(turn.conversation.pk),
        "message_id": str(message.pk),
        "reply": message.content,
        "tool_calls": [{k: v for k, v in c.items() if k != "result"} for c in answer.tool_calls],
        "provider": answer.provider,
        "model": answer.model,
        "usage": answer.usage,
        "first_token_ms": answer.first_token_ms,
        "latency_ms": message.latency_ms,
        "error": answer.error or None,
    }


def chat_complete(
    *,
    user: User,
    message: Any,
    portfolio_id: Any = None,
    session_id: Any = None,
    mode: str | None = None,
    transport: str = "rest",
) -> dict[str, Any]:
    """The whole answer at once (REST): ``{"session_id", "reply", "tool_calls", "message_id", "error"}``."""
    results: dict[str, dict[str, Any]] = {}
    done: Event = {}
    error: Event | None = None
    events = chat_run(
        user=user, message=message, portfolio_id=portfolio_id, session_id=session_id, mode=mode, transport=transport
    )
    for event in events:
        if event["type"] == "tool_result":
            results[event["id"]] = event["result"]
        elif event["type"] == "error":
            error = event
        elif event["type"] == "done":
            done = event
    tool_calls = [{**call, "result": results.get(call["id"])} for call in done.get("tool_calls", [])]
    return {
        "session_id": done["session_id"],
        "message_id": done["message_id"],
        "reply": done["reply"],
        "tool_calls": tool_calls,
        "provider": done["provider"],
        "model": done["model"],
        "usage": done["usage"],
        "first_token_ms": done["first_token_ms"],
        "latency_ms": done["latency_ms"],
        "error": {"code": error["code"], "message": error["message"]} if error else None,
    }

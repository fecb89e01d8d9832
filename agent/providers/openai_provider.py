"""The ``openai`` provider: the official SDK against OpenAI or any compatible server (vLLM, Ollama, LM Studio).

``OPENAI_API_STYLE`` picks the Responses API (``responses``, default) or Chat Completions with
tools (``chat``) for servers that only offer that. Both stream. Per round the model's text is
forwarded token by token and its function calls are collected — their arguments arrive split
across deltas and are joined by call — then run through the scoped executor and sent back as
tool outputs; at most ``AGENT_MAX_TOOL_ROUNDS`` rounds, the last one with tools disabled so the
model must answer. Before the first token of an answer, a 429, a 5xx, a timeout or a connection
error is retried with exponential backoff (``OPENAI_MAX_RETRIES``, ``OPENAI_RETRY_BACKOFF_S``),
then the fallback model (``OPENAI_FALLBACK_MODEL``) is tried the same way; after the first
token a failure ends the answer with an error (a retry would repeat text the user has seen).
Token usage is summed over rounds. The API key is never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import openai
from django.conf import settings

from agent.providers.base import ChatRequest, Event, Provider, ProviderError
from agent.tools.registry import Tool

logger = logging.getLogger("sigmasight.agent")

# Servers such as Ollama or vLLM accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "sk-no-key-required"
MAX_TOOL_OUTPUT_CHARS = 24000
RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
# Errors about the model itself (unknown model, unsupported parameter): the fallback model may work.
MODEL_ERRORS = (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError)


@dataclass
class _Call:
    """A function call being assembled from stream deltas."""

    call_id: str
    name: str = ""
    arguments: str = ""


@dataclass
class _Round:
    text: list[str] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class _State:
    """What one answer has done so far: whether any token was shown, which model, usage."""

    model: str
    emitted: bool = False
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    )


def _tool_output(result: dict[str, Any]) -> str:
    text = json.dumps(result, separators=(",", ":"))
    if len(text) > MAX_TOOL_OUTPUT_CHARS:
        return json.dumps({"status": "error", "truncated": True, "partial": text[:MAX_TOOL_OUTPUT_CHARS]})
    return text


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, timeout_s: float) -> openai.OpenAI:
    """One SDK client (and connection pool) per configuration; building one costs ~0.1 s."""
    # Retries are ours (so that the fallback model can take over before the first token).
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)


class OpenAIProvider(Provider):
    """Streaming tool-calling answers from an OpenAI-compatible server."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str,
        fallback_model: str | None = None,
        api_style: str = "responses",
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_rounds: int = 5,
    ) -> None:
        self.model = model
        self.fallback_model = fallback_model or None
        self.api_style = api_style
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_rounds = max(1, max_rounds)
        self.base_url = base_url
        self.client = _client(api_key or PLACEHOLDER_KEY, base_url, timeout_s)

    @classmethod
    def from_settings(cls) -> OpenAIProvider:
        return cls(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            model=settings.OPENAI_MODEL,
            fallback_model=settings.OPENAI_FALLBACK_MODEL,
            api_style=settings.OPENAI_API_STYLE,
            timeout_s=float(getattr(settings, "OPENAI_TIMEOUT_S", 30.0)),
            max_retries=int(getattr(settings, "OPENAI_MAX_RETRIES", 2)),
            backoff_s=float(getattr(settings, "OPENAI_RETRY_BACKOFF_S", 0.5)),
            max_rounds=int(getattr(settings, "AGENT_MAX_TOOL_ROUNDS", 5)),
        )

    # --- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        base = {"provider": self.name, "model": self.model, "api_style": self.api_style}
        try:
            models = self.client.with_options(timeout=5.0, max_retries=0).models.list()
            ids = [m.id for m in models.data]
        except openai.OpenAIError as exc:
            return {**base, "reachable": False, "detail": type(exc).__name__}
        detail = "model listed" if self.model in ids else f"server reachable; {self.model} not in its model list"
        return {**base, "reachable": True, "detail": detail}

    # --- the answer ---------------------------------------------------------------------------

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        state = _State(model=self.model)
        conversation = self._start(request)
        for round_number in range(self.max_rounds + 1):
            final = round_number == self.max_rounds
            current = yield from self._round_with_retries(request, conversation, state, final=final)
            for key, value in current.usage.items():
                state.usage[key] = state.usage.get(key, 0) + int(value or 0)
            if not current.calls or final:
                if current.calls:
                    logger.warning("tool round limit reached (%d); ignoring further calls", self.max_rounds)
                break
            self._append_calls(conversation, current)
            for call in current.calls:
                try:
                    arguments: Any = json.loads(call.arguments) if call.arguments else {}
                except json.JSONDecodeError:
                    arguments = call.arguments
                yield {"type": "tool_call", "id": call.call_id, "name": call.name, "arguments": arguments}
                result = request.execute(call.name, call.arguments)
                yield {"type": "tool_result", "id": call.call_id, "name": call.name, "result": result}
                self._append_output(conversation, call, result)
        yield {"type": "usage", **state.usage}

    def _round_with_retries(
        self, request: ChatRequest, conversation: list[dict[str, Any]], state: _State, *, final: bool
    ) -> Generator[Event, None, _Round]:
        models = [state.model] + ([self.fallback_model] if self.fallback_model and not state.emitted else [])
        models = list(dict.fromkeys(models))
        last_error: Exception | None = None
        for model in models:
            for attempt in range(self.max_retries + 1):
                current = _Round()
                try:
                    for text in self._stream_round(model, request, conversation, current, final=final):
                        if not state.emitted:
                            state.emitted = True
                            if model != self.model:
                                yield {"type": "model", "model": model}
                        state.model = model
                        yield {"type": "token", "text": text}
                    state.model = model
                    return current
                except RETRYABLE as exc:
                    last_error = exc
                    if state.emitted and current.text:
                        raise ProviderError(
                            "The model's stream broke off mid-answer.", code="stream_interrupted"
                        ) from exc
                    wait = self.backoff_s * (2**attempt)
                    logger.warning(
                        "openai %s on %s (attempt %d/%d); retrying in %.2fs",
                        type(exc).__name__, model, attempt + 1, self.max_retries + 1, wait,
                    )  # fmt: skip
                    if attempt < self.max_retries:
                        time.sleep(wait)
                except openai.AuthenticationError as exc:
                    raise ProviderError("The model server refused the API key.", code="provider_auth") from exc
                except MODEL_ERRORS as exc:
                    last_error = exc
                    logger.warning("openai %s on %s: %s", type(exc).__name__, model, str(exc)[:300])
                    break  # the same request would fail again: go to the fallback model
                except openai.APIError as exc:
                    last_error = exc
                    logger.warning("openai %s on %s: %s", type(exc).__name__, model, str(exc)[:300])
                    break
            if state.emitted:
                break
            logger.warning(
                "openai model %s unavailable; %s", model, "trying fallback" if model != models[-1] else "giving up"
            )
        raise ProviderError(
            f"The model server is unavailable ({type(last_error).__name__ if last_error else 'no answer'}).",
            code="provider_unavailable",
        )

    # --- Responses API and Chat Completions ------------------------------------------------------

    def _start(self, request: ChatRequest) -> list[dict[str, Any]]:
        history = [{"role": m["role"], "content": m["content"]} for m in request.history]
        if self.api_style == "chat":
            return [
                {"role": "system", "content": request.system_prompt},
                *history,
                {"role": "user", "content": request.message},
            ]
        return [*history, {"role": "user", "content": request.message}]

    def _tools(self, tools: list[Tool]) -> list[dict[str, Any]]:
        if self.api_style == "chat":
            return [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        return [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in tools
        ]

    def _stream_round(
        self, model: str, request: ChatRequest, conversation: list[dict[str, Any]], current: _Round, *, final: bool
    ) -> Iterator[str]:
        if self.api_style == "chat":
            yield from self._chat_round(model, request, conversation, current, final=final)
        else:
            yield from self._responses_round(model, request, conversation, current, final=final)

    def _responses_round(
        self, model: str, request: ChatRequest, conversation: list[dict[str, Any]], current: _Round, *, final: bool
    ) -> Iterator[str]:
        stream = self.client.responses.create(  # type: ignore[call-overload]  # plain dicts, not the SDK's TypedDicts
            model=model,
            instructions=request.system_prompt,
            input=conversation,
            tools=self._tools(request.tools),
            tool_choice="none" if final else "auto",
            stream=True,
        )
        calls: dict[str, _Call] = {}
        call: _Call | None
        with stream:
            for event in stream:
                kind = _get(event, "type")
                if kind == "response.output_text.delta":
                    delta = _get(event, "delta") or ""
                    if delta:
                        current.text.append(delta)
                        yield delta
                elif kind == "response.output_item.added":
                    item = _get(event, "item")
                    if _get(item, "type") == "function_call":
                        call = _Call(call_id=_get(item, "call_id") or _get(item, "id"), name=_get(item, "name") or "")
                        call.arguments = _get(item, "arguments") or ""
                        calls[_get(item, "id") or call.call_id] = call
                        current.calls.append(call)
                elif kind == "response.function_call_arguments.delta":
                    call = calls.get(_get(event, "item_id"))
                    if call is not None:
                        call.arguments += _get(event, "delta") or ""
                elif kind == "response.function_call_arguments.done":
                    call = calls.get(_get(event, "item_id"))
                    if call is not None and _get(event, "arguments") is not None:
                        call.arguments = _get(event, "arguments")
                elif kind == "response.output_item.done":
                    item = _get(event, "item")
                    if _get(item, "type") == "function_call":
                        call = calls.get(_get(item, "id"))
                        if call is None:
                            call = _Call(call_id=_get(item, "call_id") or _get(item, "id"))
                            current.calls.append(call)
                        call.name = _get(item, "name") or call.name
                        call.arguments = _get(item, "arguments") or call.arguments
                elif kind == "response.completed":
                    usage = _get(_get(event, "response"), "usage")
                    current.usage = {
                        "prompt_tokens": _get(usage, "input_tokens", 0) or 0,
                        "completion_tokens": _get(usage, "output_tokens", 0) or 0,
                        "total_tokens": _get(usage, "total_tokens", 0) or 0,
                    }
                elif kind in ("response.failed", "error", "response.incomplete"):
                    error = _get(_get(event, "response"), "error") or event
                    raise ProviderError(
                        f"The model failed: {str(_get(error, 'message', kind))[:200]}", code="model_failed"
                    )

    def _chat_round(
        self, model: str, request: ChatRequest, conversation: list[dict[str, Any]], current: _Round, *, final: bool
    ) -> Iterator[str]:
        stream = self.client.chat.completions.create(  # type: ignore[call-overload]  # plain dicts, not the SDK's TypedDicts
            model=model,
            messages=conversation,
            tools=self._tools(request.tools),
            tool_choice="none" if final else "auto",
            stream=True,
            stream_options={"include_usage": True},
        )
        by_index: dict[int, _Call] = {}
        with stream:
            for chunk in stream:
                usage = _get(chunk, "usage")
                if usage:
                    current.usage = {
                        "prompt_tokens": _get(usage, "prompt_tokens", 0) or 0,
                        "completion_tokens": _get(usage, "completion_tokens", 0) or 0,
                        "total_tokens": _get(usage, "total_tokens", 0) or 0,
                    }
                for choice in _get(chunk, "choices") or []:
                    delta = _get(choice, "delta")
                    text = _get(delta, "content")
                    if text:
                        current.text.append(text)
                        yield text
                    for piece in _get(delta, "tool_calls") or []:
                        index = _get(piece, "index", 0) or 0
                        call = by_index.get(index)
                        if call is None:
                            call = by_index[index] = _Call(call_id=_get(piece, "id") or f"call_{index}")
                            current.calls.append(call)
                        elif _get(piece, "id"):
                            call.call_id = _get(piece, "id")
                        function = _get(piece, "function")
                        call.name += _get(function, "name") or ""
                        call.arguments += _get(function, "arguments") or ""

    def _append_calls(self, conversation: list[dict[str, Any]], current: _Round) -> None:
        text = "".join(current.text)
        if self.api_style == "chat":
            conversation.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "id": c.call_id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments or "{}"},
                        }
                        for c in current.calls
                    ],
                }
            )
            return
        if text:
            conversation.append({"role": "assistant", "content": text})
        for call in current.calls:
            conversation.append(
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments or "{}",
                }
            )

    def _append_output(self, conversation: list[dict[str, Any]], call: _Call, result: dict[str, Any]) -> None:
        # Tool results go back as tool outputs, never into the system prompt or a user message.
        if self.api_style == "chat":
            conversation.append({"role": "tool", "tool_call_id": call.call_id, "content": _tool_output(result)})
        else:
            conversation.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": _tool_output(result)}
            )

"""What every agent provider implements: stream an answer to one user turn, calling tools on the way.

A provider gets a :class:`ChatRequest` — the system prompt, the earlier turns, the user's message
and an ``execute`` callback — and yields plain dict events:

- ``{"type": "token", "text"}`` — a piece of the answer;
- ``{"type": "tool_call", "id", "name", "arguments"}`` then ``{"type": "tool_result", "id", "name", "result"}``;
- ``{"type": "usage", "prompt_tokens", "completion_tokens", "total_tokens"}`` (summed over rounds);
- ``{"type": "model", "model"}`` when it answers with another model than configured (fallback).

It raises :class:`ProviderError` for a failure it cannot recover from. The provider never sees
who the user is: ``execute`` is bound by the chat service to the authenticated user, so nothing
a model writes can widen what a tool may read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.tools.registry import Tool

Event = dict[str, Any]
ToolExecutor = Callable[[str, "str | dict[str, Any] | None"], dict[str, Any]]


class ProviderError(Exception):
    """A provider failure the answer cannot recover from; ``code`` is sent to the client."""

    def __init__(self, message: str, *, code: str = "provider_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ChatRequest:
    """One user turn: prompts kept apart (system, earlier turns, the new message) and the tools."""

    system_prompt: str
    message: str
    mode: str
    tools: list[Tool]
    execute: ToolExecutor
    history: list[dict[str, str]] = field(default_factory=list)


class Provider(ABC):
    """An answer engine; ``name`` and ``model`` are recorded on every message it writes."""

    name: str = ""
    model: str = ""

    @abstractmethod
    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one answer (see the module docstring)."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """``{"provider", "model", "reachable", "detail"?}`` — cheap enough for a health endpoint."""


def words(text: str, *, per_chunk: int = 3) -> Iterator[str]:
    """Split text into small chunks (a few words, whitespace kept) to stream it token by token."""
    chunk: list[str] = []
    start = 0
    count = 0
    for index, char in enumerate(text):
        if char in " \n" and index > start:
            count += 1
            if count >= per_chunk:
                chunk.append(text[start : index + 1])
                start = index + 1
                count = 0
    if start < len(text):
        chunk.append(text[start:])
    yield from chunk

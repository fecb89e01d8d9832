"""Agent providers: ``local`` (offline, rule-based; the default) and ``openai`` (any OpenAI-compatible server)."""

from __future__ import annotations

from django.conf import settings

from agent.providers.base import ChatRequest, Event, Provider, ProviderError
from agent.providers.local import LocalProvider

__all__ = ["ChatRequest", "Event", "LocalProvider", "Provider", "ProviderError", "provider_get"]


def provider_get(name: str | None = None) -> Provider:
    """The provider named by ``settings.AGENT_PROVIDER`` (read on each call, so tests can override it)."""
    name = name or settings.AGENT_PROVIDER
    if name == "openai":
        from agent.providers.openai_provider import OpenAIProvider

        return OpenAIProvider.from_settings()
    if name == "local":
        return LocalProvider()
    raise ProviderError(f"Unknown agent provider {name!r}.", code="provider_unknown")

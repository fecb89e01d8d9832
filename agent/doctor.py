"""``doctor`` check of the agent app: the LLM provider can run (without showing any credential)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from core.doctor import FAIL, OK, CheckResult


def _safe_url(url: str) -> str:
    """A URL without user info (a password in OPENAI_BASE_URL never reaches the output)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_agent_provider() -> CheckResult:
    """The agent's LLM: local needs nothing; openai needs a key or an OpenAI-compatible base URL."""
    provider = settings.AGENT_PROVIDER
    name = "agent provider"
    if provider == "local":
        return CheckResult(name, OK, "local (offline, no LLM key needed)")
    base_url = settings.OPENAI_BASE_URL
    model = settings.OPENAI_MODEL
    if settings.OPENAI_API_KEY:
        where = f" at {_safe_url(base_url)}" if base_url else ""
        return CheckResult(name, OK, f"openai, model {model}{where} (OPENAI_API_KEY configured)")
    if base_url:
        return CheckResult(name, OK, f"openai-compatible server at {_safe_url(base_url)}, model {model} (no key)")
    return CheckResult(
        name,
        FAIL,
        "AGENT_PROVIDER=openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set",
        "set OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server), or AGENT_PROVIDER=local",
    )

"""``doctor``'s agent provider check (registered by the agent app)."""

from __future__ import annotations

from agent.doctor import check_agent_provider
from core.doctor import FAIL, OK


def test_the_local_agent_needs_no_key(settings):
    settings.AGENT_PROVIDER = "local"
    assert check_agent_provider().status == OK


def test_openai_without_key_or_base_url_fails(settings):
    settings.AGENT_PROVIDER, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "openai", "", None
    result = check_agent_provider()
    assert result.status == FAIL and "OPENAI_API_KEY" in result.hint


def test_openai_with_a_base_url_or_a_key_is_ok_and_hides_credentials(settings):
    settings.AGENT_PROVIDER, settings.OPENAI_API_KEY = "openai", ""
    settings.OPENAI_BASE_URL = "http://user:hunter2@127.0.0.1:11434/v1"
    result = check_agent_provider()
    assert result.status == OK and "http://127.0.0.1:11434/v1" in result.detail and "hunter2" not in result.detail
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test-123", None
    result = check_agent_provider()
    assert result.status == OK and "sk-test" not in result.detail

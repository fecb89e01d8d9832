"""``core.secrets.secrets_redact``: its quick paths change nothing that the full redaction would.

Every log line passes through it, so the configured secrets are collected once per configuration and a text
holding none of the words of a credential parameter skips that regex. These tests hold the shortcuts to the
plain definition: each configured value, then ``_SECRET_PARAM``, applied to the text as they are.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.secrets import _SECRET_PARAM, secret_values, secrets_redact

TEXTS = [
    "GET /api/v1/data/portfolios/fcd71196-e93e-f000-5a74-31a9eead3118/positions 200 1.2ms user=7 cache=front",
    "GET /prices?apikey=abc123&symbol=AAPL",
    "url https://x/y?API_KEY=abc&b=2 and Api_Key=zzz",
    "refresh_token=r1 access_token=a1 token=t1 TOKEN=T2",
    "password=hunter2 PassWord=Hunter3 PASSWORD='x'",
    # Letters that re.IGNORECASE matches beyond str.lower: the long s (U+017F) and the Kelvin sign (U+212A).
    "pa\u017fsword=secret1",
    "api\u212aey=secret2 and api_\u212aEY=secret3",
    "dotless \u0131 and dotted \u0130: ap\u0131key=v1 ap\u0130_key=v2",
    "no credential here: key = value, token: x, password",
    "",
]


def reference_redact(text: str) -> str:
    """The redaction as defined: every configured value, then every credential parameter, with no shortcut."""
    values = secret_values()
    if values:
        text = re.compile("|".join(re.escape(v) for v in values)).sub("***", text)
    return _SECRET_PARAM.sub(r"\1=***", text)


@pytest.mark.parametrize("text", TEXTS)
def test_the_quick_check_never_skips_a_text_the_full_redaction_changes(text: str) -> None:
    assert secrets_redact(text) == reference_redact(text)


@pytest.mark.parametrize("text", ["pa\u017fsword=secret1", "api\u212aey=secret1"])
def test_the_long_s_and_the_kelvin_sign_are_redacted_as_the_regex_finds_them(text: str) -> None:
    assert "secret1" not in secrets_redact(text)


def test_a_changed_setting_is_redacted_at_once(settings: Any) -> None:
    settings.OPENAI_API_KEY = "sk-first-0123456789"
    assert secrets_redact("a sk-first-0123456789 b") == "a *** b"

    settings.OPENAI_API_KEY = "sk-second-0123456789"

    assert secrets_redact("a sk-second-0123456789 b") == "a *** b"
    assert secrets_redact("a sk-first-0123456789 b") == "a sk-first-0123456789 b"


def test_the_redis_password_is_a_secret(settings: Any) -> None:
    settings.REDIS_URL = "redis://:redis-pass-4242@127.0.0.1:6379/0"

    assert "redis-pass-4242" in secret_values()
    assert secrets_redact("connect redis-pass-4242 failed") == "connect *** failed"

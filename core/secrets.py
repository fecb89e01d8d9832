"""The deployment's secrets, and text with them taken out.

Every log line (``core.logformat.SafeFormatter``) and every vendor error kept in the database
(``marketdata.providers.http.redact``) passes through ``secrets_redact``: whatever echoes a key — an
FMP error body that repeats the ``apikey`` it was sent, an exception holding a connection URL —
the value itself is written as ``***``. Values shorter than ``MIN_SECRET_LENGTH`` are not
searched for (a 3-character "key" would blank out ordinary words).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.signals import setting_changed

MIN_SECRET_LENGTH = 6
SECRET_SETTINGS = ("SECRET_KEY", "FMP_API_KEY", "POLYGON_API_KEY", "OPENAI_API_KEY")
# Query-string and header forms of a credential, whatever its value: ``apikey=…``, ``token=…``.
_SECRET_PARAM = re.compile(r"(?i)(api_?key|apikey|token|access_token|refresh_token|password)=([^&\s'\"]+)")
# What every match of ``_SECRET_PARAM`` holds, lowercased with the long s as "s" (the one letter of these words
# that ``re.IGNORECASE`` matches beyond ``str.lower``; the Kelvin sign lowers to "k"): a text without any is
# returned as it is, unsearched — the case-insensitive alternation costs ~15 µs per 100 characters, and every log
# line passes through it.
_SECRET_PARAM_ENDINGS = ("key=", "token=", "password=")


def _url_password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


# The settings whose values are secrets, or hold one (a password in DATABASES or in the Redis URL).
_WATCHED_SETTINGS = frozenset({*SECRET_SETTINGS, "DATABASES", "REDIS_URL"})
_collected: tuple[str, ...] | None = None  # secret_values() once collected; forgotten when a watched setting changes


def secret_values() -> tuple[str, ...]:
    """The configured secret values (keys, the database's and Redis's passwords), longest first.

    Collected once per process and kept until a setting they come from changes (``setting_changed``: tests'
    ``override_settings``): every log line asks, and reading six settings through Django's lazy object and
    parsing a URL cost more than the rest of a record's formatting."""
    global _collected
    if _collected is not None:
        return _collected
    try:
        from django.conf import settings

        values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
        values.append(str(settings.DATABASES.get("default", {}).get("PASSWORD") or ""))
        values.append(_url_password(str(getattr(settings, "REDIS_URL", "") or "")))
    except Exception:  # settings not configured yet (logging set up during their import): not kept
        return ()
    _collected = tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))
    return _collected


def _forget_collected(*, setting: str, **kwargs: Any) -> None:
    global _collected
    if setting in _WATCHED_SETTINGS:
        _collected = None


setting_changed.connect(_forget_collected, dispatch_uid="core.secrets.forget_collected")


@functools.lru_cache(maxsize=8)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


def secrets_redact(text: str) -> str:
    """``text`` with every configured secret value and every ``apikey=…``-style value as ``***``."""
    pattern = _pattern(secret_values())
    if pattern is not None:
        text = pattern.sub("***", text)
    lowered = text.lower().replace("\u017f", "s")
    if not any(ending in lowered for ending in _SECRET_PARAM_ENDINGS):
        return text
    return _SECRET_PARAM.sub(r"\1=***", text)

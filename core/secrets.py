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
from urllib.parse import urlsplit

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


def secret_values() -> tuple[str, ...]:
    """The configured secret values (keys, the database's and Redis's passwords), longest first."""
    try:
        from django.conf import settings

        configured = tuple(str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS)
        database_password = str(settings.DATABASES.get("default", {}).get("PASSWORD") or "")
        redis_url = str(getattr(settings, "REDIS_URL", "") or "")
    except Exception:  # settings not configured yet (logging set up during their import)
        return ()
    return _secret_values_of((*configured, database_password), redis_url)


@functools.lru_cache(maxsize=8)
def _secret_values_of(values: tuple[str, ...], redis_url: str) -> tuple[str, ...]:
    """The secrets among ``values`` and ``redis_url``'s password, longest first: made once per configuration
    (every log line asks; parsing the URL and sorting cost more than the rest of a record's formatting)."""
    found = {*values, _url_password(redis_url)}
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


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

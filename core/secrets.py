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


def _url_password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def secret_values() -> tuple[str, ...]:
    """The configured secret values (keys, the database's and Redis's passwords), longest first."""
    try:
        from django.conf import settings

        values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
        values.append(str(settings.DATABASES.get("default", {}).get("PASSWORD") or ""))
        values.append(_url_password(str(getattr(settings, "REDIS_URL", "") or "")))
    except Exception:  # settings not configured yet (logging set up during their import)
        return ()
    return tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


@functools.lru_cache(maxsize=8)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


def secrets_redact(text: str) -> str:
    """``text`` with every configured secret value and every ``apikey=…``-style value as ``***``."""
    pattern = _pattern(secret_values())
    if pattern is not None:
        text = pattern.sub("***", text)
    return _SECRET_PARAM.sub(r"\1=***", text)

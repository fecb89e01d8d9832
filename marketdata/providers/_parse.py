"""Lenient parsing of vendor JSON rows into ``Bar``: bad fields become NaN for validation to reject."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marketdata.providers.base import Bar

NEW_YORK = ZoneInfo("America/New_York")


def number(value: Any) -> float:
    """A float, or NaN when the vendor sent null, a string or nothing (validation rejects NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def volume(value: Any) -> int:
    """An integer volume; -1 (rejected) when missing or not a number."""
    v = number(value)
    return int(v) if math.isfinite(v) else -1


def iso_date(value: Any) -> date | None:
    """``date`` from "YYYY-MM-DD" (or "YYYY-MM-DD HH:MM:SS"); None if malformed."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def epoch_ms_date(value: Any) -> date | None:
    """The New York session date of a Polygon bar timestamp (ms since the epoch)."""
    v = number(value)
    if not math.isfinite(v):
        return None
    return datetime.fromtimestamp(v / 1000.0, tz=NEW_YORK).date()


def bar(symbol: str, when: date, o: Any, h: Any, lo: Any, c: Any, adj: Any, v: Any) -> Bar:
    close = number(c)
    adjusted = number(adj) if adj is not None else close
    return Bar(symbol, when, number(o), number(h), number(lo), close, adjusted, volume(v))


def row_symbol(asked: str, vendor_symbol: str, sent: Any) -> str:
    """The symbol a vendor row is for: ``asked`` when the row names the symbol asked for (as ours or as
    the vendor's spelling, e.g. ``^VIX``) or names none; otherwise the other ticker it names, so that
    validation refuses it (``marketdata.quality.bars_validate``) instead of storing it as ``asked``."""
    if sent is None or sent == "":
        return asked
    named = str(sent).strip()
    if named.upper() in (asked.upper(), vendor_symbol.upper()):
        return asked
    return named[:40] or asked

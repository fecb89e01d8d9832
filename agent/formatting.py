"""The one place figures are turned into text for answers: money, percentages, ratios.

Money: ``$1,234,567`` (no decimals at or above $1,000, cents below), a minus sign before the
dollar sign for losses. Percentages take decimals (0.052 → ``5.2%``) with one decimal. Tests
format expected figures with these same functions, so an answer and its check never drift apart.
"""

from __future__ import annotations

import math

MISSING = "n/a"


def _finite(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money(value: object) -> str:
    """USD amount: ``$1,234,567``, ``-$12,345``, ``$987.65``."""
    number = _finite(value)
    if number is None:
        return MISSING
    sign = "-" if number < 0 else ""
    magnitude = abs(number)
    if round(magnitude) >= 1000:
        return f"{sign}${magnitude:,.0f}"
    if round(magnitude, 2) == 0:
        return "$0.00"
    return f"{sign}${magnitude:,.2f}"


def pct(value: object) -> str:
    """A decimal fraction as a percentage with one decimal: 0.0523 → ``5.2%``."""
    number = _finite(value)
    if number is None:
        return MISSING
    text = f"{number * 100:.1f}"
    return ("0.0" if text == "-0.0" else text) + "%"


def ratio(value: object, digits: int = 2) -> str:
    """A beta, correlation, leverage or Greek: ``1.23``, ``-0.45``."""
    number = _finite(value)
    if number is None:
        return MISSING
    text = f"{number:,.{digits}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def count(value: object) -> str:
    number = _finite(value)
    return MISSING if number is None else f"{round(number):,}"


def rounded(value: object, digits: int = 2) -> float | None:
    """A JSON-friendly float rounded for tool results (None stays None, never a fake zero)."""
    number = _finite(value)
    return None if number is None else round(number, digits)

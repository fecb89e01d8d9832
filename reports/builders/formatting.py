"""Number formatting for the human-readable reports ($1,234,567; -$12,345; 12.3%; 0.87)."""

from __future__ import annotations

import math

MISSING = "—"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def money(value: object, *, decimals: int = 0) -> str:
    """US dollars with thousands separators; the sign goes before the dollar sign."""
    if not _is_number(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    text = f"${abs(number):,.{decimals}f}"
    return f"-{text}" if number < 0 and text.strip("$0.,") else text


def pct(value: object, *, decimals: int = 1) -> str:
    """A decimal fraction as a percentage (0.123 → 12.3%)."""
    if not _is_number(value):
        return MISSING
    return f"{float(value) * 100:.{decimals}f}%"  # type: ignore[arg-type]


def num(value: object, *, decimals: int = 2) -> str:
    """A plain number with thousands separators (betas, Greeks, counts)."""
    if not _is_number(value):
        return MISSING
    return f"{float(value):,.{decimals}f}"  # type: ignore[arg-type]


def quantity(value: object) -> str:
    """Shares or contracts: no decimals when whole."""
    if not _is_number(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.4f}".rstrip("0")


def text(value: object) -> str:
    if value is None or value == "":
        return MISSING
    return str(value)

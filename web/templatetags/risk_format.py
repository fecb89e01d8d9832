"""Number formats of the web app, in one place: ``{% load risk_format %}``.

Money is US dollars with thousands separators and the sign before the dollar sign (``-$12,345``);
``signed_*`` filters always show the sign (``+$1,234``); percentages take decimal fractions
(0.123 → ``12.3%``); ``sign_class`` gives the CSS class that colours P&L (``neg`` red for losses,
``pos`` green for gains). A value that rounds to zero at the shown precision is shown unsigned.
Missing, non-numeric or non-finite values show as an em dash. Hyphen-minus is used for negatives so
that figures paste into a spreadsheet as numbers.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

MISSING = "—"


def _number(value: Any) -> float | None:
    """A finite float, or None for None, booleans, text that is not a number, NaN and infinities."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _signed(text: str, number: float, *, always: bool) -> str:
    """``text`` (the absolute value formatted) with the sign of ``number``; zero after rounding is unsigned."""
    if not text.strip("$0.,%×x"):
        return text
    if number < 0:
        return f"-{text}"
    return f"+{text}" if always else text


@register.filter
def money(value: Any, decimals: int = 0) -> str:
    """``$1,234,567``, ``-$1,234``; ``decimals`` digits after the point (default none)."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"${abs(number):,.{int(decimals)}f}", number, always=False)


@register.filter
def signed_money(value: Any, decimals: int = 0) -> str:
    """``+$1,234`` / ``-$1,234``: P&L and changes."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"${abs(number):,.{int(decimals)}f}", number, always=True)


@register.filter
def compact_money(value: Any) -> str:
    """``$8.20M``, ``-$450.1k``, ``$2.35B`` for tight spaces (three significant digits)."""
    number = _number(value)
    if number is None:
        return MISSING
    size = abs(number)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= threshold:
            scaled = size / threshold
            text = f"${scaled:,.{2 if scaled < 10 else 1 if scaled < 100 else 0}f}{suffix}"
            break
    else:
        text = f"${size:,.0f}"
    return _signed(text, number, always=False)


@register.filter
def pct(value: Any, decimals: int = 1) -> str:
    """A decimal fraction as a percentage: 0.1234 → ``12.3%``."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"{abs(number) * 100:,.{int(decimals)}f}%", number, always=False)


@register.filter
def signed_pct(value: Any, decimals: int = 1) -> str:
    """``+1.2%`` / ``-0.8%``: returns and changes."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"{abs(number) * 100:,.{int(decimals)}f}%", number, always=True)


@register.filter
def num(value: Any, decimals: int = 2) -> str:
    """A plain number with thousands separators: betas, Greeks, correlations."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"{abs(number):,.{int(decimals)}f}", number, always=False)


@register.filter
def signed_num(value: Any, decimals: int = 2) -> str:
    """``+1.15`` / ``-0.42``: betas and shocks where the direction matters."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"{abs(number):,.{int(decimals)}f}", number, always=True)


@register.filter
def qty(value: Any) -> str:
    """Shares or contracts: ``1,500``, ``-25``, ``12.5`` (no trailing zeros)."""
    number = _number(value)
    if number is None:
        return MISSING
    text = f"{abs(number):,.0f}" if number.is_integer() else f"{abs(number):,.6f}".rstrip("0").rstrip(".")
    return _signed(text, number, always=False)


@register.filter
def multiple(value: Any, decimals: int = 2) -> str:
    """Leverage as a multiple of equity: ``3.79×``."""
    number = _number(value)
    if number is None:
        return MISSING
    return _signed(f"{abs(number):,.{int(decimals)}f}×", number, always=False)


@register.filter
def sign_class(value: Any) -> str:
    """``neg`` (red) for a loss, ``pos`` (green) for a gain, ``""`` for zero or missing."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "neg" if number < 0 else "pos"


@register.filter
def loss_class(value: Any) -> str:
    """``neg`` (red) for a negative figure only: losses among figures whose gains are not coloured."""
    number = _number(value)
    return "neg" if number is not None and number < 0 else ""


def _length(value: Any, maximum: Any) -> float:
    """|value| as a share of |maximum|, 0–1."""
    number, top = _number(value), _number(maximum)
    if number is None or not top:
        return 0.0
    return min(1.0, abs(number) / abs(top))


@register.simple_tag
def hbar(
    value: Any, maximum: Any, *, diverging: bool = False, positive: str = "bar-pos", negative: str = "bar-neg"
) -> SafeString:
    """A horizontal bar as inline SVG (no style attributes, so it works under a strict CSP).

    ``value``'s length is relative to ``maximum``; plain bars grow from the left, ``diverging``
    ones from a centre line (negative to the left). The CSS class says the colour: ``positive``
    for values ≥ 0, ``negative`` below.
    """
    number = _number(value)
    css = negative if number is not None and number < 0 else positive
    length = _length(value, maximum)
    if diverging:
        half = length * 50
        x = 50 - half if number is not None and number < 0 else 50
        return format_html(
            '<svg class="hbar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            '<rect x="{}" y="1" width="{}" height="8" class="{}"/>'
            '<line x1="50" y1="0" x2="50" y2="10" class="bar-axis"/></svg>',
            f"{x:.2f}",
            f"{half:.2f}",
            css,
        )
    return format_html(
        '<svg class="hbar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
        '<rect x="0" y="1" width="{}" height="8" class="{}"/></svg>',
        f"{length * 100:.2f}",
        css,
    )


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``mapping[key]`` or None: dictionary lookups with a variable key."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None


@register.filter
def pretty_json(value: Any) -> str:
    """A tool call's arguments or result as indented JSON (a JSON string is parsed first)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)

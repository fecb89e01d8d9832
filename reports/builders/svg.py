"""A small SVG chart builder: vertical bars, horizontal bars and a heatmap, returned as inline SVG text.

Pure functions without third-party dependencies (the report used to draw with matplotlib, whose
import alone cost about a second per process). Every chart is a standalone, well-formed XML
``<svg>`` element that can be inlined in HTML:

* all text (titles, labels, tooltips) goes through :func:`esc`, so symbols and scenario names
  such as ``S&P <500>`` can never break the markup;
* the chart has ``role="img"``, an ``aria-label``, a ``<title>`` and a ``<desc>``; every bar and
  heatmap cell carries its own ``<title>`` (a tooltip with the exact value);
* the output is deterministic (no dates, no random ids), so a rerun on the same data gives the
  same bytes. The only id (the heatmap's colour gradient) is prefixed with the chart's ``key`` so
  that several charts inlined in one page cannot collide.

Text widths are estimated from the character count (no font metrics on a server); layouts are
generous enough for Helvetica/Arial at the sizes used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

FONT_FAMILY = "Helvetica, Arial, sans-serif"
TEXT_COLOUR = "#222222"
AXIS_COLOUR = "#555555"
GRID_COLOUR = "#e0e0e0"
ZERO_COLOUR = "#000000"
MISSING_COLOUR = "#d9d9d9"
# Glyph widths as a fraction of the font size (Helvetica/Arial, rounded up): capitals and digits
# are wide, a few letters and punctuation narrow, the rest in between.
WIDE_CHAR_WIDTH = 0.7
CHAR_WIDTH = 0.56
NARROW_CHAR_WIDTH = 0.3
NARROW_CHARS = frozenset("iljtfr.,:;'!|() ")

# Diverging blue → white → red scale for −1 … +1 (ColorBrewer RdBu, reversed, as matplotlib's RdBu_r).
DIVERGING_STOPS: tuple[str, ...] = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#f7f7f7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
)

TickFormat = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    """One bar: its category label, value, fill colour and the text printed next to it."""

    label: str
    value: float
    colour: str
    value_label: str
    emphasis: bool = False  # drawn with a bold label and outline (e.g. the worst stress scenario)

    @property
    def tooltip(self) -> str:
        return f"{self.label}: {self.value_label}"


# --- primitives -------------------------------------------------------------------------------


def esc(value: object) -> str:
    """Escape text for XML content and double-quoted attributes (``& < > " '``)."""
    return escape(str(value), quote=True)


def fmt(number: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (``12.5``, ``3``, never ``-0``)."""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text_width(text: str, size: float) -> float:
    """Estimated rendered width in pixels of ``text`` at font ``size`` (no font metrics on a server)."""
    return sum(_glyph_width(char) for char in text) * size


def _glyph_width(char: str) -> float:
    if char.isupper() or char.isdigit() or char in "$%&@mw—…":
        return WIDE_CHAR_WIDTH
    return NARROW_CHAR_WIDTH if char in NARROW_CHARS else CHAR_WIDTH


def truncate(text: str, size: float, max_width: float) -> str:
    """``text`` cut with an ellipsis so that it fits ``max_width`` at font ``size``."""
    if text_width(text, size) <= max_width:
        return text
    keep = len(text)
    while keep > 1 and text_width(text[:keep] + "…", size) > max_width:
        keep -= 1
    return text[:keep].rstrip() + "…"


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``, with steps of 1, 2, 2.5 or 5 × 10ⁿ.

    The first tick is ≤ ``low`` and the last ≥ ``high``; an empty range becomes ``[low, low + 1]``.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("nice_ticks needs finite bounds")
    low, high = min(low, high), max(low, high)
    if high == low:
        high = low + 1
    raw = (high - low) / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(low / step + 1e-9)
    stop = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) + 0.0 for i in range(start, stop + 1)]


def two_decimals(value: float) -> str:
    """``0.87``, ``-0.25``; a value that rounds to zero is ``0.00``, never ``-0.00``."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def linear_scale(domain: tuple[float, float], pixels: tuple[float, float]) -> Callable[[float], float]:
    """Map ``domain`` linearly onto ``pixels`` (either may be reversed)."""
    (d0, d1), (p0, p1) = domain, pixels
    ratio = (p1 - p0) / (d1 - d0) if d1 != d0 else 0.0
    return lambda value: p0 + (value - d0) * ratio


def diverging_colour(value: float | None, vmin: float = -1.0, vmax: float = 1.0) -> str:
    """The ``#rrggbb`` colour of ``value`` on the blue (vmin) → white → red (vmax) scale."""
    if value is None or not math.isfinite(value):
        return MISSING_COLOUR
    t = min(1.0, max(0.0, (value - vmin) / (vmax - vmin))) * (len(DIVERGING_STOPS) - 1)
    index = min(int(t), len(DIVERGING_STOPS) - 2)
    lo, hi = DIVERGING_STOPS[index], DIVERGING_STOPS[index + 1]
    frac = t - index
    channels = (
        round(int(lo[i : i + 2], 16) + (int(hi[i : i + 2], 16) - int(lo[i : i + 2], 16)) * frac) for i in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in channels)


def text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float | None = None,
    bold: bool = False,
    fill: str | None = None,
    rotate: float | None = None,
    middle: bool = False,
) -> str:
    """A ``<text>`` element; ``middle`` centres it vertically on ``y``, ``rotate`` turns it about (x, y)."""
    attrs = [f'x="{fmt(x)}"', f'y="{fmt(y)}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if middle:
        attrs.append('dy="0.35em"')
    if size is not None:
        attrs.append(f'font-size="{fmt(size)}"')
    if bold:
        attrs.append('font-weight="bold"')
    if fill is not None:
        attrs.append(f'fill="{esc(fill)}"')
    if rotate is not None:
        attrs.append(f'transform="rotate({fmt(rotate)} {fmt(x)} {fmt(y)})"')
    return f"<text {' '.join(attrs)}>{esc(content)}</text>"


def rect(
    x: float,
    y: float,
    width: float,
    height: float,
    fill: str,
    *,
    tooltip: str | None = None,
    stroke: str | None = None,
    css_class: str | None = None,
) -> str:
    """A ``<rect>``, with a ``<title>`` tooltip when given."""
    attrs = f'x="{fmt(x)}" y="{fmt(y)}" width="{fmt(max(0.0, width))}" height="{fmt(max(0.0, height))}"'
    attrs += f' fill="{esc(fill)}"'
    if stroke:
        attrs += f' stroke="{esc(stroke)}" stroke-width="1.5"'
    if css_class:
        attrs += f' class="{esc(css_class)}"'
    if tooltip is None:
        return f"<rect {attrs}/>"
    return f"<rect {attrs}><title>{esc(tooltip)}</title></rect>"


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = GRID_COLOUR, width: float = 1.0) -> str:
    return (
        f'<line x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" '
        f'stroke="{esc(stroke)}" stroke-width="{fmt(width)}"/>'
    )


def document(*, key: str, width: float, height: float, title: str, description: str, body: Sequence[str]) -> str:
    """Wrap ``body`` in an accessible, standalone ``<svg>`` root with a centred title."""
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{_id(key)}" role="img" '
            f'aria-label="{esc(title)}" width="{fmt(width)}" height="{fmt(height)}" '
            f'viewBox="0 0 {fmt(width)} {fmt(height)}" font-family="{FONT_FAMILY}" font-size="12" '
            f'fill="{TEXT_COLOUR}">',
            f"<title>{esc(title)}</title>",
            f"<desc>{esc(description)}</desc>",
            f'<rect width="{fmt(width)}" height="{fmt(height)}" fill="#ffffff"/>',
            text(width / 2, 24, title, anchor="middle", size=15, bold=True),
            *body,
            "</svg>",
        ]
    )


def _id(key: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "chart"


def _describe(bars: Sequence[Bar]) -> str:
    return "; ".join(bar.tooltip for bar in bars)


# --- charts -----------------------------------------------------------------------------------

TITLE_SPACE = 44  # pixels above the plot area for the title
LABEL_SIZE = 11
VALUE_SIZE = 10
TICK_SIZE = 10


def bar_chart(
    *,
    key: str,
    title: str,
    bars: Sequence[Bar],
    tick_format: TickFormat,
    width: float = 720,
    plot_height: float = 220,
    description: str = "",
) -> str:
    """Vertical bars from a zero baseline, a value printed on each bar, horizontal grid lines.

    Category labels are slanted when they do not fit under their bar.
    """
    if not bars:
        raise ValueError("bar_chart needs at least one bar")
    values = [bar.value for bar in bars]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    tick_labels = [tick_format(t) for t in ticks]
    left = max(text_width(label, TICK_SIZE) for label in tick_labels) + 14
    right = 16
    band = (width - left - right) / len(bars)
    widest = max(text_width(bar.label, LABEL_SIZE) for bar in bars)
    slanted = widest > band - 6
    label_space = widest * 0.5 + LABEL_SIZE + 14 if slanted else LABEL_SIZE + 14
    top, bottom = TITLE_SPACE, TITLE_SPACE + plot_height
    pad_top = VALUE_SIZE + 6 if max(values) > 0 else 0
    pad_bottom = VALUE_SIZE + 6 if min(values) < 0 else 0
    y = linear_scale((ticks[0], ticks[-1]), (bottom - pad_bottom, top + pad_top))
    body: list[str] = []
    for tick, label in zip(ticks, tick_labels, strict=True):
        body.append(line(left, y(tick), width - right, y(tick)))
        body.append(text(left - 6, y(tick), label, anchor="end", size=TICK_SIZE, fill=AXIS_COLOUR, middle=True))
    zero = y(0.0)
    for index, bar in enumerate(bars):
        centre = left + band * (index + 0.5)
        top_edge = min(zero, y(bar.value))
        body.append(
            rect(
                centre - band * 0.35,
                top_edge,
                band * 0.7,
                abs(y(bar.value) - zero),
                bar.colour,
                tooltip=bar.tooltip,
                stroke=ZERO_COLOUR if bar.emphasis else None,
                css_class="bar",
            )
        )
        value_y = y(bar.value) - 5 if bar.value >= 0 else y(bar.value) + VALUE_SIZE + 3
        body.append(text(centre, value_y, bar.value_label, anchor="middle", size=VALUE_SIZE))
        if slanted:
            body.append(text(centre, bottom + 14, bar.label, anchor="end", size=LABEL_SIZE, rotate=-30))
        else:
            body.append(text(centre, bottom + 16, bar.label, anchor="middle", size=LABEL_SIZE, bold=bar.emphasis))
    body.append(line(left, zero, width - right, zero, stroke=ZERO_COLOUR))
    height = bottom + label_space
    return document(
        key=key, width=width, height=height, title=title, description=description or _describe(bars), body=body
    )


def horizontal_bar_chart(
    *,
    key: str,
    title: str,
    bars: Sequence[Bar],
    tick_format: TickFormat,
    width: float = 760,
    row_height: float = 22,
    description: str = "",
) -> str:
    """Horizontal bars, one row per bar in the given order (top to bottom), values at the bar ends.

    Labels longer than 40% of the width are cut with an ellipsis (the full text stays in the
    bar's tooltip and in ``<desc>``). An ``emphasis`` bar gets a bold label and an outline.
    """
    if not bars:
        raise ValueError("horizontal_bar_chart needs at least one bar")
    values = [bar.value for bar in bars]
    max_label = width * 0.4
    left = min(max(text_width(bar.label, LABEL_SIZE) for bar in bars), max_label) + 20
    right = 16
    value_room = max(text_width(bar.value_label, VALUE_SIZE) for bar in bars) + 8
    pad_left = value_room if min(values) < 0 else 0
    pad_right = value_room if max(values) > 0 else 0
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    x = linear_scale((ticks[0], ticks[-1]), (left + pad_left, width - right - pad_right))
    top = TITLE_SPACE
    bottom = top + row_height * len(bars)
    body: list[str] = []
    for tick in ticks:
        body.append(line(x(tick), top, x(tick), bottom))
        body.append(text(x(tick), bottom + 16, tick_format(tick), anchor="middle", size=TICK_SIZE, fill=AXIS_COLOUR))
    zero = x(0.0)
    for index, bar in enumerate(bars):
        centre = top + row_height * (index + 0.5)
        end = x(bar.value)
        body.append(
            rect(
                min(zero, end),
                centre - row_height * 0.35,
                abs(end - zero),
                row_height * 0.7,
                bar.colour,
                tooltip=bar.tooltip,
                stroke=ZERO_COLOUR if bar.emphasis else None,
                css_class="bar",
            )
        )
        label = truncate(bar.label, LABEL_SIZE, max_label)
        body.append(
            text(
                left - 8,
                centre,
                label,
                anchor="end",
                size=LABEL_SIZE,
                bold=bar.emphasis,
                fill=bar.colour if bar.emphasis else None,
                middle=True,
            )
        )
        if bar.value >= 0:
            body.append(text(end + 4, centre, bar.value_label, size=VALUE_SIZE, bold=bar.emphasis, middle=True))
        else:
            body.append(
                text(end - 4, centre, bar.value_label, anchor="end", size=VALUE_SIZE, bold=bar.emphasis, middle=True)
            )
    body.append(line(zero, top, zero, bottom, stroke=ZERO_COLOUR))
    return document(
        key=key,
        width=width,
        height=bottom + 28,
        title=title,
        description=description or _describe(bars),
        body=body,
    )


def heatmap(
    *,
    key: str,
    title: str,
    labels: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    vmin: float = -1.0,
    vmax: float = 1.0,
    value_format: TickFormat | None = None,
    max_grid: float = 520,
    description: str = "",
) -> str:
    """A square matrix as coloured cells (blue = ``vmin``, white = midpoint, red = ``vmax``).

    Row labels on the left, column labels slanted below, a vertical colour scale on the right;
    each cell's value is printed when the cells are large enough and is always in its tooltip.
    ``None`` (or a non-finite number) is drawn grey and labelled "n/a".
    """
    value_format = value_format or two_decimals
    n = len(labels)
    if n == 0 or len(matrix) != n or any(len(row) != n for row in matrix):
        raise ValueError("heatmap needs an n × n matrix with n labels")
    cell = min(36.0, max(12.0, max_grid / n))
    label_size = 10.0 if cell >= 16 else 8.0
    widest = max(text_width(label, label_size) for label in labels)
    left = widest + 16
    top = TITLE_SPACE
    grid = cell * n
    scale_x = left + grid + 24
    scale_width = 14.0
    ticks = [t for t in nice_ticks(vmin, vmax, 4) if vmin - 1e-9 <= t <= vmax + 1e-9]
    scale_labels = [value_format(t) for t in ticks]
    width = scale_x + scale_width + 8 + max(text_width(s, TICK_SIZE) for s in scale_labels) + 12
    height = top + grid + widest * 0.71 + 18
    show_values = cell >= 26
    gradient_id = f"{_id(key)}-scale"
    body: list[str] = []
    for row, (row_label, values) in enumerate(zip(labels, matrix, strict=True)):
        cy = top + cell * (row + 0.5)
        body.append(text(left - 6, cy, row_label, anchor="end", size=label_size, middle=True))
        for col, (col_label, value) in enumerate(zip(labels, values, strict=True)):
            number = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
            shown = "n/a" if number is None else value_format(number)
            body.append(
                rect(
                    left + cell * col,
                    top + cell * row,
                    cell,
                    cell,
                    diverging_colour(number, vmin, vmax),
                    tooltip=f"{row_label} × {col_label}: {shown}",
                    css_class="cell",
                )
            )
            if show_values:
                strong = number is not None and abs((number - (vmin + vmax) / 2) / ((vmax - vmin) / 2)) > 0.55
                body.append(
                    text(
                        left + cell * (col + 0.5),
                        cy,
                        shown,
                        anchor="middle",
                        size=9,
                        fill="#ffffff" if strong else TEXT_COLOUR,
                        middle=True,
                    )
                )
    for col, col_label in enumerate(labels):
        cx = left + cell * (col + 0.5)
        body.append(text(cx + label_size * 0.3, top + grid + 8, col_label, anchor="end", size=label_size, rotate=-45))
    # colour scale: vmax at the top, vmin at the bottom
    stops = "".join(
        f'<stop offset="{fmt(100 * i / (len(DIVERGING_STOPS) - 1))}%" stop-color="{colour}"/>'
        for i, colour in enumerate(reversed(DIVERGING_STOPS))
    )
    body.append(f'<defs><linearGradient id="{gradient_id}" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs>')
    body.append(
        f'<rect x="{fmt(scale_x)}" y="{fmt(top)}" width="{fmt(scale_width)}" height="{fmt(grid)}" '
        f'fill="url(#{gradient_id})" stroke="{AXIS_COLOUR}" stroke-width="0.5"/>'
    )
    y = linear_scale((vmin, vmax), (top + grid, top))
    for tick, label in zip(ticks, scale_labels, strict=True):
        body.append(line(scale_x + scale_width, y(tick), scale_x + scale_width + 4, y(tick), stroke=AXIS_COLOUR))
        body.append(text(scale_x + scale_width + 7, y(tick), label, size=TICK_SIZE, fill=AXIS_COLOUR, middle=True))
    summary = description or f"{n} × {n} matrix of {', '.join(labels)}; colour from {vmin:g} (blue) to {vmax:g} (red)."
    return document(key=key, width=width, height=height, title=title, description=summary, body=body)

"""The SVG chart builder and the report charts: well-formed, accessible, one mark per value, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from analytics.results import spec_for
from reports.builders.charts import WORST, chart_svg, money_tick
from reports.builders.svg import (
    DIVERGING_STOPS,
    MISSING_COLOUR,
    Bar,
    bar_chart,
    diverging_colour,
    esc,
    fmt,
    heatmap,
    horizontal_bar_chart,
    nice_ticks,
    truncate,
    two_decimals,
)
from reports.tests.factories import FACTORS, payloads

NS = "{http://www.w3.org/2000/svg}"
CHART_KINDS = ("overview", "factor_exposures", "stress_test", "correlations")


def chart(kind: str, payload: dict[str, Any]) -> str | None:
    """The first chart a kind's report section declares for ``payload``, drawn (None when none is drawn)."""
    drawn = [svg for c in spec_for(kind).report(payload).charts if (svg := chart_svg(c))]
    return drawn[0] if drawn else None


def exposures_chart(payload: dict[str, Any]) -> str | None:
    return chart("overview", payload)


def factor_betas_chart(payload: dict[str, Any]) -> str | None:
    return chart("factor_exposures", payload)


def stress_chart(payload: dict[str, Any]) -> str | None:
    return chart("stress_test", payload)


def correlation_heatmap(payload: dict[str, Any]) -> str | None:
    return chart("correlations", payload)


def scenario(sid: str, name: str, pnl: float | None) -> dict[str, Any]:
    return {**payloads()["stress_test"]["scenarios"][0], "id": sid, "name": name, "conditioned_pnl": pnl}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own output) — raises on malformed XML or a stray & / <
    assert root.tag == f"{NS}svg"
    return root


def marks(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [el for el in root.iter(f"{NS}rect") if el.get("class") == css_class]


def tooltip(element: ET.Element) -> str:
    title = element.find(f"{NS}title")
    assert title is not None
    return title.text or ""


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{NS}text")]


def test_each_report_chart_is_well_formed_and_accessible():
    stored = payloads()
    for kind in CHART_KINDS:
        root = parse(chart(kind, stored[kind]))
        assert root.get("role") == "img"
        children = list(root)
        assert children[0].tag == f"{NS}title" and children[0].text == root.get("aria-label")
        assert children[1].tag == f"{NS}desc" and children[1].text
        assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_the_exposures_chart_has_a_bar_per_value_with_its_amount():
    payload = payloads()["overview"]
    root = parse(exposures_chart(payload))
    bars = marks(root, "bar")
    assert [tooltip(b) for b in bars] == [
        "Long: $21,783",
        "Short: -$5,055",
        "Gross: $26,838",
        "Net: $16,728",
        "Delta-adjusted: $87,145",
    ]
    assert "-$5,055" in texts(root) and "Delta-adjusted" in texts(root)
    assert bars[1].get("fill") == "#c62828"  # the short (negative) bar
    exposures = ("long_exposure", "short_exposure", "gross_exposure", "net_exposure", "delta_adjusted_exposure")
    assert exposures_chart({**payload, **dict.fromkeys(exposures)}) is None


def test_the_factor_betas_chart_has_a_bar_per_factor_in_order():
    payload = payloads()["factor_exposures"]
    root = parse(factor_betas_chart(payload))
    bars = marks(root, "bar")
    assert [tooltip(b).split(":")[0] for b in bars] == FACTORS
    assert factor_betas_chart({**payload, "factors": ["market"], "portfolio_betas": {}}) is None


def test_the_worst_stress_scenario_is_on_top_and_highlighted():
    payload = payloads()["stress_test"]
    root = parse(stress_chart(payload))
    bars = marks(root, "bar")
    assert len(bars) == len(payload["scenarios"])
    highlighted = [b for b in bars if b.get("fill") == WORST]
    assert len(highlighted) == 1 and highlighted[0] is bars[0]
    assert tooltip(highlighted[0]).startswith("Global financial crisis: -$31,235")
    assert highlighted[0].get("stroke")  # outlined as well as coloured
    bold = [el.text for el in root.iter(f"{NS}text") if el.get("font-weight") == "bold" and el.get("fill") == WORST]
    assert bold == ["Global financial crisis"]
    values = [float(b.get("width")) for b in bars]
    assert all(v >= 0 for v in values)


def test_the_stress_chart_falls_back_to_the_lowest_pnl_when_no_worst_is_stored():
    payload = {
        **payloads()["stress_test"],
        "scenarios": [
            scenario("a", "Mild", -10.0),
            scenario("b", "Rally", 50.0),
            scenario("c", "Severe", -90.0),
            scenario("d", "Unpriced", None),
        ],
        "worst": None,
    }
    bars = marks(parse(stress_chart(payload)), "bar")
    assert [tooltip(b).split(":")[0] for b in bars] == ["Severe", "Mild", "Rally"]
    assert [b.get("fill") for b in bars] == [WORST, "#9e9e9e", "#2e7d32"]


def test_the_heatmap_has_n_squared_cells_and_a_colour_scale():
    payload = payloads()["correlations"]
    n = len(payload["symbols"])
    root = parse(correlation_heatmap(payload))
    cells = marks(root, "cell")
    assert len(cells) == n * n
    assert tooltip(cells[0]) == f"{payload['symbols'][0]} × {payload['symbols'][0]}: 1.00"
    assert cells[0].get("fill") == DIVERGING_STOPS[-1]  # +1 is the darkest red
    gradients = list(root.iter(f"{NS}linearGradient"))
    assert len(gradients) == 1 and len(gradients[0]) == len(DIVERGING_STOPS)
    assert {"-1.00", "0.00", "1.00"} <= set(texts(root))


def test_the_heatmap_draws_missing_values_grey_and_rejects_bad_shapes():
    root = parse(heatmap(key="h", title="t", labels=["A", "B"], matrix=[[1.0, None], [None, 1.0]]))
    cells = marks(root, "cell")
    assert [c.get("fill") for c in cells][1:3] == [MISSING_COLOUR, MISSING_COLOUR]
    assert tooltip(cells[1]) == "A × B: n/a"
    with pytest.raises(ValueError):
        heatmap(key="h", title="t", labels=["A", "B"], matrix=[[1.0]])
    correlations = payloads()["correlations"]
    assert correlation_heatmap({**correlations, "symbols": ["A"], "matrix": [[1.0]]}) is None
    assert correlation_heatmap({**correlations, "symbols": ["A", "B"], "matrix": [[1.0, 0.5], [0.5]]}) is None


def test_symbols_and_names_are_escaped():
    nasty = "S&P <500> \"x\" 'y'"
    payload = {
        **payloads()["correlations"],
        "symbols": [nasty, "</svg><script>alert(1)</script>"],
        "matrix": [[1.0, -0.5], [-0.5, 1.0]],
    }
    svg = correlation_heatmap(payload)
    assert "<script" not in svg and "&amp;" in svg and "&lt;500&gt;" in svg
    root = parse(svg)
    assert nasty in texts(root)
    assert tooltip(marks(root, "cell")[1]) == f"{nasty} × </svg><script>alert(1)</script>: -0.50"
    stress = stress_chart({**payloads()["stress_test"], "scenarios": [scenario("x", "Crash & <burn>", -1.0)]})
    assert "Crash & <burn>" in texts(parse(stress))
    title = bar_chart(key="k", title='A "quoted" & <b>', bars=[Bar("a", 1, "#000", "1")], tick_format=str)
    assert parse(title).get("aria-label") == 'A "quoted" & <b>'


def test_long_labels_are_truncated_but_kept_whole_in_the_tooltip():
    name = "An extremely long stress scenario name that would not fit on the left of the chart at all"
    root = parse(
        horizontal_bar_chart(key="s", title="t", bars=[Bar(name, -5.0, "#000", "-$5")], tick_format=money_tick)
    )
    assert tooltip(marks(root, "bar")[0]) == f"{name}: -$5"
    label = next(t for t in texts(root) if t.startswith("An extremely"))
    assert label.endswith("…") and len(label) < len(name)


def test_charts_are_deterministic_and_their_ids_do_not_collide():
    stored = payloads()
    first = [chart(kind, stored[kind]) for kind in CHART_KINDS]
    assert first == [chart(kind, stored[kind]) for kind in CHART_KINDS]
    ids = [el.get("id") for svg in first for el in parse(svg).iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def test_all_zero_and_all_negative_values_still_draw():
    zero = parse(bar_chart(key="z", title="t", bars=[Bar("a", 0.0, "#000", "0")], tick_format=str))
    assert len(marks(zero, "bar")) == 1
    negative = [Bar("a", -3.0, "#000", "-3"), Bar("b", -1.0, "#000", "-1")]
    root = parse(bar_chart(key="n", title="t", bars=negative, tick_format=str))
    assert all(float(b.get("height")) > 0 for b in marks(root, "bar"))
    with pytest.raises(ValueError):
        bar_chart(key="e", title="t", bars=[], tick_format=str)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 26838, [0, 10000, 20000, 30000]),
        (-5055, 0, [-6000, -4000, -2000, 0]),
        (0, 87144.789, [0, 20000, 40000, 60000, 80000, 100000]),
        (-0.3, 1.7, [-0.5, 0, 0.5, 1, 1.5, 2]),
        (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (-1, 1, [-1, -0.5, 0, 0.5, 1]),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(low, high, expected):
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_small_helpers():
    assert esc('<a & "b">') == "&lt;a &amp; &quot;b&quot;&gt;"
    assert fmt(12.5) == "12.5" and fmt(3.0) == "3" and fmt(-0.001) == "0"
    assert truncate("short", 10, 100) == "short"
    assert [two_decimals(v) for v in (0.866, -0.004, -0.25)] == ["0.87", "0.00", "-0.25"]
    assert diverging_colour(-1) == DIVERGING_STOPS[0] and diverging_colour(1) == DIVERGING_STOPS[-1]
    assert diverging_colour(0) == "#f7f7f7" and diverging_colour(5) == DIVERGING_STOPS[-1]
    assert diverging_colour(None) == diverging_colour(float("nan")) == MISSING_COLOUR
    assert [money_tick(v) for v in (0, 250_000, -1_500_000, 2e9, 950)] == ["$0", "$250k", "-$1.5M", "$2B", "$950"]

"""The web app's number formats, against hand-written expectations."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from web.templatetags import risk_format as f


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1234567.4, "$1,234,567"), (-1234.5, "-$1,234"), (0, "$0"), (-0.4, "$0"), (Decimal("99.5"), "$100"),
     (None, "—"), (math.nan, "—"), (math.inf, "—"), (True, "—"), ("12.5", "$12"), ("abc", "—")],
)  # fmt: skip
def test_money(value, expected) -> None:
    assert f.money(value) == expected


def test_money_with_decimals_and_signed_money() -> None:
    assert f.money(-1234.567, 2) == "-$1,234.57"
    assert f.signed_money(31912.5) == "+$31,912"
    assert f.signed_money(-31912.5) == "-$31,912"
    assert f.signed_money(0.2) == "$0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(8199511.1, "$8.20M"), (-450123, "-$450k"), (2.35e9, "$2.35B"), (12_345_678, "$12.3M"), (999, "$999"),
     (45_600, "$45.6k")],
)  # fmt: skip
def test_compact_money(value, expected) -> None:
    assert f.compact_money(value) == expected


def test_percentages_take_decimal_fractions() -> None:
    assert f.pct(0.1234) == "12.3%"
    assert f.pct(-0.0099727, 2) == "-1.00%"
    assert f.signed_pct(0.0123, 2) == "+1.23%"
    assert f.signed_pct(-2.707307) == "-270.7%"
    assert f.signed_pct(0.00001) == "0.0%"
    assert f.pct(None) == "—"


def test_numbers_quantities_and_multiples() -> None:
    assert f.num(8.6001) == "8.60"
    assert f.signed_num(-1.2639) == "-1.26"
    assert f.signed_num(2.3553) == "+2.36"
    assert f.qty(Decimal("-10000.000000")) == "-10,000"
    assert f.qty(12.5) == "12.5"
    assert f.multiple(3.7852) == "3.79×"


def test_sign_classes_colour_losses_red_and_gains_green() -> None:
    assert (f.sign_class(-1), f.sign_class(2), f.sign_class(0), f.sign_class(None)) == ("neg", "pos", "", "")
    assert (f.loss_class(-5), f.loss_class(5)) == ("neg", "")


def test_a_bar_is_inline_svg_scaled_to_the_maximum() -> None:
    plain = f.hbar(50, 200)
    assert 'width="25.00"' in plain and 'class="bar-pos"' in plain and "style=" not in plain
    left = f.hbar(-3, 3, diverging=True)
    assert 'x="0.00" y="1" width="50.00"' in left and 'class="bar-neg"' in left
    right = f.hbar(1.5, 3, diverging=True)
    assert 'x="50.00" y="1" width="25.00"' in right
    assert 'width="100.00"' in f.hbar(10, 3)  # capped at the maximum
    assert 'width="0.00"' in f.hbar(None, 3)


def test_pretty_json_parses_a_json_string_first() -> None:
    assert f.pretty_json('{"a": 1}') == '{\n  "a": 1\n}'
    assert f.pretty_json("not json") == "not json"

"""``compute.rounded_each`` against ``compute.rounded`` one value at a time (the reference it replaces)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.services.compute import rounded, rounded_each


@pytest.mark.parametrize("digits", [0, 1, 2, 3, 4, 6, 8, 12])
def test_rounded_each_equals_rounded_value_by_value_bit_for_bit(digits: int) -> None:
    rng = np.random.default_rng(digits)
    values = np.concatenate(
        [
            rng.normal(0, 1e6, 2000),
            rng.normal(0, 1, 2000),
            # halfway cases in decimal, where numpy's scale-and-round and Python's round can disagree
            np.round(rng.uniform(-1e4, 1e4, 2000), digits) + 0.5 * 10.0**-digits,
            # halves exact in binary (k/8) and decimal halves at the next digits (numpy's rint would tie them)
            rng.integers(-(10**6), 10**6, 2000) / 8,
            rng.integers(-(10**6), 10**6, 2000) / 10.0**digits + 0.5 * 10.0**-digits,
            # magnitudes from 1e-3 to 1e12: products beyond 2**51 at the larger digits
            rng.normal(0, 1, 2000) * 10.0 ** rng.integers(-3, 13, 2000),
            [0.0, -0.0, 1e-300, -1e300, 2.675, 0.125, 1.005, 5e-324, 1.7e308, 4503599627370495.5, 2.5, -2.5, 0.5],
        ]
    )
    expected = [rounded(v, digits) for v in values]
    got = rounded_each(values, digits)

    def signed(numbers: list[float | None]) -> list[tuple[float, float]]:  # the sign of a zero compared too
        return [(v, math.copysign(1.0, v)) for v in numbers if v is not None]

    assert signed(got) == signed(expected) and len(got) == len(expected) == len(signed(got))
    assert all(type(v) is float for v in got)


@pytest.mark.parametrize("size", [1, 15, 16, 17])
def test_short_and_long_arrays_round_alike(size: int) -> None:
    values = np.array([2.675, -0.125, 1.005, math.nan, 0.5, -2.5, 1e-300, 123456.785] * 3)[:size]
    assert rounded_each(values, 2) == [rounded(v, 2) for v in values]


def test_rounded_each_gives_none_where_rounded_does() -> None:
    values = [1.234567, math.nan, math.inf, -math.inf, -2.5]
    assert rounded_each(values) == [rounded(v) for v in values] == [1.23, None, None, None, -2.5]
    assert rounded_each(np.array([], dtype=float)) == []

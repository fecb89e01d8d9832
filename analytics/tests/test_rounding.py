"""``compute.rounded_each`` against ``compute.rounded`` one value at a time (the reference it replaces)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.services.compute import rounded, rounded_each


@pytest.mark.parametrize("digits", [0, 2, 4, 6, 8])
def test_rounded_each_equals_rounded_value_by_value_bit_for_bit(digits: int) -> None:
    rng = np.random.default_rng(digits)
    values = np.concatenate(
        [
            rng.normal(0, 1e6, 2000),
            rng.normal(0, 1, 2000),
            # halfway cases in decimal, where numpy's scale-and-round and Python's round can disagree
            np.round(rng.uniform(-1e4, 1e4, 2000), digits) + 0.5 * 10.0**-digits,
            [0.0, -0.0, 1e-300, -1e300, 2.675, 0.125, 1.005],
        ]
    )
    expected = [rounded(v, digits) for v in values]
    got = rounded_each(values, digits)

    def signed(numbers: list[float | None]) -> list[tuple[float, float]]:  # the sign of a zero compared too
        return [(v, math.copysign(1.0, v)) for v in numbers if v is not None]

    assert signed(got) == signed(expected) and len(got) == len(expected) == len(signed(got))
    assert all(type(v) is float for v in got)


def test_rounded_each_gives_none_where_rounded_does() -> None:
    values = [1.234567, math.nan, math.inf, -math.inf, -2.5]
    assert rounded_each(values) == [rounded(v) for v in values] == [1.23, None, None, None, -2.5]
    assert rounded_each(np.array([], dtype=float)) == []

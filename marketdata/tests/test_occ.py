"""OCC option symbols: parsed and built in one place, and the two agree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from marketdata.occ import OccContract, occ_symbol, parse_occ


def test_symbols_are_parsed_with_or_without_polygons_prefix() -> None:
    assert parse_occ("SPY270917C00460000") == OccContract("SPY", dt.date(2027, 9, 17), True, 460.0)
    assert parse_occ(" o:vix270120p00022500 ") == ("VIX", dt.date(2027, 1, 20), False, 22.5)
    assert parse_occ("BRK.B261218C00450500").strike == 450.5


@pytest.mark.parametrize("bad", ["SPY", "SPY270917X00460000", "SPY2709C00460000", "TOOLONGX270917C00460000", ""])
def test_what_is_not_an_occ_symbol_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="Not an OCC option symbol"):
        parse_occ(bad)


def test_a_built_symbol_parses_back_to_its_contract() -> None:
    symbol = occ_symbol(underlying="spy", expiration=dt.date(2026, 12, 18), is_call=False, strike=Decimal("432.5"))
    assert symbol == "SPY261218P00432500"
    assert parse_occ(symbol) == ("SPY", dt.date(2026, 12, 18), False, 432.5)
    assert occ_symbol(underlying="QQQ", expiration=dt.date(2027, 1, 15), is_call=True, strike=99999.999).endswith(
        "C99999999"
    )


def test_a_strike_that_does_not_fit_eight_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        occ_symbol(underlying="SPY", expiration=dt.date(2027, 1, 15), is_call=True, strike=Decimal("100000"))

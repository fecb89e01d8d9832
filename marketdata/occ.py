"""OCC option symbols (OSI): the one place they are parsed and built.

``SPY270917C00460000`` = root ``SPY`` (1–6 characters), expiry ``270917`` (YYMMDD), ``C``/``P``, and
the strike × 1000 in 8 digits (460.000). Polygon writes the same symbol behind an ``O:`` prefix,
which parsing accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import NamedTuple

_OCC = re.compile(r"^(?:O:)?([A-Z][A-Z0-9.\-]{0,5})(\d{2})(\d{2})(\d{2})([CP])(\d{8})$")
MAX_STRIKE = Decimal("99999.999")  # 8 digits with 3 decimals


class OccContract(NamedTuple):
    underlying: str
    expiration: dt.date
    is_call: bool
    strike: float


def parse_occ(contract: str) -> OccContract:
    """The fields of an OCC symbol (any case, optional ``O:`` prefix); ValueError when it is not one."""
    match = _OCC.match(contract.strip().upper())
    if not match:
        raise ValueError(f"Not an OCC option symbol: {contract!r}")
    root, yy, mm, dd, kind, strike = match.groups()
    return OccContract(root, dt.date(2000 + int(yy), int(mm), int(dd)), kind == "C", int(strike) / 1000.0)


def occ_symbol(*, underlying: str, expiration: dt.date, is_call: bool, strike: Decimal | float | str) -> str:
    """The OCC symbol of a contract: root + YYMMDD + C/P + strike × 1000 in 8 digits (SPY270917C00460000)."""
    strike_code = int((Decimal(str(strike)) * 1000).to_integral_value())
    if not 0 < strike_code <= 99_999_999:
        raise ValueError(f"strike {strike} does not fit an OCC symbol (0 < strike ≤ {MAX_STRIKE})")
    return f"{underlying.upper()}{expiration:%y%m%d}{'C' if is_call else 'P'}{strike_code:08d}"

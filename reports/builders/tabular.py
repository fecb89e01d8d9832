"""The machine-readable renderers: JSON (the document itself) and CSV (one row per position).

CSV cells are neutralised against formula injection (the OWASP CSV-injection rule): a *text* cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so a
spreadsheet shows it as text instead of evaluating it. Numbers (int, float, Decimal) are written
as numbers, so a negative market value stays ``-1234.5``; a text cell that is exactly a plain
number (``-12.5``) is left as it is too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

CSV_BASE_COLUMNS = (
    "symbol",
    "type",
    "quantity",
    "price",
    "market_value",
    "unrealised_pnl",
    "position_delta",
    "position_gamma",
    "position_theta",
    "position_vega",
    "dollar_delta",
)
CSV_TAIL_COLUMNS = ("tags", "underlying", "expiration", "position_id")


def render_json(document: dict[str, Any]) -> str:
    """The report document as JSON; floats are written with ``repr`` so they read back identical."""
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2, allow_nan=False) + "\n"


def csv_columns(document: dict[str, Any]) -> list[str]:
    factors = document["sections"]["positions"]["factors"]
    return [*CSV_BASE_COLUMNS, *(f"beta_{factor}" for factor in factors), *CSV_TAIL_COLUMNS]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not evaluate: text starting with = + - @ tab or CR gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    # Blank, not 0, when a value was not computed; floats keep full precision (str(float) is repr).
    return "" if value is None else csv_safe(value)


def render_csv(document: dict[str, Any]) -> str:
    """One row per position: valuation, position Greeks, dollar delta, one beta column per factor, tags."""
    section = document["sections"]["positions"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_columns(document))
    for row in section["rows"]:
        quantity = row["quantity"]
        writer.writerow(
            [
                _cell(row["symbol"]),
                _cell(row["position_type"]),
                _cell(int(quantity) if quantity is not None and float(quantity).is_integer() else quantity),
                _cell(row["price"]),
                _cell(row["market_value"]),
                _cell(row["unrealised_pnl"]),
                _cell(row["position_delta"]),
                _cell(row["position_gamma"]),
                _cell(row["position_theta"]),
                _cell(row["position_vega"]),
                _cell(row["dollar_delta"]),
                *(_cell(row["factor_betas"].get(factor)) for factor in section["factors"]),
                _cell(";".join(row["tags"])),
                _cell(row["underlying"]),
                _cell(row["expiration"]),
                _cell(row["position_id"]),
            ]
        )
    return buffer.getvalue()

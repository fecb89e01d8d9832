"""Market fields of positions for the API: latest close, market value, unrealised P&L.

One ``marketdata.selectors.latest_closes`` call prices a whole page. Stock-like positions are
valued here (quantity × close × multiplier); options need a model price, which the analytics
batch supplies through the serializer's ``position_metrics`` hook, so their price fields stay null
with a note. Closed positions (exit date set) have no market value or unrealised P&L.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from marketdata.selectors import latest_closes
from portfolios.api.serializers import OPTION_PRICE_NOTE
from portfolios.models import Position

NO_PRICE_NOTE = "no cached price; run python manage.py sync_market_data --symbols {symbol}"
CLOSED_NOTE = "position closed on {exit_date}"


def _empty(note: str | None) -> dict[str, Any]:
    return {
        "price": None,
        "price_date": None,
        "market_value": None,
        "unrealised_pnl": None,
        "data_source": None,
        "price_note": note,
    }


def position_market_fields(*, positions: Iterable[Position], as_of: dt.date) -> dict[uuid.UUID, dict[str, Any]]:
    """Market fields per position id, from the latest close on or before ``as_of`` of each symbol."""
    positions = list(positions)
    stock_symbols = sorted({p.symbol for p in positions if not p.is_option and p.exit_date is None})
    closes = latest_closes(symbols=stock_symbols, as_of=as_of) if stock_symbols else {}

    fields: dict[uuid.UUID, dict[str, Any]] = {}
    for position in positions:
        if position.exit_date is not None:
            fields[position.pk] = _empty(CLOSED_NOTE.format(exit_date=position.exit_date.isoformat()))
            continue
        if position.is_option:
            fields[position.pk] = _empty(OPTION_PRICE_NOTE)
            continue
        close = closes.get(position.symbol)
        if close is None:
            fields[position.pk] = _empty(NO_PRICE_NOTE.format(symbol=position.symbol))
            continue
        quantity = float(position.quantity)
        multiplier = float(position.multiplier)
        price = float(close.close)
        fields[position.pk] = {
            "price": price,
            "price_date": close.date,
            "market_value": round(quantity * price * multiplier, 2),
            "unrealised_pnl": round((price - float(position.entry_price)) * quantity * multiplier, 2),
            "data_source": close.source,
            "price_note": None,
        }
    return fields

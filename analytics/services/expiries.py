"""Expired options settled: exercise, assignment, cash settlement or expiry worthless, as position changes.

An option is held through the close of its expiration day D, valued there at its intrinsic value with
delta 1 / −1 / 0 by moneyness (``analytics.services.compute``). From the next session it is gone:
``expiries_settle`` — the batch's ``expiries`` step, run after the market data and before the
portfolio steps — settles every open option whose expiration is before the run's date, at the
underlying's close on D (the settlement price):

- in the money (call S > K, put S < K): closed with exit date D and exit price = its intrinsic value;
  an equity option is physically settled, so the stock it delivers — quantity × multiplier shares,
  long for a long call or a short put, short for a long put or a short call — becomes a new position
  entered on the next session at the settlement close (``portfolios.services.position_expiry_settle``);
  a volatility-index option (VIX) is cash-settled, nothing delivered;
- out of (or at) the money: closed at 0 ("expired worthless").

So value changes reconcile across an expiry: on D the option is marked at intrinsic; the next day it
leaves the book at that value and the stock enters at the close it was marked on, and the day's
change in value is the stock's P&L plus the flow ``strike × shares`` (the cash paid or received on
exercise) — the snapshot's ``flows``. An option whose underlying has no close on D stays open (listed
as unpriced, and shown expired by the analytics) until the price arrives. Rerunning settles nothing
twice: a settled option is closed, and its delivered position has an id derived from the option's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from marketdata.calendar import next_trading_day, session_on_or_before
from marketdata.factors import VOLATILITY_INDICES
from marketdata.selectors import instruments_by_symbol, latest_closes
from portfolios.selectors import options_expired_open
from portfolios.services import position_expiry_settle


@dataclass(frozen=True)
class SettledOption:
    """One settled option: its contract, outcome, settlement price and the position it delivered."""

    position_id: uuid.UUID
    portfolio_id: uuid.UUID
    contract: str
    expiration: dt.date
    settlement_price: float
    outcome: str
    delivered_position_id: uuid.UUID | None
    delivered_quantity: float | None


@dataclass
class ExpiriesReport:
    """What ``expiries_settle`` did: options settled, and options left open for want of a settlement close."""

    settled: list[SettledOption] = field(default_factory=list)
    unpriced: dict[str, str] = field(default_factory=dict)  # contract → reason


def expiries_settle(*, as_of: dt.date) -> ExpiriesReport:
    """Settle every open option that expired before ``as_of`` (module doc); idempotent."""
    report = ExpiriesReport()
    options = list(options_expired_open(before=as_of).prefetch_related("tags"))
    if not options:
        return report
    underlyings = sorted({o.underlying_symbol for o in options})
    classes = {s: i.asset_class for s, i in instruments_by_symbol(symbols=underlyings).items()}
    closes: dict[tuple[str, dt.date], tuple[dt.date, float] | None] = {}
    for expiration in sorted({o.expiration for o in options if o.expiration is not None}):
        symbols = sorted({o.underlying_symbol for o in options if o.expiration == expiration})
        found = latest_closes(symbols=symbols, as_of=expiration)
        for symbol in symbols:
            latest = found.get(symbol)
            closes[(symbol, expiration)] = None if latest is None else (latest.date, latest.close)
    for option in options:
        assert option.expiration is not None  # an option always has one (database constraint)
        settlement_day = session_on_or_before(option.expiration)
        close = closes.get((option.underlying_symbol, option.expiration))
        if close is None or close[0] != settlement_day:
            report.unpriced[option.symbol] = (
                f"no close of {option.underlying_symbol} on {settlement_day} to settle it at"
                + ("" if close is None else f" (last close {close[0]})")
            )
            continue
        cash_settled = option.underlying_symbol in VOLATILITY_INDICES
        outcome = position_expiry_settle(
            option=option,
            settlement_price=Decimal(str(close[1])),
            delivery_date=None if cash_settled else next_trading_day(option.expiration),
            asset_class=classes.get(option.underlying_symbol) or "stock",
        )
        delivered = outcome.delivered
        report.settled.append(
            SettledOption(
                position_id=option.pk,
                portfolio_id=option.portfolio_id,
                contract=option.symbol,
                expiration=option.expiration,
                settlement_price=close[1],
                outcome=outcome.outcome,
                delivered_position_id=None if delivered is None else delivered.pk,
                delivered_quantity=None if delivered is None else float(delivered.quantity),
            )
        )
    return report

"""Expiries reconcile, through the real batch, across an expiration date.

A book holds options expiring on Friday 16 October 2026 (D) — an in-the-money long call and long put,
an out-of-the-money call, a short call and a short put that are assigned, and a cash-settled VIX call —
beside a stock. The batch runs on D − 1, D, D + 1 and D + 2 on simulated prices. Checked against the
simulated closes by hand:

- on D each option is worth its intrinsic value with delta 1 / −1 / 0 by moneyness;
- on D + 1 the batch's ``expiries`` step has closed each option (exit date D, exit price = intrinsic)
  and delivered the stock (long call, short put → long shares; long put, short call → short shares)
  entered on D + 1 at D's close; the VIX call is cash-settled and the OTM call expired worthless;
- every day the change in total value = daily P&L + flows, the flow on D + 1 being strike × shares
  delivered less the VIX call's cash; the day's P&L is the stock's move from D's close;
- a rerun settles nothing twice; a snapshot backfill over the same days gives the same P&L and flows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from decimal import Decimal

import pytest

from analytics.models import BatchJob, PortfolioResult, PortfolioSnapshot, PositionMetrics
from analytics.services.batch import batch_run, portfolio_steps
from analytics.services.snapshots import snapshots_backfill
from marketdata.providers.simulated import SimulatedProvider
from marketdata.services import prices_sync
from portfolios.models import Position
from portfolios.services import delivery_position_id, position_create

pytestmark = pytest.mark.django_db

D = dt.date(2026, 10, 16)  # a Friday, the October monthly expiry
DAYS = [dt.date(2026, 10, 15), D, dt.date(2026, 10, 19), dt.date(2026, 10, 20)]
ENTRY = dt.date(2026, 9, 1)
SIM = SimulatedProvider()
STEPS = ["expiries", *portfolio_steps()]


def close(symbol: str, day: dt.date) -> float:
    [bar] = SIM.daily_bars(symbol=symbol, start=day, end=day)
    return bar.close


def _book(portfolio) -> dict[str, Position]:
    """The positions, strikes set around D's simulated closes (whole dollars)."""
    spy, aapl, vix = close("SPY", D), close("AAPL", D), close("VIX", D)

    def option(name: str, underlying: str, position_type: str, quantity: int, strike: float) -> tuple[str, Position]:
        is_call = position_type in ("LC", "SC")
        position = position_create(
            portfolio=portfolio,
            symbol="",
            position_type=position_type,
            quantity=quantity,
            entry_price=Decimal("1.00"),
            entry_date=ENTRY,
            underlying_symbol=underlying,
            strike=Decimal(str(strike)),
            expiration=D,
            multiplier=100,
            asset_class="option",
            tags=[f"Expiry {name}"],
        )
        assert position.is_call == is_call
        return name, position

    book = dict(
        [
            option("itm_long_call", "SPY", "LC", 2, math.floor(spy) - 10),
            option("itm_long_put", "AAPL", "LP", 1, math.ceil(aapl) + 10),
            option("otm_long_call", "AAPL", "LC", 3, math.ceil(aapl) + 20),
            option("itm_short_call", "SPY", "SC", -1, math.floor(spy) - 20),
            option("itm_short_put", "AAPL", "SP", -2, math.ceil(aapl) + 5),
            option("vix_call", "VIX", "LC", 4, math.floor(vix) - 2),
        ]
    )
    book["stock"] = position_create(
        portfolio=portfolio, symbol="SPY", position_type="LONG", quantity=50, entry_price=600, entry_date=ENTRY
    )
    return book


def _intrinsic(position: Position, spot: float) -> float:
    strike = float(position.strike)
    return max(spot - strike, 0.0) if position.is_call else max(strike - spot, 0.0)


def test_options_reconcile_across_their_expiration_date(portfolio) -> None:
    book = _book(portfolio)
    prices_sync(backfill_days=300, as_of=DAYS[-1], provider="simulated")
    spot = {s: close(s, D) for s in ("SPY", "AAPL", "VIX")}
    options = {name: p for name, p in book.items() if p.is_option}

    # --- D − 1 and D: on D every option is worth its intrinsic value, delta ±1 or 0 ------------------
    for day in DAYS[:2]:
        outcome = batch_run(as_of=day, portfolio_ids=[portfolio.pk], steps=STEPS, trigger="test")
        assert outcome.ok, outcome.run.error_summary
    greeks = PortfolioResult.objects.get(portfolio=portfolio, kind="greeks", as_of=D).payload
    rows = {row["position_id"]: row for row in greeks["positions"]}
    metrics = {m.position_id: m for m in PositionMetrics.objects.filter(portfolio=portfolio, as_of=D)}
    for name, position in options.items():
        row, s = rows[str(position.pk)], spot[position.underlying_symbol]
        assert row["expired"] is False and row["years_to_expiry"] == 0.0, name
        in_the_money = _intrinsic(position, s) > 0
        assert row["delta"] == ((1.0 if position.is_call else -1.0) if in_the_money else 0.0), name
        assert row["gamma"] == row["vega"] == 0.0, name
        assert metrics[position.pk].price == pytest.approx(_intrinsic(position, s), abs=1e-6), name
        assert metrics[position.pk].price_source == "intrinsic", name
        value = _intrinsic(position, s) * float(position.quantity) * 100
        assert metrics[position.pk].market_value == pytest.approx(value, abs=0.01), name
    assert PortfolioResult.objects.get(portfolio=portfolio, kind="overview", as_of=D).payload["expired_options"] == []

    # --- D + 1: settled, delivered, and the day's P&L is the stocks' move from D's close -------------
    outcome = batch_run(as_of=DAYS[2], portfolio_ids=[portfolio.pk], steps=STEPS, trigger="test")
    assert outcome.ok, outcome.run.error_summary
    job = BatchJob.objects.get(run=outcome.run, step="expiries")
    assert job.status == "completed" and job.rows_written == 6
    expected_shares = {
        "itm_long_call": ("SPY", 200),
        "itm_long_put": ("AAPL", -100),
        "itm_short_call": ("SPY", -100),
        "itm_short_put": ("AAPL", 200),
    }
    flow = 0.0
    for name, position in options.items():
        position.refresh_from_db()
        s = spot[position.underlying_symbol]
        assert position.exit_date == D, name
        assert float(position.exit_price) == pytest.approx(_intrinsic(position, s), abs=1e-6), name
        delivered = Position.objects.filter(pk=delivery_position_id(position)).first()
        if name in expected_shares:
            symbol, shares = expected_shares[name]
            assert delivered is not None, name
            assert (delivered.symbol, float(delivered.quantity)) == (symbol, shares), name
            assert delivered.position_type == ("LONG" if shares > 0 else "SHORT")
            assert delivered.entry_date == DAYS[2] and float(delivered.entry_price) == pytest.approx(s, abs=1e-6)
            assert [t.name for t in delivered.tags.all()] == [f"Expiry {name}"]
            flow += shares * float(position.strike)  # cash for the shares: strike × shares
        else:
            assert delivered is None, name  # the OTM call expired worthless; the VIX call is cash-settled
    vix_call = options["vix_call"]
    assert _intrinsic(vix_call, spot["VIX"]) > 0  # cash-settled in the money
    flow -= _intrinsic(vix_call, spot["VIX"]) * float(vix_call.quantity) * 100
    assert _intrinsic(options["otm_long_call"], spot["AAPL"]) == 0.0

    snapshots = {s.as_of: s for s in PortfolioSnapshot.objects.filter(portfolio=portfolio)}
    after = snapshots[DAYS[2]]
    assert after.flows == pytest.approx(flow, abs=0.02)
    held = {"SPY": 50 + 200 - 100, "AAPL": -100 + 200}  # the stock and the delivered shares
    expected_pnl = sum(n * (close(s, DAYS[2]) - close(s, D)) for s, n in held.items())
    assert after.daily_pnl == pytest.approx(expected_pnl, abs=0.02)

    # --- D + 2, a rerun of D + 1, and value change = P&L + flows every day ----------------------------
    assert batch_run(as_of=DAYS[3], portfolio_ids=[portfolio.pk], steps=STEPS, trigger="test").ok
    positions_before = Position.objects.filter(portfolio=portfolio).count()
    assert positions_before == 7 + 4
    rerun = batch_run(as_of=DAYS[2], portfolio_ids=[portfolio.pk], steps=STEPS, trigger="test")
    assert rerun.ok and BatchJob.objects.get(run=rerun.run, step="expiries").rows_written == 0
    assert Position.objects.filter(portfolio=portfolio).count() == positions_before
    live = {s.as_of: s for s in PortfolioSnapshot.objects.filter(portfolio=portfolio)}
    assert live[DAYS[2]].daily_pnl == pytest.approx(after.daily_pnl, abs=1e-6)
    for previous, day in itertools.pairwise(DAYS):
        change = live[day].total_value - live[previous].total_value
        assert change == pytest.approx(live[day].daily_pnl + live[day].flows, abs=0.05), day
    assert live[D].flows == 0.0 and live[DAYS[3]].flows == 0.0

    # --- a backfill over the same days tells the same story --------------------------------------------
    snapshots_backfill(days=len(DAYS), end=DAYS[-1], portfolio_ids=[portfolio.pk])
    backfilled = {s.as_of: s for s in PortfolioSnapshot.objects.filter(portfolio=portfolio)}
    for day in DAYS[1:]:
        assert backfilled[day].daily_pnl == pytest.approx(live[day].daily_pnl, abs=0.02), day
        assert backfilled[day].flows == pytest.approx(live[day].flows, abs=0.02), day
        assert backfilled[day].total_value == pytest.approx(live[day].total_value, abs=0.02), day

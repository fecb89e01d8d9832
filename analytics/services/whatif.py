"""What-if: the risk of a portfolio after hypothetical trades, computed like the batch, stored nowhere.

The portfolio's positions held at the close of ``as_of`` (the day of the newest stored factor model) are
loaded as the batch loads them; the trades are applied to a copy of that frame; both frames — *before*
and *after* — go through the batch's own machinery as one chunk of two portfolios: the position state
(``compute.position_state_compute``), then every registered result kind's ``prepare`` and ``build``, in
step order. Nothing is rerun at the universe level: the day's stored symbol stage (``FactorModelFit``,
``SymbolFactorBeta``) is read back exactly as a batch chunk reads it, and only a symbol the stage does not
know (a trade in a symbol nobody held that day) gets its betas fitted here, over the same window, by the
same regression (it is per symbol, so that symbol's betas are the ones a batch would have stored).

Kinds whose result is a history rather than a function of today's positions (``series_item_type``, e.g.
``snapshots``) are left out. Kinds registered by other modules appear in the answer automatically.

Trades (quantities in shares, or contracts for options; prices per share, USD):

- ``add``: a new lot of ``quantity`` (signed: negative sells short / writes options), at ``price`` or, when
  omitted, at the mark — the last close for a stock, the quote mid or model price for an option;
- ``reduce``: ``quantity`` (> 0) fewer held units of the instrument, first in, first out across its lots
  (or of one ``position_id``); more than is held is an error;
- ``close``: the whole holding of the instrument (or one ``position_id``).

Cash and equity: a trade at the mark moves value between cash and positions and leaves equity unchanged;
a trade at another price changes equity by Δquantity × multiplier × (mark − price) (what the trade would
make or lose against the close), and the after-portfolio's equity balance is adjusted by that amount.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import threading
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from django.conf import settings
from django.db.models import TextField
from django.db.models.functions import Cast

from analytics.engines import factors
from analytics.models import BatchRun, FactorModelFit, PortfolioResult, SymbolFactorBeta, WhatIfScenario
from analytics.results import registry
from analytics.results.base import ResultSpec
from analytics.selectors import factor_model_latest
from analytics.services import compute, persist
from analytics.services.batch import symbol_stage_from_stored
from analytics.services.book import book_fingerprint
from analytics.services.columns import Columns
from analytics.services.inputs import (
    POSITION_COLUMNS,
    PRICE_HISTORY_CALENDAR_DAYS,
    QUOTE_HISTORY_CALENDAR_DAYS,
    MarketInputs,
    PortfolioInfo,
    last_closes,
    positions_frame,
)
from analytics.services.steps import ChunkContext, kept_read
from analytics.services.writer import ResultWriter
from core.datachange import data_version
from core.exceptions import ApplicationError, NotFoundError
from marketdata import selectors as market_selectors
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_MIN_OBSERVATIONS, FACTOR_NAMES, FACTOR_SYMBOLS
from marketdata.occ import occ_symbol, parse_occ

Action = Literal["add", "reduce", "close"]
ACTIONS: tuple[str, ...] = ("add", "reduce", "close")
OPTION_MULTIPLIER = 100.0
# Relative tolerance when a reduction equals the holding (float quantities from Decimal columns).
QUANTITY_EPS = 1e-9


class TradeError(ApplicationError):
    """A trade that cannot be simulated: a 400 naming the trade (its index in the list) and the field."""

    def __init__(self, index: int, field_name: str, message: str) -> None:
        super().__init__(
            f"trades[{index}].{field_name}: {message}",
            code="invalid",
            details={"trade": index, "field": field_name, "message": message},
        )
        self.index = index
        self.field_name = field_name


@dataclass(frozen=True)
class Trade:
    """One hypothetical trade, as validated by the API (see the module docstring for the actions).

    The instrument is ``symbol`` (a ticker, or an OCC option symbol), or an option by ``underlying``,
    ``strike``, ``expiration`` and ``option_type`` ("call"/"put"), or an existing ``position_id``
    (reduce/close only). ``quantity``: signed units for ``add``, units to remove (> 0) for ``reduce``,
    unused for ``close``. ``price``: per share (USD), optional.
    """

    action: Action
    symbol: str = ""
    underlying: str = ""
    strike: float | None = None
    expiration: dt.date | None = None
    option_type: str = ""
    position_id: uuid.UUID | None = None
    quantity: float | None = None
    price: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "symbol": self.symbol or None,
            "underlying": self.underlying or None,
            "strike": self.strike,
            "expiration": self.expiration.isoformat() if self.expiration else None,
            "option_type": self.option_type or None,
            "position_id": str(self.position_id) if self.position_id else None,
            "quantity": self.quantity,
            "price": self.price,
        }


@dataclass(frozen=True)
class Instrument:
    """A trade's instrument resolved: the held symbol (OCC symbol for an option) and its contract terms."""

    symbol: str
    price_symbol: str
    is_option: bool
    is_call: bool = False
    strike: float = math.nan
    expiration: dt.date | None = None

    @property
    def multiplier(self) -> float:
        return OPTION_MULTIPLIER if self.is_option else 1.0


@dataclass
class ResolvedTrade:
    """What a trade did to the position frame: the rows it added or changed and their signed quantity change."""

    index: int
    trade: Trade
    instrument: Instrument | None
    changes: list[tuple[int, float]] = field(default_factory=list)  # (row of the after frame, Δ quantity)
    added_row: int | None = None  # row of the after frame for an ``add``


@dataclass
class WhatIfResult:
    """Before and after payloads of every kind computed, with what failed (kind → reason)."""

    portfolio_id: uuid.UUID
    as_of: dt.date
    data_source: str
    trades: list[dict[str, Any]]
    equity_before: float | None
    equity_after: float | None
    before: dict[str, Mapping[str, Any]]
    after: dict[str, Mapping[str, Any]]
    errors: dict[str, str]
    kinds: list[str]


# --------------------------------------------------------------------------------------------
# Trades → the after frame
# --------------------------------------------------------------------------------------------


def instrument_resolve(trade: Trade, index: int, *, as_of: dt.date) -> Instrument:
    """The instrument a trade names (a ticker, an OCC symbol, or an option by its fields); TradeError otherwise."""
    if trade.symbol:
        text = trade.symbol.strip().upper()
        try:
            contract = parse_occ(text)
        except ValueError:
            if trade.underlying or trade.strike is not None or trade.expiration or trade.option_type:
                raise TradeError(
                    index, "symbol", "give a stock's symbol or an option's fields (underlying, strike, ...), not both"
                ) from None
            return Instrument(symbol=text, price_symbol=text, is_option=False)
        symbol = occ_symbol(
            underlying=contract.underlying,
            expiration=contract.expiration,
            is_call=contract.is_call,
            strike=contract.strike,
        )
        instrument = Instrument(
            symbol=symbol,
            price_symbol=contract.underlying,
            is_option=True,
            is_call=contract.is_call,
            strike=contract.strike,
            expiration=contract.expiration,
        )
    else:
        for name, value in (
            ("underlying", trade.underlying),
            ("strike", trade.strike),
            ("expiration", trade.expiration),
            ("option_type", trade.option_type),
        ):
            if value in (None, ""):
                raise TradeError(index, name, "required for an option given by its fields (or give symbol)")
        assert trade.strike is not None and trade.expiration is not None
        if trade.strike <= 0:
            raise TradeError(index, "strike", "must be positive")
        if trade.option_type not in ("call", "put"):
            raise TradeError(index, "option_type", "must be 'call' or 'put'")
        underlying = trade.underlying.strip().upper()
        try:
            symbol = occ_symbol(
                underlying=underlying,
                expiration=trade.expiration,
                is_call=trade.option_type == "call",
                strike=trade.strike,
            )
        except ValueError as exc:
            raise TradeError(index, "strike", str(exc)) from None
        instrument = Instrument(
            symbol=symbol,
            price_symbol=underlying,
            is_option=True,
            is_call=trade.option_type == "call",
            strike=float(trade.strike),
            expiration=trade.expiration,
        )
    if instrument.expiration is not None and instrument.expiration < as_of and trade.action == "add":
        field_name = "symbol" if trade.symbol else "expiration"
        raise TradeError(index, field_name, f"the option expired on {instrument.expiration} (before {as_of})")
    return instrument


def _position_type(*, is_option: bool, is_call: bool, quantity: float) -> str:
    if not is_option:
        return "LONG" if quantity > 0 else "SHORT"
    return ("LC" if is_call else "LP") if quantity > 0 else ("SC" if is_call else "SP")


def trades_apply(
    *, positions: pd.DataFrame, trades: Sequence[Trade], portfolio_id: uuid.UUID, as_of: dt.date
) -> tuple[pd.DataFrame, list[ResolvedTrade]]:
    """The position frame after the trades (``portfolio_id`` as its owner), in order, and what each did.

    New lots get a fresh position id, ``entry_date = as_of`` and an ``entry_price`` of NaN until the mark is
    known (:func:`what_if_run` fills it). Reduced rows keep their id; a row reduced to zero is dropped later.
    Raises :class:`TradeError`.
    """
    frame = positions.copy().reset_index(drop=True)
    frame["portfolio_id"] = portfolio_id
    quantity = frame["quantity"].to_numpy(dtype=float).copy()
    new_rows: list[dict[str, Any]] = []
    resolved: list[ResolvedTrade] = []
    ids = [str(p) for p in frame["position_id"]]
    symbols = frame["symbol"].to_numpy()
    for index, trade in enumerate(trades):
        if trade.action == "add":
            if trade.position_id is not None:
                raise TradeError(index, "position_id", "an add opens a new lot; name its instrument instead")
            instrument = instrument_resolve(trade, index, as_of=as_of)
            if trade.quantity is None or trade.quantity == 0 or not math.isfinite(trade.quantity):
                raise TradeError(index, "quantity", "a non-zero number of shares or contracts is required")
            row_number = len(frame) + len(new_rows)
            new_rows.append(
                {
                    "position_id": uuid.uuid4(),
                    "portfolio_id": portfolio_id,
                    "symbol": instrument.symbol,
                    "price_symbol": instrument.price_symbol,
                    "position_type": _position_type(
                        is_option=instrument.is_option, is_call=instrument.is_call, quantity=trade.quantity
                    ),
                    "asset_class": "option" if instrument.is_option else "stock",
                    "is_option": instrument.is_option,
                    "is_call": instrument.is_call,
                    "quantity": float(trade.quantity),
                    "multiplier": instrument.multiplier,
                    "entry_price": np.nan,
                    "entry_date": as_of,
                    "strike": instrument.strike,
                    "expiration": instrument.expiration,
                    "tags": [],
                    "exit_date": None,
                    "exit_price": np.nan,
                }
            )
            resolved.append(
                ResolvedTrade(
                    index=index,
                    trade=trade,
                    instrument=instrument,
                    changes=[(row_number, float(trade.quantity))],
                    added_row=row_number,
                )
            )
            continue
        # reduce / close: the rows of the named position, or every lot of the named instrument (oldest first).
        held_instrument: Instrument | None = None
        if trade.position_id is not None:
            rows = [i for i, p in enumerate(ids) if p == str(trade.position_id)]
            if not rows:
                raise TradeError(index, "position_id", "no open position with this id in the portfolio")
        else:
            held_instrument = instrument_resolve(trade, index, as_of=as_of)
            rows = [i for i, s in enumerate(symbols) if s == held_instrument.symbol]
            field_name = "symbol" if trade.symbol else "underlying"
            if not rows:
                raise TradeError(index, field_name, f"the portfolio holds no {held_instrument.symbol}")
        rows = [r for r in rows if quantity[r] != 0]
        held = float(sum(abs(quantity[r]) for r in rows))
        if not rows:
            raise TradeError(index, "position_id" if trade.position_id else "symbol", "already closed by a trade")
        signs = {np.sign(quantity[r]) for r in rows}
        if len(signs) > 1:
            raise TradeError(
                index, "position_id", "long and short lots of this instrument are held: name the position_id"
            )
        if trade.action == "close":
            amount = held
        else:
            if trade.quantity is None or not math.isfinite(trade.quantity) or trade.quantity <= 0:
                raise TradeError(index, "quantity", "a positive number of shares or contracts to remove is required")
            amount = float(trade.quantity)
            if amount > held * (1 + QUANTITY_EPS):
                raise TradeError(index, "quantity", f"reduces by {amount:g} but only {held:g} are held")
        done = ResolvedTrade(index=index, trade=trade, instrument=held_instrument)
        order = sorted(rows, key=lambda r: (frame.at[r, "entry_date"], r))  # first in, first out
        left = amount
        for r in order:
            if left <= 0:
                break
            take = min(abs(quantity[r]), left)
            change = -np.sign(quantity[r]) * take
            quantity[r] += change
            if abs(quantity[r]) <= abs(change) * QUANTITY_EPS:
                quantity[r] = 0.0
            done.changes.append((r, float(change)))
            left -= take
        resolved.append(done)
    frame["quantity"] = quantity
    if new_rows:
        frame = pd.concat([frame, pd.DataFrame(new_rows, columns=list(POSITION_COLUMNS))], ignore_index=True)
    return frame, resolved


# --------------------------------------------------------------------------------------------
# The symbol stage: the stored one, extended with symbols it does not know
# --------------------------------------------------------------------------------------------


def stage_extend(*, stage: compute.SymbolStage, market: MarketInputs, symbols: Sequence[str]) -> None:
    """Fit the betas of ``symbols`` that the stored stage lacks, exactly as ``compute.symbol_stage_compute``
    would (same factor returns, window and regression; each symbol's fit is its own), and add them to it."""
    missing = [s for s in dict.fromkeys(symbols) if s not in stage.fit.betas.index and s in market.prices.columns]
    if not missing:
        return
    proxy_prices = market.prices.reindex(columns=list(compute.FACTOR_SET.proxy_symbols))
    factor_returns = factors.factor_returns(proxy_prices, compute.FACTOR_SET).dropna().iloc[-FACTOR_LOOKBACK_DAYS:]
    window = stage.returns.reindex(columns=missing).reindex(factor_returns.index)
    fit = factors.fit_factor_betas(window, factor_returns, min_obs=FACTOR_MIN_OBSERVATIONS, ok_obs=FACTOR_LOOKBACK_DAYS)
    univariate = factors.univariate_beta(window, factor_returns["market"])
    stored = stage.fit
    stored.betas = pd.concat([stored.betas, fit.betas.reindex(columns=list(FACTOR_NAMES))])
    stored.quality = pd.concat([stored.quality, fit.quality.astype(object)])
    stored.r_squared = pd.concat([stored.r_squared, fit.r_squared])
    stored.residual_vol = pd.concat([stored.residual_vol, fit.residual_vol])
    stored.univariate = pd.concat([stored.univariate, univariate])
    stage.univariate_beta = stored.univariate


# --------------------------------------------------------------------------------------------
# The day's inputs, kept per process: what the batch stored does not change until it reruns
# --------------------------------------------------------------------------------------------


@dataclass
class DayInputs:
    """The stored symbol stage of one day and the price history loaded for it, shared by every what-if of
    the process until the factor model is stored again (a rerun of the batch changes ``key``).

    Prices, betas and option quotes on or before the day are what the batch used (a quote stored for the day
    after the batch ran is seen once the batch reruns).
    The scenario shocks the stress kind solves from the factor model are kept here too (its cache), and the
    Monte Carlo VaR's random draws (factor paths and each symbol's unit shocks: seeded, so the same numbers a
    fresh draw gives; about 80 kB per symbol at 10,000 paths).
    """

    key: tuple[Any, ...]
    fit_row: FactorModelFit
    fit: persist.StoredFit
    prices: pd.DataFrame
    sectors: dict[str, str] = field(default_factory=dict)
    data_sources: dict[frozenset[str], str] = field(default_factory=dict)
    quotes: dict[str, Any] = field(default_factory=dict)  # contract → its last quote on or before the day (or None)
    quote_history: dict[str, list[Any]] = field(default_factory=dict)  # contract → its quotes over the window
    scenario_shocks_cache: dict[str, Any] = field(default_factory=dict)
    monte_carlo_draws: dict[Any, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_DAY: dict[str, DayInputs] = {}
_DAY_LOCK = threading.Lock()

# What a what-if reads besides the day's inputs (the factor model's row, the book and its stored results, the
# kinds' reads: volumes, backtest history, limits, the stress catalog), kept per process under the database's
# change counter (``core.datachange``): any committed write to a watched table — a position, a limit, a price,
# a stored result, by any process — moves it, and the next what-if reads everything afresh.
READS_KEPT_MAX = 512  # entries (≈ 6 per portfolio what-iffed); beyond, the reads start again (bounds the memory)
_READS: dict[str, Any] = {"version": None, "reads": {}}


def reads_kept() -> dict[Hashable, Any] | None:
    """The reads kept under the current change counter, to be filled by this what-if; None when the counter
    cannot be read (inside a transaction, which may see its own uncommitted writes): then nothing is kept.
    Read before the data, so that a write committed meanwhile can only make the next what-if read again."""
    version = data_version()
    if version is None:
        return None
    with _DAY_LOCK:
        if _READS["version"] != version or len(_READS["reads"]) > READS_KEPT_MAX:
            _READS["version"], _READS["reads"] = version, {}
        reads: dict[Hashable, Any] = _READS["reads"]
        return reads


def day_inputs(*, fit_row: FactorModelFit) -> DayInputs:
    """The cached inputs of the factor model's day (loaded on first use; reloaded when the model changed)."""
    key = (fit_row.pk, fit_row.as_of, fit_row.computed_at)
    with _DAY_LOCK:
        cached = _DAY.get("day")
        if cached is not None and cached.key == key:
            return cached
        fit = persist.StoredFit(SymbolFactorBeta.objects.filter(as_of=fit_row.as_of).order_by("symbol"))
        cached = DayInputs(
            key=key, fit_row=fit_row, fit=fit, prices=pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        )
        _DAY["day"] = cached
        return cached


def day_inputs_clear() -> None:
    """Forget the cached day and the kept reads (tests; both renew themselves when the data changes)."""
    with _DAY_LOCK:
        _DAY.clear()
        _READS["version"], _READS["reads"] = None, {}


def market_load(
    *, day: DayInputs, symbols: Sequence[str], option_contracts: Sequence[str], as_of: dt.date
) -> MarketInputs:
    """``inputs.market_inputs_load`` with the price history and option quotes of symbols and contracts already
    seen today taken from ``day`` (one query per table for the others)."""
    wanted = sorted(set(symbols) | set(FACTOR_SYMBOLS))
    with day.lock:
        missing = [s for s in wanted if s not in day.prices.columns and s not in day.sectors]
        if missing:
            start = as_of - dt.timedelta(days=PRICE_HISTORY_CALENDAR_DAYS)
            loaded = market_selectors.close_prices(symbols=missing, start=start, end=as_of)
            day.prices = day.prices.join(loaded, how="outer") if len(day.prices.columns) else loaded
            instruments = market_selectors.instruments_by_symbol(symbols=missing)
            for symbol in missing:  # a symbol without bars is remembered too (as having no sector)
                profile = instruments.get(symbol)
                day.sectors[symbol] = (profile.sector or "") if profile else ""
        prices = day.prices.reindex(columns=wanted)
        source_key = frozenset(wanted)
        if source_key not in day.data_sources:
            day.data_sources[source_key] = market_selectors.data_source_for(symbols=wanted) if len(prices) else "none"
        data_source = day.data_sources[source_key]
        contracts = list(dict.fromkeys(option_contracts))
        unseen = [c for c in contracts if c not in day.quotes]
        if unseen:
            latest = market_selectors.option_quotes_latest(contracts=unseen, as_of=as_of)
            loaded_history = market_selectors.option_quote_history(
                contracts=unseen, start=as_of - dt.timedelta(days=QUOTE_HISTORY_CALENDAR_DAYS), end=as_of
            )
            for contract in unseen:
                day.quotes[contract] = latest.get(contract)
                day.quote_history[contract] = loaded_history.get(contract, [])
        quotes = {c: day.quotes[c] for c in contracts if day.quotes[c] is not None}
        history = {c: day.quote_history[c] for c in contracts if day.quote_history[c]}
    # Only the sessions where one of the symbols traded, as the batch's frame of these symbols would have.
    prices = prices.dropna(how="all")
    spot, last_valid = last_closes(prices)
    return MarketInputs(
        as_of=as_of,
        prices=prices,
        spot=spot,
        spot_date=last_valid,
        data_source=data_source,
        option_quotes=quotes,
        rate=float(settings.RISK_FREE_RATE),
        sectors={s: day.sectors.get(s, "") for s in wanted},
        option_quote_history=history,
    )


def stage_load(*, day: DayInputs, market: MarketInputs) -> compute.SymbolStage:
    """The batch's symbol stage over the cached stored fit (copied: a what-if may extend its own copy)."""
    return symbol_stage_from_stored(
        fit_row=day.fit_row,
        fit=copy.copy(day.fit),
        market=market,
        scenario_shocks_cache=day.scenario_shocks_cache,
        monte_carlo_draws=day.monte_carlo_draws,
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def what_if_kinds() -> list[ResultSpec[Any, Any]]:
    """The registered kinds a what-if computes, in step order: all but those whose result is a history."""
    return [spec for spec in registry.specs() if spec.series_item_type is None]


def what_if_model(*, as_of: dt.date | None = None) -> FactorModelFit:
    """The factor model a what-if reuses: the newest stored (on or before ``as_of``); its day is the what-if's."""
    fit = factor_model_latest(as_of=as_of)
    if fit is None:
        raise NotFoundError(
            "No factor model has been stored yet: a what-if reuses the batch's symbol stage. "
            "Compute it with: python manage.py run_batch",
            code="not_computed",
            details={"command": "python manage.py run_batch"},
        )
    return fit


def what_if_run(
    *,
    portfolio: PortfolioInfo,
    trades: Sequence[Trade],
    as_of: dt.date | None = None,
) -> WhatIfResult:
    """Before and after payloads of every what-if kind for ``trades`` on the portfolio; stores nothing.

    The *before* side is the day's stored results when they were computed from the book loaded now
    (:func:`stored_before`): then only the after portfolio is computed. Otherwise both are, as one chunk.
    Raises :class:`TradeError` (400 naming the trade and field) and ``NotFoundError`` when no batch ran.
    """
    portfolio_id = portfolio.id
    reads = reads_kept()  # before any data is read (see ``reads_kept``)
    fit_row = kept_read(reads, ("factor_model", as_of), lambda: what_if_model(as_of=as_of))
    day, inputs = fit_row.as_of, day_inputs(fit_row=fit_row)
    before, stored = kept_read(
        reads, ("book", portfolio, day), lambda: book_load(portfolio=portfolio, day=day, fit_row=fit_row)
    )
    after_id = uuid.uuid5(portfolio_id, "what-if")
    after, resolved = trades_apply(positions=before, trades=trades, portfolio_id=after_id, as_of=day)

    # The after frame keeps the rows the trades closed (until below): its symbols and contracts are the before's too.
    symbols = pd.concat([before["price_symbol"], after["price_symbol"]]).dropna().unique().tolist()
    contracts = after.loc[after["is_option"].astype(bool), "symbol"].tolist()
    market = market_load(day=inputs, symbols=symbols, option_contracts=contracts, as_of=day)
    for done in resolved:
        if done.instrument is None:
            continue
        spot = market.spot.get(done.instrument.price_symbol, math.nan)
        if not np.isfinite(spot):
            field_name = "symbol" if done.trade.symbol else "underlying"
            raise TradeError(
                done.index,
                field_name,
                f"no stored price for {done.instrument.price_symbol} on or before {day} "
                "(sync it first: python manage.py sync_market_data --symbols ...)",
            )
    stage = stage_load(day=inputs, market=market)
    stage_extend(stage=stage, market=market, symbols=symbols)

    asset_classes = _asset_classes(after, resolved, reads=reads)
    if asset_classes:
        after.loc[list(asset_classes), "asset_class"] = list(asset_classes.values())
    # The chunk: the after rows, preceded by the before rows unless the before side is the stored one.
    combined = after.reset_index(drop=True) if stored is not None else pd.concat([before, after], ignore_index=True)
    state = compute.position_state_compute(positions=combined, market=market, stage=stage)

    # Trade prices: given, or the mark; a new lot's entry price is its trade price.
    offset = len(combined) - len(after)
    marks = state["price"].to_numpy(dtype=float)
    entry = combined["entry_price"].to_numpy(dtype=float).copy()
    equity_change = 0.0
    described = []
    for done in resolved:
        first_row = done.changes[0][0] + offset
        mark = float(marks[first_row])
        if done.trade.price is not None:
            price, source = float(done.trade.price), "given"
        elif math.isfinite(mark):
            price, source = mark, str(state["price_source"].iat[first_row]) or "mark"
        else:
            field_name = "symbol" if done.trade.symbol or done.trade.position_id is None else "position_id"
            raise TradeError(done.index, field_name, "no mark to trade at (unpriced or expired); give a price")
        if done.added_row is not None:
            entry[done.added_row + offset] = price
        multiplier = float(combined["multiplier"].iat[first_row])
        delta_q = sum(change for _, change in done.changes)
        pnl = delta_q * multiplier * (mark - price) if math.isfinite(mark) else 0.0
        equity_change += pnl
        described.append(
            {
                **done.trade.as_dict(),
                "instrument": done.instrument.symbol if done.instrument else str(combined["symbol"].iat[first_row]),
                "quantity_change": delta_q,
                "multiplier": multiplier,
                "trade_price": price,
                "price_source": source,
                "mark": mark if math.isfinite(mark) else None,
                "cash_change": round(-delta_q * multiplier * price, 2),
                "equity_change": round(pnl, 2),
            }
        )
    combined["entry_price"] = entry
    quantity = combined["quantity"].to_numpy(dtype=float)
    multiplier_all = combined["multiplier"].to_numpy(dtype=float)
    state["cost_basis"] = quantity * entry * multiplier_all
    state["unrealised_pnl"] = state["market_value"].to_numpy(dtype=float) - state["cost_basis"].to_numpy(dtype=float)

    # Rows closed by the trades leave the after portfolio (the batch sees only open positions).
    keep = np.ones(len(combined), dtype=bool)
    keep[offset:] = quantity[offset:] != 0
    combined, state = combined[keep].reset_index(drop=True), state[keep].reset_index(drop=True)

    equity_balance = portfolio.equity_balance
    equity_after = None if equity_balance is None else equity_balance + equity_change
    portfolios = {
        # Without rows in the chunk when its payloads are the stored ones (the kinds that are not reused read them).
        portfolio_id: portfolio,
        # Its rows are owned by ``after_id``; its info keeps the portfolio's own id (its limits are the portfolio's).
        after_id: dataclasses.replace(portfolio, equity_balance=equity_after),
    }
    context = ChunkContext.build(
        run=BatchRun(as_of=day),  # never saved: provenance of rows that are never written
        market=market,
        stage=stage,
        positions=combined,
        state=state,
        portfolios=portfolios,
        writer=ResultWriter(background=False),
    )
    context.reads = reads
    payloads, errors = kinds_compute(context=context, stored={portfolio_id: stored} if stored is not None else None)
    return WhatIfResult(
        portfolio_id=portfolio_id,
        as_of=day,
        data_source=market.data_source,
        trades=described,
        equity_before=equity_balance,
        equity_after=equity_after,
        before=payloads.get(portfolio_id, {}),
        after=payloads.get(after_id, {}),
        errors=errors,
        kinds=[spec.name for spec in what_if_kinds()],
    )


def book_load(
    *, portfolio: PortfolioInfo, day: dt.date, fit_row: FactorModelFit
) -> tuple[pd.DataFrame, dict[str, Mapping[str, Any]] | None]:
    """The portfolio's positions held at the close of ``day`` (``positions_frame``), and its stored payloads of the
    day when they were computed from that book (:func:`stored_before`; else None). Neither may be changed."""
    before = positions_frame(portfolio_ids=[portfolio.id], as_of=day)
    book = book_fingerprint(positions=Columns.from_frame(before), info=portfolio)
    return before, stored_before(portfolio_id=portfolio.id, day=day, fit_row=fit_row, book=book)


def stored_before(
    *, portfolio_id: uuid.UUID, day: dt.date, fit_row: FactorModelFit, book: str
) -> dict[str, Mapping[str, Any]] | None:
    """The portfolio's stored payloads of ``day`` (kind → payload) of every what-if kind that reuses them
    (``ResultSpec.reuse_stored``), when each was computed from this ``book`` (its provenance's fingerprint,
    ``services.book``) and not before the factor model the what-if uses; None when one is missing or differs
    (a position changed since the batch, the batch failed a kind, the model was stored again): the before side is
    then computed. One query; the payloads' JSON text is decoded by orjson."""
    wanted = [spec.name for spec in what_if_kinds() if spec.reuse_stored]
    rows = (
        PortfolioResult.objects.filter(portfolio_id=portfolio_id, as_of=day, kind__in=wanted)
        .order_by()
        .annotate(payload_text=Cast("payload", output_field=TextField()))
        .values_list("kind", "inputs", "computed_at", "payload_text")
    )
    found: dict[str, Mapping[str, Any]] = {}
    for kind, inputs, computed_at, text in rows:
        if not isinstance(inputs, dict) or inputs.get("book") != book or computed_at < fit_row.computed_at:
            return None
        found[kind] = orjson.loads(text)
    return found if len(found) == len(wanted) else None


def kinds_compute(
    *, context: ChunkContext, stored: Mapping[uuid.UUID, Mapping[str, Mapping[str, Any]]] | None = None
) -> tuple[dict[uuid.UUID, dict[str, Mapping[str, Any]]], dict[str, str]]:
    """Every what-if kind's ``prepare`` once and ``build`` per portfolio of the chunk, in step order, as the
    batch's step runner does, without writing: (payloads per portfolio and kind, reason per kind not computed).
    A kind whose dependency failed, or that needs a factor model the day lacks, is not computed.

    ``stored``: portfolio → kind → payload taken as it is instead of built (the stored results of the day);
    the kinds that read other payloads (``limits``) read these."""
    payloads: dict[uuid.UUID, dict[str, Mapping[str, Any]]] = {pid: {} for pid in context.slices}
    errors: dict[str, str] = {}
    stored = stored or {}
    for spec in what_if_kinds():
        blocked = [d for d in spec.depends_on if d in errors]
        if blocked:
            errors[spec.name] = f"skipped: its input '{blocked[0]}' was not computed"
            continue
        if spec.needs_factor_model and context.stage is None:
            errors[spec.name] = "skipped: no factor model for this date"
            continue
        try:
            prepared = spec.prepare(context)
            for pid, part in context.slices.items():
                given = stored.get(pid, {}).get(spec.name)
                payload = given if given is not None else spec.build(context, part, prepared)
                payloads[pid][spec.name] = payload
                context.payloads.setdefault(pid, {})[spec.name] = payload
        except Exception as exc:  # one kind's failure is reported, the others go on (as in the batch)
            errors[spec.name] = f"{exc.__class__.__name__}: {exc}"
    return payloads, errors


def _asset_classes(
    after: pd.DataFrame, resolved: list[ResolvedTrade], *, reads: dict[Hashable, Any] | None
) -> dict[int, str]:
    """The stored asset class (stock, ETF, …) of each stock added, from its instrument profile."""
    rows = {
        done.added_row: done.instrument.symbol
        for done in resolved
        if done.added_row is not None and done.instrument is not None and not done.instrument.is_option
    }
    if not rows:
        return {}
    symbols = sorted(set(rows.values()))
    profiles = kept_read(
        reads, ("instruments", tuple(symbols)), lambda: market_selectors.instruments_by_symbol(symbols=symbols)
    )
    return {
        row: str(profiles[symbol].asset_class)
        for row, symbol in rows.items()
        if symbol in profiles and profiles[symbol].asset_class
    }


# --------------------------------------------------------------------------------------------
# Comparing payloads
# --------------------------------------------------------------------------------------------


def payload_change(before: Any, after: Any) -> Any:
    """after − before for every number present in both (recursing into mappings; lists and text are left out).
    None when there is nothing numeric to compare."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out = {}
        for key in after:
            if key in before:
                change = payload_change(before[key], after[key])
                if change is not None:
                    out[key] = change
        return out or None
    numbers = (int, float)
    if isinstance(before, numbers) and isinstance(after, numbers):
        if isinstance(before, bool) or isinstance(after, bool):
            return None
        return round(float(after) - float(before), 6)
    return None


# Headline figures of the built-in kinds: (label, kind, path into its payload, unit). Units: ``usd``; ``ratio`` (a
# multiple, a beta, a correlation); ``share`` (a fraction: 0.05 = 5%); ``days``; ``count``; ``number`` (anything
# else). A built-in kind's other numbers (its parameters: windows, thresholds, bases) stay out of the summary, as
# does the backtest (the stored VaR's record against history: none of its numbers is the portfolio's risk); they are
# in the answer's ``kinds``. Every other kind's top-level numbers are added by :func:`what_if_summary` under
# ``<kind>.<field>`` (unit ``number``), so kinds registered later appear.
Headline = tuple[str, str, tuple[str, ...], str]
HEADLINES: tuple[Headline, ...] = (
    ("equity", "overview", ("equity_balance",), "usd"),
    ("market_value", "overview", ("market_value",), "usd"),
    ("cash", "overview", ("cash",), "usd"),
    ("long_exposure", "overview", ("long_exposure",), "usd"),
    ("short_exposure", "overview", ("short_exposure",), "usd"),
    ("gross_exposure", "overview", ("gross_exposure",), "usd"),
    ("net_exposure", "overview", ("net_exposure",), "usd"),
    ("delta_adjusted_exposure", "overview", ("delta_adjusted_exposure",), "usd"),
    ("delta_adjusted_gross_exposure", "overview", ("delta_adjusted_gross_exposure",), "usd"),
    ("gross_leverage", "overview", ("gross_leverage",), "ratio"),
    ("delta_adjusted_leverage", "overview", ("delta_adjusted_leverage",), "ratio"),
    ("unrealised_pnl", "overview", ("unrealised_pnl",), "usd"),
    ("position_count", "overview", ("position_count",), "count"),
    *((f"greeks.{g}", "greeks", ("totals", g), "usd") for g in ("dollar_delta", "theta", "vega", "rho")),
    *((f"beta.{f}", "factor_exposures", ("portfolio_betas", f), "ratio") for f in FACTOR_NAMES),
    *((f"factor_dollars.{f}", "factor_exposures", ("dollar_exposures", f), "usd") for f in FACTOR_NAMES),
    *(
        (f"var.{method}.{figure}", "var", (method, figure), "usd")
        for method in ("historical", "parametric")
        for figure in ("var_95", "es_95", "var_99", "es_99")
    ),
    ("stress.worst_pnl", "stress_test", ("worst", "conditioned_pnl"), "usd"),
    *(
        (f"{kind}.{field}", kind, (field,), unit)
        for kind, field, unit in (
            ("correlations", "average_abs_correlation", "ratio"),
            ("correlations", "diversification_score", "ratio"),
            ("correlations", "effective_positions", "number"),
            ("risk_decomposition", "total_vol", "usd"),
            ("risk_decomposition", "factor_vol", "usd"),
            ("risk_decomposition", "specific_vol", "usd"),
            ("risk_decomposition", "factor_share", "share"),
            ("tracking_error", "tracking_error", "share"),
            ("tracking_error", "tracking_error_usd", "usd"),
            ("tracking_error", "factor_te", "share"),
            ("tracking_error", "specific_te", "share"),
            ("liquidity", "max_days_to_liquidate", "days"),
            ("liquidity", "no_volume_share", "share"),
            ("limits", "breaches", "count"),
            ("limits", "warnings", "count"),
            ("limits", "no_data", "count"),
        )
    ),
)
CURATED_KINDS = frozenset(kind for _label, kind, _path, _unit in HEADLINES) | {"backtest"}
WORST_SCENARIOS = 5


def _dig(payload: Mapping[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _figure(before: Any, after: Any, digits: int = 6) -> dict[str, float | None]:
    change = None if before is None or after is None else round(float(after) - float(before), digits)
    return {"before": before, "after": after, "change": change}


def what_if_summary(result: WhatIfResult) -> dict[str, dict[str, Any]]:
    """The headline figures before, after and their change, each with its ``unit`` (:data:`HEADLINES`)."""
    out: dict[str, dict[str, Any]] = {}
    for label, kind, path, unit in HEADLINES:
        if kind in result.before or kind in result.after:
            figure = _figure(_dig(result.before.get(kind), path), _dig(result.after.get(kind), path))
            out[label] = {**figure, "unit": unit}
    for kind in result.kinds:
        if kind in CURATED_KINDS:
            continue
        before, after = result.before.get(kind) or {}, result.after.get(kind) or {}
        for key in dict.fromkeys([*before, *after]):
            b, a = _dig(before, (key,)), _dig(after, (key,))
            if b is not None or a is not None:
                out[f"{kind}.{key}"] = {**_figure(b, a), "unit": "number"}
    return out


def worst_scenarios(result: WhatIfResult, *, count: int = WORST_SCENARIOS) -> list[dict[str, Any]]:
    """The ``count`` stress scenarios with the largest conditioned loss after the trades, with their P&L before
    (USD, negative = loss) and the change."""
    after = (result.after.get("stress_test") or {}).get("scenarios") or []
    before = {s["id"]: s for s in (result.before.get("stress_test") or {}).get("scenarios") or []}
    ranked = sorted(
        (s for s in after if s.get("conditioned_pnl") is not None), key=lambda s: float(s["conditioned_pnl"])
    )
    rows = []
    for scenario in ranked[:count]:
        previous = before.get(scenario["id"], {}).get("conditioned_pnl")
        rows.append(
            {"id": scenario["id"], "name": scenario["name"], **_figure(previous, scenario["conditioned_pnl"], 2)}
        )
    return rows


def what_if_answer(result: WhatIfResult) -> dict[str, Any]:
    """The what-if as the API answers it (JSON-ready): trades, headline figures, the worst stress scenarios,
    limit status, and every kind's payload before and after with the change of each number."""
    kinds = {}
    for name in result.kinds:
        before, after = result.before.get(name), result.after.get(name)
        if before is None and after is None:
            continue
        kinds[name] = {"before": before, "after": after, "change": payload_change(before, after)}
    limits = None
    if "limits" in result.before or "limits" in result.after:
        limits = {"before": result.before.get("limits"), "after": result.after.get("limits")}
    return {
        "portfolio_id": str(result.portfolio_id),
        "as_of": result.as_of.isoformat(),
        "data_source": result.data_source,
        "stored": False,
        "trades": result.trades,
        "summary": what_if_summary(result),
        "worst_stress": worst_scenarios(result),
        "limits": limits,
        "kinds": kinds,
        "not_computed": result.errors,
        "scenario": None,
    }


def what_if_scenario_save(
    *, portfolio_id: uuid.UUID, name: str, trades: list[dict[str, Any]], answer: dict[str, Any]
) -> WhatIfScenario:
    """Store a what-if under ``name`` (replacing one of the same name): its trades and its answer."""
    scenario, _ = WhatIfScenario.objects.update_or_create(
        portfolio_id=portfolio_id,
        name=name,
        defaults={"as_of": dt.date.fromisoformat(answer["as_of"]), "trades": trades, "result": answer},
    )
    return scenario


def what_if_scenario_delete(*, scenario: WhatIfScenario) -> None:
    scenario.delete()

"""Each analytics step's computation over the loaded frames — no ORM, no clock.

Conventions (USD; returns are simple daily decimals unless stated):

- Stocks are priced at their last adjusted close on or before ``as_of``.
- Options are valued per share at the quote mid (bid/ask both > 0) on ``as_of``, else the
  quote's last trade, else the Black–Scholes–Merton model price. Their implied volatility comes
  from the provider's quote when present; otherwise the **fallback** is the underlying's
  realised volatility: annualised standard deviation of its last 252 daily log returns
  (``iv_source = "realised_vol_252d"``). Never a silent constant.
- Time to expiry is ACT/365 from ``as_of``; an option whose expiration is on or before
  ``as_of`` is expired: flagged, not priced, left out of exposures.
- Delta exposure: stocks their market value; options their dollar delta (delta × quantity ×
  multiplier × spot). Factor exposure of a position = delta exposure × betas of its price symbol.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from analytics.engines import black_scholes, correlations, exposures, factors, scenarios, stress, var
from analytics.engines.book import PositionBook
from analytics.services.columns import Columns
from analytics.services.inputs import MarketInputs, PortfolioInfo
from marketdata.factors import (
    FACTOR_LOOKBACK_DAYS,
    FACTOR_MIN_OBSERVATIONS,
    FACTOR_NAMES,
    FACTOR_PROXIES,
    RATE_PROXY,
    RATE_PROXY_DURATION,
)

REALISED_VOL_DAYS = 252
MIN_OPTION_VOL = 0.01
CORRELATION_WINDOW_DAYS = 90
CORRELATION_MIN_WEIGHT = 0.01  # positions below 1% of gross exposure are left out of the matrix
CORRELATION_MAX_SYMBOLS = 60  # the largest 60 by gross exposure at most
CLUSTER_THRESHOLD = 0.7
VAR_LOOKBACK_DAYS = 252
VAR_CONFIDENCES = (0.95, 0.99)
MARKET_SCENARIO_NAMES = {s: f"Market {'+' if s > 0 else '−'}{abs(s):.0%}" for s in scenarios.MARKET_SHOCKS}


def _finite(value: Any) -> float | None:
    """JSON-safe float: None for NaN/inf."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def rounded_list(values: np.ndarray, digits: int = 2) -> list[float | None]:
    """An array as JSON-safe rounded floats (NaN/inf → None), vectorised."""
    array = np.asarray(values, dtype=float)
    rounded = np.round(array, digits).tolist()
    if np.isfinite(array).all():
        return rounded
    return [v if math.isfinite(v) else None for v in rounded]


def _round(value: Any, digits: int = 2) -> float | None:
    number = _finite(value)
    return None if number is None else round(number, digits)


# --------------------------------------------------------------------------------------------
# Symbol-level stage: returns, volatility, factor betas (once per run, whatever the portfolios)
# --------------------------------------------------------------------------------------------


@dataclass
class SymbolStage:
    """Per-symbol results shared by every portfolio of a run."""

    returns: pd.DataFrame  # simple daily returns, T × S
    log_returns: pd.DataFrame
    realised_vol: pd.Series  # annualised, per symbol
    factor_returns: pd.DataFrame  # T × K, columns FACTOR_NAMES
    proxy_returns: pd.DataFrame  # T × proxies (SPY, VTV, ..., TLT) total returns
    fit: Any  # factors.FactorFit
    univariate_beta: pd.Series
    factor_cov: pd.DataFrame
    proxy_cov: pd.DataFrame
    condition_number: float
    n_observations: int
    scenario_shocks_cache: dict[str, list[ScenarioShocks]] = field(default_factory=dict, repr=False)

    @cached_property
    def factor_cov_matrix(self) -> np.ndarray:
        """Daily factor covariance (K × K) in ``FACTOR_NAMES`` order."""
        names = list(FACTOR_NAMES)
        return self.factor_cov.reindex(index=names, columns=names).to_numpy(dtype=float)

    def betas_for(self, symbols: pd.Series) -> np.ndarray:
        """Betas (N × K, FACTOR_NAMES order) for each symbol; NaN rows for symbols without a fit."""
        table = self.fit.betas.reindex(columns=list(FACTOR_NAMES))
        return table.reindex(symbols.to_numpy()).to_numpy(dtype=float)


def symbol_stage_compute(*, market: MarketInputs) -> SymbolStage:
    """Fit every symbol's factor betas over the last 252 trading days in one batched regression."""
    prices = market.prices
    returns = prices.pct_change(fill_method=None).iloc[1:]
    log_returns = np.log(prices).diff().iloc[1:]
    proxy_symbols = [*FACTOR_PROXIES.values(), RATE_PROXY]
    proxy_prices = prices.reindex(columns=proxy_symbols)
    factor_returns = factors.factor_returns(proxy_prices).dropna().iloc[-FACTOR_LOOKBACK_DAYS:]
    proxy_returns = proxy_prices.pct_change(fill_method=None).dropna().iloc[-FACTOR_LOOKBACK_DAYS:]
    if len(factor_returns) < FACTOR_MIN_OBSERVATIONS:
        raise ValueError(
            f"Only {len(factor_returns)} days of factor proxy returns (need {FACTOR_MIN_OBSERVATIONS}); "
            "run `python manage.py sync_market_data --ensure-factor-data`."
        )
    window = returns.reindex(factor_returns.index)
    fit = factors.fit_factor_betas(window, factor_returns, min_obs=FACTOR_MIN_OBSERVATIONS)
    recent_log = log_returns.iloc[-REALISED_VOL_DAYS:]
    realised_vol = recent_log.std(ddof=1) * math.sqrt(252)
    return SymbolStage(
        returns=returns,
        log_returns=log_returns,
        realised_vol=realised_vol,
        factor_returns=factor_returns,
        proxy_returns=proxy_returns,
        fit=fit,
        univariate_beta=factors.univariate_beta(window, factor_returns["market"]),
        factor_cov=factor_returns.cov(),
        proxy_cov=proxy_returns.cov(),
        condition_number=float(fit.condition_number),
        n_observations=len(factor_returns),
    )


# --------------------------------------------------------------------------------------------
# Position state: valuation and Greeks for every position of the run at once
# --------------------------------------------------------------------------------------------


def position_state_compute(*, positions: pd.DataFrame, market: MarketInputs, stage: SymbolStage | None) -> pd.DataFrame:
    """Valuation and Greeks for every position (one vectorised pass). Returns a frame aligned to ``positions``."""
    state = positions[["position_id", "portfolio_id", "symbol", "price_symbol", "is_option", "is_call"]].copy()
    n = len(positions)
    as_of = market.as_of
    is_option = positions["is_option"].to_numpy(dtype=bool)
    is_call = positions["is_call"].to_numpy(dtype=bool)
    quantity = positions["quantity"].to_numpy(dtype=float)
    multiplier = positions["multiplier"].to_numpy(dtype=float)
    strike = positions["strike"].to_numpy(dtype=float)
    spot = positions["price_symbol"].map(market.spot).to_numpy(dtype=float)
    spot_date = positions["price_symbol"].map(market.spot_date)

    option_rows = np.flatnonzero(is_option)
    expirations = positions["expiration"].to_numpy()
    years = np.full(n, np.nan)
    for i in option_rows:
        years[i] = (expirations[i] - as_of).days / 365.0
    expired = is_option & (years <= 0)

    # Implied vol: provider quote first, else realised vol of the underlying (documented fallback).
    vol = np.full(n, np.nan)
    vol_source = np.array([""] * n, dtype=object)
    quote_price = np.full(n, np.nan)
    quote_source = np.array([""] * n, dtype=object)
    realised = (
        positions["price_symbol"]
        .map(stage.realised_vol if stage is not None else pd.Series(dtype=float))
        .to_numpy(dtype=float)
    )
    contracts = positions["symbol"].to_numpy()
    for i in option_rows:
        quote = market.option_quotes.get(contracts[i])
        if quote is not None and quote.implied_vol and quote.implied_vol > 0:
            vol[i] = quote.implied_vol
            vol_source[i] = f"quote:{quote.source}:{quote.date.isoformat()}"
        elif np.isfinite(realised[i]):
            vol[i] = realised[i]
            vol_source[i] = "realised_vol_252d"
        if quote is not None and quote.date == as_of:
            if quote.bid and quote.ask and quote.bid > 0 and quote.ask > 0:
                quote_price[i] = (quote.bid + quote.ask) / 2
                quote_source[i] = f"quote_mid:{quote.source}"
            elif quote.last and quote.last > 0:
                quote_price[i] = quote.last
                quote_source[i] = f"quote_last:{quote.source}"
    vol = np.where(is_option & np.isfinite(vol), np.maximum(vol, MIN_OPTION_VOL), vol)

    greeks = black_scholes.bsm_greeks(
        spot=np.where(is_option, spot, np.nan),
        strike=np.where(is_option, strike, np.nan),
        years=years,
        vol=vol,
        rate=market.rate,
        div_yield=market.div_yield,
        is_call=is_call,
    )
    model_price = np.where(is_option & ~expired, greeks.price, np.nan)
    option_price = np.where(np.isfinite(quote_price), quote_price, model_price)
    price = np.where(is_option, option_price, spot)
    price = np.where(expired, np.nan, price)
    price_source = np.where(
        is_option,
        np.where(np.isfinite(quote_price), quote_source, np.where(np.isfinite(model_price), "bsm_model", "")),
        np.where(np.isfinite(spot), "close", ""),
    )

    market_value = quantity * price * multiplier
    cost_basis = quantity * positions["entry_price"].to_numpy(dtype=float) * multiplier
    per_position = black_scholes.position_greeks(greeks, quantity=quantity, multiplier=multiplier, spot=spot)
    delta_exposure = np.where(is_option, per_position.dollar_delta, market_value)

    state["price"] = price
    state["price_source"] = price_source
    state["price_date"] = np.where(is_option, pd.Timestamp(as_of), spot_date)
    state["spot"] = spot
    state["market_value"] = market_value
    state["cost_basis"] = cost_basis
    state["unrealised_pnl"] = market_value - cost_basis
    state["delta_exposure"] = delta_exposure
    state["expired"] = expired
    state["years"] = years
    state["vol"] = vol
    state["vol_source"] = vol_source
    state["model_price"] = model_price
    for name in ("delta", "gamma", "theta", "vega", "rho"):
        state[name] = np.where(is_option, getattr(greeks, name), np.nan)
        state[f"position_{name}"] = np.where(is_option, getattr(per_position, name), np.nan)
    # A share of stock has delta 1 per share: its position delta is its share count.
    state["position_delta"] = np.where(
        is_option, state["position_delta"], np.where(np.isfinite(spot), quantity, np.nan)
    )
    state["dollar_delta"] = np.where(is_option, per_position.dollar_delta, market_value)
    state["dollar_gamma"] = np.where(is_option, per_position.dollar_gamma, 0.0)
    if stage is not None:
        betas = stage.betas_for(positions["price_symbol"])
        state["betas"] = list(betas)
        state["market_beta"] = positions["price_symbol"].map(stage.univariate_beta).to_numpy(dtype=float)
        quality = stage.fit.quality.reindex(positions["price_symbol"].to_numpy()).fillna("no_data")
        state["beta_quality"] = quality.to_numpy()
    return state


# --------------------------------------------------------------------------------------------
# Portfolio-level payloads (the shapes are documented in analytics.selectors)
# --------------------------------------------------------------------------------------------


EXPOSURE_NAMES = {
    "long": "long_exposure",
    "short": "short_exposure",
    "gross": "gross_exposure",
    "net": "net_exposure",
    "delta_adjusted": "delta_adjusted_exposure",
    "options_exposure": "options_exposure",
    "stock_exposure": "stock_exposure",
    "cash": "cash",
    "leverage": "leverage",
}


def exposure_totals(
    *, market_value: np.ndarray, delta_exposure: np.ndarray, is_option: np.ndarray, equity_balance: float | None
) -> dict[str, float | None]:
    """Long/short/gross/net/delta-adjusted exposure, cash and leverage under their payload names."""
    totals = exposures.portfolio_exposures(
        market_value=market_value, delta_exposure=delta_exposure, is_option=is_option, equity_balance=equity_balance
    )
    return {name: _finite(totals.get(key)) for key, name in EXPOSURE_NAMES.items()}


def overview_payload(*, positions: Columns, state: Columns, info: PortfolioInfo) -> dict[str, Any]:
    """Exposures, cash and leverage of one portfolio (rows of ``positions``/``state`` for it only)."""
    priced = np.isfinite(np.asarray(state["market_value"], dtype=float))
    mv = np.where(priced, np.asarray(state["market_value"], dtype=float), 0.0)
    delta_exposure = np.where(priced, np.asarray(state["delta_exposure"], dtype=float), 0.0)
    totals = exposure_totals(
        market_value=mv,
        delta_exposure=delta_exposure,
        is_option=np.asarray(positions["is_option"], dtype=bool),
        equity_balance=info.equity_balance,
    )
    # Totals by tag (a position with several tags counts in each) and by underlying, in plain Python:
    # pandas group-bys cost more than they save on 60 rows.
    by_tag_acc: dict[str, list[float]] = {}
    by_underlying_acc: dict[str, list[float]] = {}
    for tags, symbol, value, delta in zip(
        positions["tags"], positions["price_symbol"], mv.tolist(), delta_exposure.tolist(), strict=True
    ):
        for tag in tags:
            acc = by_tag_acc.setdefault(tag, [0.0, 0.0, 0])
            acc[0] += value
            acc[1] += abs(value)
            acc[2] += 1
        acc = by_underlying_acc.setdefault(symbol, [0.0, 0.0, 0])
        acc[0] += value
        acc[1] += delta
        acc[2] += 1
    by_tag = {
        tag: {"market_value": _round(v), "gross": _round(g), "count": int(n)}
        for tag, (v, g, n) in sorted(by_tag_acc.items())
    }
    by_underlying = {
        symbol: {"market_value": _round(v), "delta_exposure": _round(d), "count": int(n)}
        for symbol, (v, d, n) in sorted(by_underlying_acc.items())
    }
    counts = sorted(Counter(positions["position_type"].tolist()).items())
    expired = np.asarray(state["expired"], dtype=bool)
    cost = np.asarray(state["cost_basis"], dtype=float)
    pnl = np.asarray(state["unrealised_pnl"], dtype=float)
    return {
        "equity_balance": info.equity_balance,
        "market_value": _round(mv.sum()),
        **{key: _round(value, 4 if key == "leverage" else 2) for key, value in totals.items()},
        "cost_basis": _round(np.nansum(np.where(priced, cost, 0.0))),
        "unrealised_pnl": _round(np.nansum(np.where(priced, pnl, 0.0))),
        "position_count": len(positions),
        "counts_by_type": {str(k): int(v) for k, v in counts},
        "by_tag": by_tag,
        "by_underlying": by_underlying,
        "expired_options": sorted(positions["symbol"][expired].tolist()),
        "missing_prices": sorted(set(positions["price_symbol"][~priced & ~expired].tolist())),
    }


GREEK_FIELDS = ("delta", "gamma", "theta", "vega", "rho")


def greeks_payload(*, positions: Columns, state: Columns, rate: float, div_yield: float) -> dict[str, Any]:
    """Portfolio Greeks (sum over options; stocks add their share delta to ``delta``) and per-option inputs."""
    options = np.asarray(positions["is_option"], dtype=bool)
    live = options & ~np.asarray(state["expired"], dtype=bool)
    totals = {
        "delta": _round(np.nansum(np.asarray(state["position_delta"], dtype=float)[live]), 4),
        "gamma": _round(np.nansum(np.asarray(state["position_gamma"], dtype=float)[live]), 6),
        "theta": _round(np.nansum(np.asarray(state["position_theta"], dtype=float)[live]), 2),
        "vega": _round(np.nansum(np.asarray(state["position_vega"], dtype=float)[live]), 2),
        "rho": _round(np.nansum(np.asarray(state["position_rho"], dtype=float)[live]), 2),
        "dollar_delta": _round(np.nansum(np.asarray(state["dollar_delta"], dtype=float)[live]), 2),
        "dollar_gamma": _round(np.nansum(np.asarray(state["dollar_gamma"], dtype=float)[live]), 2),
        "stock_share_delta": _round(np.nansum(np.asarray(state["position_delta"], dtype=float)[~options]), 4),
    }
    idx = np.flatnonzero(options)

    def take(frame: Columns, name: str) -> list[Any]:
        return frame[name][idx].tolist()

    def column(frame: Columns, name: str, digits: int) -> list[float | None]:
        return rounded_list(np.asarray(frame[name], dtype=float)[idx], digits)

    columns = {
        "strike": [_finite(v) for v in take(positions, "strike")],
        "spot": column(state, "spot", 4),
        "years_to_expiry": column(state, "years", 6),
        "implied_vol": column(state, "vol", 6),
        **{name: column(state, name, 8) for name in GREEK_FIELDS},
        **{f"position_{name}": column(state, f"position_{name}", 6) for name in GREEK_FIELDS},
        "dollar_delta": column(state, "dollar_delta", 2),
        "dollar_gamma": column(state, "dollar_gamma", 2),
    }
    rows = [
        {
            "position_id": position_id,
            "symbol": symbol,
            "underlying": underlying,
            "position_type": position_type,
            "quantity": quantity,
            "strike": columns["strike"][k],
            "expiration": expiration.isoformat() if expiration else None,
            "expired": bool(expired),
            "spot": columns["spot"][k],
            "years_to_expiry": columns["years_to_expiry"][k],
            "implied_vol": columns["implied_vol"][k],
            "implied_vol_source": vol_source,
            "rate": rate,
            "div_yield": div_yield,
            **{name: columns[name][k] for name in GREEK_FIELDS},
            **{f"position_{name}": columns[f"position_{name}"][k] for name in GREEK_FIELDS},
            "dollar_delta": columns["dollar_delta"][k],
            "dollar_gamma": columns["dollar_gamma"][k],
        }
        for k, (position_id, symbol, underlying, position_type, quantity, expiration, expired, vol_source) in enumerate(
            zip(
                take(positions, "position_key"),
                take(positions, "symbol"),
                take(positions, "price_symbol"),
                take(positions, "position_type"),
                take(positions, "quantity"),
                take(positions, "expiration"),
                take(state, "expired"),
                take(state, "vol_source"),
                strict=True,
            )
        )
    ]
    return {"totals": totals, "positions": rows}


def factor_exposure_payload(
    *, positions: Columns, state: Columns, info: PortfolioInfo, stage: SymbolStage
) -> dict[str, Any]:
    """Dollar exposures per factor (delta exposure × betas) and betas per unit of the basis."""
    betas = state["beta_matrix"]
    delta_exposure = np.asarray(state["delta_exposure"], dtype=float)
    usable = np.isfinite(delta_exposure) & np.all(np.isfinite(betas), axis=1)
    exposure_matrix = np.where(usable[:, None], delta_exposure[:, None] * betas, 0.0)
    dollar = exposure_matrix.sum(axis=0)
    gross = float(np.nansum(np.abs(np.where(np.isfinite(state["market_value"]), state["market_value"], 0.0))))
    if info.equity_balance:
        basis_name, basis = "equity_balance", info.equity_balance
    else:
        basis_name, basis = "gross_exposure", gross
    portfolio_betas = {f: _round(d / basis, 4) if basis else None for f, d in zip(FACTOR_NAMES, dollar, strict=True)}
    market_beta = np.asarray(state["market_beta"], dtype=float)
    univariate = float(np.nansum(np.where(usable, delta_exposure * market_beta, 0.0))) / basis if basis else None
    beta_rows = np.round(betas, 4).tolist()
    exposure_rows = np.round(exposure_matrix, 2).tolist()
    rows = [
        {
            "position_id": position_id,
            "symbol": symbol,
            "price_symbol": price_symbol,
            "delta_exposure": delta,
            "betas": {f: (b if math.isfinite(b) else None) for f, b in zip(FACTOR_NAMES, beta_row, strict=True)},
            "exposures": dict(zip(FACTOR_NAMES, exposure_row, strict=True)) if ok else {},
            "quality": quality,
        }
        for position_id, symbol, price_symbol, delta, beta_row, exposure_row, ok, quality in zip(
            positions["position_key"].tolist(),
            positions["symbol"].tolist(),
            positions["price_symbol"].tolist(),
            rounded_list(delta_exposure),
            beta_rows,
            exposure_rows,
            usable.tolist(),
            state["beta_quality"].tolist(),
            strict=True,
        )
    ]
    flags = {r["price_symbol"]: r["quality"] for r in rows if r["quality"] != "ok"}
    return {
        "factors": list(FACTOR_NAMES),
        "portfolio_betas": portfolio_betas,
        "dollar_exposures": {f: _round(d) for f, d in zip(FACTOR_NAMES, dollar, strict=True)},
        "beta_basis": basis_name,
        "basis_value": _round(basis),
        "market_beta_univariate": _round(univariate, 4),
        "condition_number": _round(stage.condition_number, 3),
        "positions": rows,
        "quality_flags": flags,
        "excluded": sorted({r["price_symbol"] for r, ok in zip(rows, usable, strict=True) if not ok}),
    }


def _position_book(positions: pd.DataFrame, state: pd.DataFrame, rate: float, div_yield: float) -> PositionBook:
    """The chunk's positions for revaluation, with expired and unpriced options neutralised."""
    is_option = positions["is_option"].to_numpy(dtype=bool) & ~state["expired"].to_numpy(dtype=bool)
    price = state["price"].to_numpy(dtype=float)
    return PositionBook.of(
        quantity=positions["quantity"].to_numpy(dtype=float),
        multiplier=positions["multiplier"].to_numpy(dtype=float),
        price=np.where(is_option, state["model_price"].to_numpy(dtype=float), price),
        is_option=is_option,
        is_call=positions["is_call"].to_numpy(dtype=bool),
        spot=state["spot"].to_numpy(dtype=float),
        strike=positions["strike"].to_numpy(dtype=float),
        years=state["years"].to_numpy(dtype=float),
        vol=state["vol"].to_numpy(dtype=float),
        rate=rate,
        div_yield=div_yield,
    )


def market_scenario_pnl(*, positions: pd.DataFrame, state: pd.DataFrame, rate: float, div_yield: float) -> np.ndarray:
    """P&L (shocks × positions) of the ±5/10/20% market moves: stocks by univariate beta, options repriced."""
    book = _position_book(positions, state, rate, div_yield)
    beta = state["market_beta"].to_numpy(dtype=float)
    pnl = scenarios.scenario_pnl(shocks=np.array(scenarios.MARKET_SHOCKS), book=book, market_beta=beta)
    return np.where(np.isfinite(pnl), pnl, 0.0)


def market_scenarios_payload(*, positions: Columns, info: PortfolioInfo, pnl: np.ndarray) -> dict[str, Any]:
    """The market-scenario result of one portfolio from its columns of ``market_scenario_pnl``."""
    totals = pnl.sum(axis=1)
    by_position = np.round(pnl, 2).tolist()
    rows = [
        {
            "id": f"market_{'up' if shock > 0 else 'down'}_{round(abs(shock) * 100)}",
            "name": MARKET_SCENARIO_NAMES[shock],
            "shock": shock,
            "pnl": _round(totals[k]),
            "pnl_pct_of_equity": _round(totals[k] / info.equity_balance, 6) if info.equity_balance else None,
            "pnl_by_position": by_position[k],
        }
        for k, shock in enumerate(scenarios.MARKET_SHOCKS)
    ]
    return {"positions": _position_keys(positions), "scenarios": rows, "beta": "univariate market beta (252d)"}


def _position_keys(positions: Columns) -> list[dict[str, str]]:
    """``[{"position_id", "symbol"}]``: the order of a payload's per-position lists (stored once, not per row)."""
    return [
        {"position_id": key, "symbol": symbol}
        for key, symbol in zip(positions["position_key"].tolist(), positions["symbol"].tolist(), strict=True)
    ]


@dataclass(frozen=True)
class ScenarioShocks:
    """A catalog scenario with its factor shocks solved once per run (they do not depend on the portfolio)."""

    spec: dict[str, Any]
    direct: pd.Series
    conditioned: pd.Series
    vol_shift: float

    @cached_property
    def direct_rounded(self) -> dict[str, float | None]:
        return {f: _round(self.direct[f], 6) for f in FACTOR_NAMES}

    @cached_property
    def conditioned_rounded(self) -> dict[str, float | None]:
        return {f: _round(self.conditioned[f], 6) for f in FACTOR_NAMES}


def scenario_shocks_compute(*, catalog: list[dict[str, Any]], stage: SymbolStage) -> list[ScenarioShocks]:
    """Direct and conditioned factor shocks of every scenario (conditioning in proxy space).

    They depend only on the catalog and the run's factor model: solved once per stage and reused
    by every chunk of the run.
    """
    key = repr(catalog)
    if key not in stage.scenario_shocks_cache:
        stage.scenario_shocks_cache[key] = _scenario_shocks_solve(catalog=catalog, stage=stage)
    return stage.scenario_shocks_cache[key]


def _scenario_shocks_solve(*, catalog: list[dict[str, Any]], stage: SymbolStage) -> list[ScenarioShocks]:
    return [
        ScenarioShocks(
            spec=scenario,
            direct=stress.direct_factor_shocks(scenario["shocks"], duration=RATE_PROXY_DURATION),
            conditioned=stress.conditioned_factor_shocks(
                scenario["shocks"], stage.proxy_cov, duration=RATE_PROXY_DURATION
            ),
            vol_shift=float(scenario.get("implied_vol_shift") or 0.0),
        )
        for scenario in catalog
    ]


@dataclass(frozen=True)
class StressArrays:
    """Every scenario's P&L over every position of a chunk (USD), scenarios in catalog order."""

    shocks: list[ScenarioShocks]
    direct: np.ndarray  # S × N
    conditioned: np.ndarray  # S × N
    conditioned_by_factor: np.ndarray  # S × N × columns
    factor_columns: list[str]


def stress_arrays_compute(
    *, positions: pd.DataFrame, state: pd.DataFrame, shocks: list[ScenarioShocks], rate: float, div_yield: float
) -> StressArrays:
    """Reprice every position of the chunk under every scenario, once (options at the shocked spot and vol)."""
    book = _position_book(positions, state, rate, div_yield)
    betas = np.vstack(state["betas"].to_numpy()) if len(state) else np.empty((0, len(FACTOR_NAMES)))
    betas = np.where(np.isfinite(betas), betas, 0.0)
    direct, conditioned, by_factor, columns = [], [], [], [str(f) for f in FACTOR_NAMES]
    for solved in shocks:
        direct_pnl = stress.stress_pnl(factor_shocks=solved.direct, betas=betas, book=book, vol_shift=solved.vol_shift)
        conditioned_pnl = stress.stress_pnl(
            factor_shocks=solved.conditioned, betas=betas, book=book, vol_shift=solved.vol_shift
        )
        direct.append(np.nan_to_num(np.asarray(direct_pnl.position_pnl, dtype=float)))
        conditioned.append(np.nan_to_num(np.asarray(conditioned_pnl.position_pnl, dtype=float)))
        by_factor.append(np.nan_to_num(conditioned_pnl.factor_pnl.to_numpy(dtype=float)))
        columns = [str(c) for c in conditioned_pnl.factor_pnl.columns]
    n = len(state)
    return StressArrays(
        shocks=shocks,
        direct=np.vstack(direct) if direct else np.empty((0, n)),
        conditioned=np.vstack(conditioned) if conditioned else np.empty((0, n)),
        conditioned_by_factor=np.stack(by_factor) if by_factor else np.empty((0, n, len(columns))),
        factor_columns=columns,
    )


def stress_payload(*, positions: Columns, info: PortfolioInfo, arrays: StressArrays, rows: slice) -> dict[str, Any]:
    """The stress result of one portfolio: its ``rows`` of the chunk's scenario arrays. No loss cap."""
    equity = info.equity_balance
    direct, conditioned = arrays.direct[:, rows], arrays.conditioned[:, rows]
    direct_totals, conditioned_totals = direct.sum(axis=1).tolist(), conditioned.sum(axis=1).tolist()
    by_factor = np.round(arrays.conditioned_by_factor[:, rows, :].sum(axis=1), 2).tolist()
    direct_by_position, conditioned_by_position = np.round(direct, 2).tolist(), np.round(conditioned, 2).tolist()
    results = []
    for k, solved in enumerate(arrays.shocks):
        scenario = solved.spec
        direct_total, conditioned_total = direct_totals[k], conditioned_totals[k]
        results.append(
            {
                "id": scenario["id"],
                "name": scenario["name"],
                "category": scenario.get("category", ""),
                "severity": scenario.get("severity", ""),
                "shocks": scenario["shocks"],
                "implied_vol_shift": solved.vol_shift,
                "direct_pnl": _round(direct_total),
                "conditioned_pnl": _round(conditioned_total),
                "direct_pct": _round(direct_total / equity, 6) if equity else None,
                "conditioned_pct": _round(conditioned_total / equity, 6) if equity else None,
                "factor_shocks_direct": solved.direct_rounded,
                "factor_shocks_conditioned": solved.conditioned_rounded,
                "by_factor": dict(zip(arrays.factor_columns, by_factor[k], strict=True)),
                "direct_pnl_by_position": direct_by_position[k],
                "conditioned_pnl_by_position": conditioned_by_position[k],
            }
        )
    worst = min(results, key=lambda r: r["conditioned_pnl"] or 0.0) if results else None
    return {
        "positions": _position_keys(positions),
        "scenarios": results,
        "worst": {k: worst[k] for k in ("id", "name", "conditioned_pnl", "conditioned_pct")} if worst else None,
        "losses_exceed_equity": [
            r["id"] for r in results if equity and r["conditioned_pnl"] is not None and -r["conditioned_pnl"] > equity
        ],
    }


@dataclass(frozen=True)
class CorrelationWindow:
    """The last 90 daily log returns of every symbol of a chunk with at least 30 prices in the window."""

    returns: np.ndarray  # T × S
    column: dict[str, int]

    def matrix(self, symbols: list[str]) -> pd.DataFrame:
        """Pairwise-complete Pearson matrix of ``symbols`` (each must be in the window)."""
        values = self.returns[:, [self.column[s] for s in symbols]]
        return pd.DataFrame(correlations.pairwise_pearson(values, min_periods=20), index=symbols, columns=symbols)


def correlation_window(*, prices: pd.DataFrame) -> CorrelationWindow:
    """Log returns of the correlation window, computed once per chunk; each portfolio then correlates
    only its own symbols (60 × 60 from matrix products: cheaper than one universe-wide matrix)."""
    recent = prices.iloc[-CORRELATION_WINDOW_DAYS - 1 :]
    counts = recent.count()
    usable = counts[counts >= 30].index.tolist()
    returns = correlations.log_returns(recent[usable]).to_numpy(dtype=float)
    return CorrelationWindow(returns=returns, column={s: k for k, s in enumerate(usable)})


def correlations_payload(
    *, positions: Columns, state: Columns, window: CorrelationWindow, sectors: dict[str, str]
) -> dict[str, Any]:
    """90-day log-return correlations of the portfolio's price symbols above the size threshold.

    ``window`` is ``correlation_window`` of the chunk; symbols missing from it had fewer than 30
    prices in the window.
    """
    gross_by_symbol: dict[str, float] = {}
    for symbol, exposure in zip(
        positions["price_symbol"].tolist(),
        np.abs(np.nan_to_num(np.asarray(state["delta_exposure"], dtype=float))).tolist(),
        strict=True,
    ):
        gross_by_symbol[symbol] = gross_by_symbol.get(symbol, 0.0) + exposure
    # Largest gross exposure first; ties by symbol (stable sort over the sorted names).
    ranked = sorted(sorted(gross_by_symbol), key=lambda s: -gross_by_symbol[s])
    total = float(sum(gross_by_symbol.values()))
    weights = {s: gross_by_symbol[s] / total if total else gross_by_symbol[s] for s in ranked}
    excluded: list[dict[str, str]] = []
    keep = []
    for symbol in ranked:
        if weights[symbol] < CORRELATION_MIN_WEIGHT:
            excluded.append({"symbol": symbol, "reason": f"below {CORRELATION_MIN_WEIGHT:.0%} of gross exposure"})
        elif len(keep) >= CORRELATION_MAX_SYMBOLS:
            excluded.append({"symbol": symbol, "reason": f"beyond the largest {CORRELATION_MAX_SYMBOLS}"})
        elif symbol not in window.column:
            excluded.append({"symbol": symbol, "reason": "fewer than 30 prices in the window"})
        else:
            keep.append(symbol)
    matrix = window.matrix(keep) if keep else pd.DataFrame()
    values = matrix.to_numpy(dtype=float)
    w = np.array([weights[s] for s in keep], dtype=float)
    clusters = []
    tag_sets: dict[str, set[str]] = {symbol: set() for symbol in keep}
    for symbol, tags in zip(positions["price_symbol"], positions["tags"], strict=True):
        if symbol in tag_sets:
            tag_sets[symbol].update(tags)
    index = {symbol: k for k, symbol in enumerate(keep)}
    for members in correlations.correlation_clusters(matrix, threshold=CLUSTER_THRESHOLD) if keep else []:
        shared = set.intersection(*(tag_sets[m] for m in members))
        member_sectors = {sectors.get(m, "") for m in members}
        if shared:
            name = sorted(shared)[0]
        elif len(member_sectors) == 1 and "" not in member_sectors:
            name = member_sectors.pop()
        else:
            name = " / ".join(members[:3]) + (" …" if len(members) > 3 else "")
        at = [index[m] for m in members]
        sub = values[np.ix_(at, at)]
        off = sub[~np.eye(len(members), dtype=bool)]
        clusters.append({"name": name, "symbols": members, "average_correlation": _round(off.mean(), 4)})
    flat = rounded_list(values.ravel(), 4)
    n = len(keep)
    return {
        "symbols": keep,
        "matrix": [flat[i * n : (i + 1) * n] for i in range(n)],
        "window_days": CORRELATION_WINDOW_DAYS,
        "min_weight": CORRELATION_MIN_WEIGHT,
        "cluster_threshold": CLUSTER_THRESHOLD,
        "clusters": clusters,
        "average_abs_correlation": _round(correlations.average_abs_correlation(matrix), 4) if n > 1 else None,
        "diversification_score": _round(correlations.diversification_score(matrix, w), 4) if n > 1 else None,
        "effective_positions": _round(correlations.effective_positions(list(weights.values())), 3) if total else None,
        "excluded": excluded,
    }


def historical_pnl_compute(
    *, positions: pd.DataFrame, state: pd.DataFrame, stage: SymbolStage, rate: float, div_yield: float
) -> np.ndarray:
    """Today's positions revalued under each of the last 252 days' returns: P&L (days × positions), USD.

    Stocks: market value × the day's return of their symbol; options: fully repriced at spot × (1 + r).
    A missing return counts as 0 (no move).
    """
    book = _position_book(positions, state, rate, div_yield)
    returns = stage.returns.iloc[-VAR_LOOKBACK_DAYS:]
    symbol_returns = returns.reindex(columns=positions["price_symbol"].to_numpy()).to_numpy(dtype=float)
    symbol_returns = np.where(np.isfinite(symbol_returns), symbol_returns, 0.0)
    pnl = var.historical_position_pnl(returns=symbol_returns, book=book)
    return np.where(np.isfinite(pnl), pnl, 0.0)


def var_payload(*, positions: Columns, state: Columns, stage: SymbolStage, scenario_pnl: np.ndarray) -> dict[str, Any]:
    """1-day VaR/ES at 95% and 99%: historical (252 days, options revalued: ``scenario_pnl`` is this portfolio's
    columns of ``historical_pnl_compute``) and parametric (factor covariance plus specific risk)."""
    historical = {c: var.historical_var(scenario_pnl, confidence=c) for c in VAR_CONFIDENCES}

    betas = state["beta_matrix"]
    delta_exposure = np.nan_to_num(np.asarray(state["delta_exposure"], dtype=float))
    usable = np.all(np.isfinite(betas), axis=1)
    exposure_matrix = np.where(usable[:, None], delta_exposure[:, None] * np.nan_to_num(betas), 0.0)
    residual = np.asarray(state["residual_vol"], dtype=float)
    # Positions on one symbol share its idiosyncratic shock (a stock and its hedging put offset).
    specific = var.specific_covariance(
        dollar_exposure=delta_exposure,
        residual_vol=np.where(np.isfinite(residual), residual, 0.0),
        group=positions["price_symbol"],
    )
    cov = stage.factor_cov_matrix
    parametric = {
        c: var.parametric_var(exposures=exposure_matrix, factor_cov=cov, specific_var=specific, confidence=c)
        for c in VAR_CONFIDENCES
    }
    historical_var = rounded_list(historical[0.99].component_var)
    historical_es = rounded_list(historical[0.99].component_es)
    parametric_var = rounded_list(parametric[0.99].component_var)
    contributions = [
        {
            "position_id": pid,
            "symbol": sym,
            "historical_var_99": historical_var[i],
            "historical_es_99": historical_es[i],
            "parametric_var_99": parametric_var[i],
        }
        for i, (pid, sym) in enumerate(
            zip(positions["position_key"].tolist(), positions["symbol"].tolist(), strict=True)
        )
    ]
    return {
        "horizon_days": 1,
        "historical": {
            "var_95": _round(historical[0.95].var),
            "es_95": _round(historical[0.95].es),
            "var_99": _round(historical[0.99].var),
            "es_99": _round(historical[0.99].es),
            "observations": int(scenario_pnl.shape[0]),
        },
        "parametric": {
            "var_95": _round(parametric[0.95].var),
            "es_95": _round(parametric[0.95].es),
            "var_99": _round(parametric[0.99].var),
            "es_99": _round(parametric[0.99].es),
        },
        "contributions": contributions,
    }

"""What every result kind of a chunk shares, computed over the loaded frames — no ORM, no clock: the
symbol stage (returns, realised vols, factor betas of every symbol, once per run) and the position
state (valuation and Greeks of every position, once per chunk). Each kind's own computation lives
in its module under ``analytics.results``.

Conventions (USD; returns are simple daily decimals unless stated):

- Stocks are priced at their last adjusted close on or before ``as_of``.
- Options are valued per share at the quote mid (bid/ask both > 0) on ``as_of``, else the
  quote's last trade, else the Black–Scholes–Merton model price. Their implied volatility comes
  from the provider's quote when present (the last one on or before ``as_of``); otherwise the
  **fallback** is the underlying's realised volatility: annualised standard deviation of its last
  252 daily log returns (``iv_source = "realised_vol_252d"``). Never a silent constant.
- Options on a volatility index (``marketdata.factors.VOLATILITY_INDICES``: VIX) are priced by
  Black-76 on the index's mean-reverting forward (``analytics.engines.volatility_index``); their
  quoted vol is a Black-76 vol, and without a quote the model's own forward vol is used
  (``iv_source = "model:ou_forward_vol"``). Delta is per index point of the spot index.
- Time to expiry is ACT/365 from ``as_of``. An option expiring **on** ``as_of`` is valued at the close
  at its intrinsic value, with delta 1 (call) / −1 (put) when strictly in the money, else 0, and no
  gamma, theta, vega or rho (``black_scholes.expiry_greeks``); price source ``intrinsic``. One whose
  expiration is **before** ``as_of`` is expired: flagged, not priced, left out of exposures (the
  batch's ``expiries`` step settles it first: ``analytics.services.expiries``).
- Delta exposure: stocks their market value; options their dollar delta (delta × quantity ×
  multiplier × spot). Factor exposure of a position = delta exposure × betas of its price symbol.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from analytics.engines import black_scholes, covariance, factors, valuation, volatility_index
from analytics.engines.book import PositionBook
from analytics.services.inputs import MarketInputs
from marketdata.factors import (
    FACTOR_LOOKBACK_DAYS,
    FACTOR_MIN_OBSERVATIONS,
    FACTOR_NAMES,
    FACTOR_PROXIES,
    MARKET_FACTOR,
    RATE_FACTOR,
    RATE_PROXY,
    RATE_PROXY_DURATION,
    STYLE_FACTORS,
    VOLATILITY_INDICES,
)

# The factor model the engines are given (they import no app; its definition is marketdata.factors).
FACTOR_SET = factors.FactorSet(
    market=MARKET_FACTOR,
    styles=STYLE_FACTORS,
    rate=RATE_FACTOR,
    proxies=FACTOR_PROXIES,
    rate_proxy=RATE_PROXY,
    rate_duration=RATE_PROXY_DURATION,
)
REALISED_VOL_DAYS = 252
MIN_OPTION_VOL = 0.01


def finite(value: Any) -> float | None:
    """JSON-safe float: None for NaN/inf."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def rounded_list(values: Any, digits: int = 2) -> list[float | None]:
    """An array as JSON-safe rounded floats (NaN/inf → None), vectorised."""
    array = np.asarray(values, dtype=float)
    out: list[float | None] = np.round(array, digits).tolist()
    if np.isfinite(array).all():
        return out
    return [v if v is not None and math.isfinite(v) else None for v in out]


def rounded(value: Any, digits: int = 2) -> float | None:
    """``value`` rounded to ``digits``, or None when it is not a finite number (``finite``, inlined: a payload
    rounds about a thousand numbers per portfolio)."""
    if value is None:
        return None
    number = float(value)
    return round(number, digits) if math.isfinite(number) else None


# How far from a half ``x × 10**digits`` must be, as computed, for numpy's rint to round it as Python's ``round``
# rounds x, relative to 1 + |product|: the product's own error is at most half a unit in its last place (1.1e-16
# relative), so the margin is ten thousand times that. From |product| ≥ 5e11 on no product is trusted.
_HALF_MARGIN = 1e-12
# Below this many values, rounding each with ``round`` beats numpy's fixed cost per call (8 values: 8 against 14–23 µs).
_VECTOR_MIN = 16


def rounded_each(values: Any, digits: int = 2) -> list[float | None]:
    """``[rounded(v, digits) for v in values]``, bit for bit: Python's ``round`` (correctly rounded, half to even
    on the double's exact value — not numpy's scale-and-round of :func:`rounded_list`) of each element as a
    float, None where it is not finite. For per-element payload fields (a few hundred numbers per portfolio).

    Vectorised: k = rint(x × 10**digits), then k / 10**digits — the double nearest to k/10**digits (IEEE
    division is correctly rounded, and k and 10**digits are exact), which is what ``round`` returns whenever k
    is its integer too. That holds unless the computed product lies within :data:`_HALF_MARGIN` of a half: those
    elements (and non-finite ones) go through ``round`` itself. 60 values: 32–38 → 14–23 µs; 600: 375–430 →
    28–40 µs (fewer than :data:`_VECTOR_MIN`: ``round`` each)."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size < _VECTOR_MIN or not 0 <= digits <= 22:  # few values, or 10**digits not exact as a double
        return [rounded(v, digits) for v in array.tolist()]
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = array * scale
        integral = np.rint(scaled)
        out: list[float | None] = (integral / scale).tolist()
        trusted = np.abs(np.abs(scaled - integral) - 0.5) > _HALF_MARGIN * (1.0 + np.abs(scaled))  # False: NaN, inf
    if trusted.all():
        return out
    for index in np.flatnonzero(~trusted).tolist():
        out[index] = rounded(float(array[index]), digits)
    return out


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
    # How factor_cov and the fit's residual vols were estimated (``analytics.engines.covariance``).
    covariance_estimator: covariance.Estimator = "equal_weighted"
    ewma_lambda: float = covariance.RISKMETRICS_LAMBDA
    scenario_shocks_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    # The Monte Carlo's rows kept across uses of this stage's day (``monte_carlo.path_cache``: each symbol's simulated
    # returns, each option's repriced values): None makes them afresh each time; the batch keeps them for its run
    # (``batch.symbol_stage_load``), a what-if for its day (``whatif.DayInputs``).
    monte_carlo_draws: dict[Any, Any] | None = field(default=None, repr=False)
    # ``_beta_table``'s lookup, with the betas frame it was made from.
    _betas_indexed: tuple[pd.DataFrame, np.ndarray, dict[str, int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @cached_property
    def factor_cov_matrix(self) -> np.ndarray:
        """Daily factor covariance (K × K) in ``FACTOR_NAMES`` order."""
        names = list(FACTOR_NAMES)
        return self.factor_cov.reindex(index=names, columns=names).to_numpy(dtype=float)

    def betas_for(self, symbols: Iterable[str]) -> np.ndarray:
        """Betas (N × K, FACTOR_NAMES order) for each symbol; NaN rows for symbols without a fit."""
        table, row = self._beta_table()
        missing = len(table) - 1
        return table[[row.get(symbol, missing) for symbol in symbols]]

    def _beta_table(self) -> tuple[np.ndarray, dict[str, int]]:
        """The fitted betas as one array (S + 1 rows × K, FACTOR_NAMES order; the last row NaN, for symbols
        without a fit) and each symbol's row: a lookup per call instead of a pandas reindex (called per portfolio).
        Made again when the fit's betas are replaced (``whatif.stage_extend`` adds symbols to them)."""
        betas = self.fit.betas
        if self._betas_indexed is None or self._betas_indexed[0] is not betas:
            table = betas.reindex(columns=list(FACTOR_NAMES)).to_numpy(dtype=float)
            table = np.vstack([table, np.full((1, len(FACTOR_NAMES)), np.nan)])
            self._betas_indexed = (betas, table, {str(s): i for i, s in enumerate(betas.index)})
        return self._betas_indexed[1], self._betas_indexed[2]


def symbol_stage_compute(
    *,
    market: MarketInputs,
    estimator: covariance.Estimator = "equal_weighted",
    ewma_lambda: float = covariance.RISKMETRICS_LAMBDA,
) -> SymbolStage:
    """Fit every symbol's factor betas over the last 252 trading days in one batched regression.

    ``estimator`` picks the factor covariance (equal-weighted, EWMA or Ledoit–Wolf) and, for ``ewma``,
    replaces each symbol's residual vol by the EWMA standard deviation of its regression residuals
    (specific risk); the betas are OLS whatever the estimator."""
    prices = market.prices
    returns = prices.pct_change(fill_method=None).iloc[1:]
    log_returns = np.log(prices).diff().iloc[1:]
    proxy_symbols = list(FACTOR_SET.proxy_symbols)
    proxy_prices = prices.reindex(columns=proxy_symbols)
    factor_returns = factors.factor_returns(proxy_prices, FACTOR_SET).dropna().iloc[-FACTOR_LOOKBACK_DAYS:]
    proxy_returns = proxy_prices.pct_change(fill_method=None).dropna().iloc[-FACTOR_LOOKBACK_DAYS:]
    if len(factor_returns) < FACTOR_MIN_OBSERVATIONS:
        raise ValueError(
            f"Only {len(factor_returns)} days of factor proxy returns (need {FACTOR_MIN_OBSERVATIONS}); "
            "run `python manage.py sync_market_data --ensure-factor-data`."
        )
    window = returns.reindex(factor_returns.index)
    fit = factors.fit_factor_betas(window, factor_returns, min_obs=FACTOR_MIN_OBSERVATIONS, ok_obs=FACTOR_LOOKBACK_DAYS)
    factor_cov = pd.DataFrame(
        covariance.factor_covariance(factor_returns.to_numpy(dtype=float), estimator=estimator, lam=ewma_lambda),
        index=factor_returns.columns,
        columns=factor_returns.columns,
    )
    if estimator == "ewma":
        betas = fit.betas.reindex(index=window.columns, columns=factor_returns.columns)
        residuals = window.to_numpy(dtype=float) - fit.alpha.reindex(window.columns).to_numpy(dtype=float)
        residuals = residuals - factor_returns.to_numpy(dtype=float) @ betas.to_numpy(dtype=float).T
        specific = pd.Series(covariance.ewma_volatility(residuals, lam=ewma_lambda), index=window.columns)
        fit = dataclasses.replace(fit, residual_vol=specific.where(fit.residual_vol.reindex(window.columns).notna()))
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
        factor_cov=factor_cov,
        proxy_cov=proxy_returns.cov(),
        condition_number=float(fit.condition_number),
        n_observations=len(factor_returns),
        covariance_estimator=estimator,
        ewma_lambda=ewma_lambda,
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
    expired = is_option & (years < 0)
    at_expiry = is_option & (years == 0)
    on_index = is_option & positions["price_symbol"].isin(VOLATILITY_INDICES).to_numpy(dtype=bool)

    # Implied vol: provider quote first, else realised vol of the underlying (documented fallback); an
    # index option without a quote takes its model's forward vol.
    vol = np.full(n, np.nan)
    vol_source = np.array([""] * n, dtype=object)
    quote_price = np.full(n, np.nan)
    quote_source = np.array([""] * n, dtype=object)
    realised = (
        positions["price_symbol"]
        .map(stage.realised_vol if stage is not None else pd.Series(dtype=float))
        .to_numpy(dtype=float)
    )
    model_vol = volatility_index.forward_vol(np.where(on_index, np.maximum(years, 0.0), 1.0))
    contracts = positions["symbol"].to_numpy()
    for i in option_rows:
        quote = market.option_quotes.get(contracts[i])
        if quote is not None and quote.implied_vol and quote.implied_vol > 0:
            vol[i] = quote.implied_vol
            vol_source[i] = f"quote:{quote.source}:{quote.date.isoformat()}"
        elif on_index[i]:
            vol[i] = model_vol[i]
            vol_source[i] = "model:ou_forward_vol"
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
    greeks = _special_greeks(greeks, on_index=on_index & ~expired & ~at_expiry, at_expiry=at_expiry, spot=spot,
                             strike=strike, years=years, vol=vol, rate=market.rate, is_call=is_call)  # fmt: skip
    model_price = np.where(is_option & ~expired, greeks.price, np.nan)
    # On its expiration day an option is worth its intrinsic value, whatever its last quote says.
    quote_price = np.where(at_expiry, np.nan, quote_price)
    option_price = np.where(np.isfinite(quote_price), quote_price, model_price)
    price = np.where(is_option, option_price, spot)
    price = np.where(expired, np.nan, price)
    model_name = np.where(at_expiry, "intrinsic", np.where(on_index, "black76_ou_forward", "bsm_model"))
    price_source = np.where(
        is_option,
        np.where(np.isfinite(quote_price), quote_source, np.where(np.isfinite(model_price), model_name, "")),
        np.where(np.isfinite(spot), "close", ""),
    )

    per_position = black_scholes.position_greeks(greeks, quantity=quantity, multiplier=multiplier, spot=spot)
    values = valuation.position_values(
        quantity=quantity,
        price=price,
        multiplier=multiplier,
        entry_price=positions["entry_price"].to_numpy(dtype=float),
        is_option=is_option,
        dollar_delta=per_position.dollar_delta,
    )
    market_value = values.market_value

    state["price"] = price
    state["price_source"] = price_source
    state["price_date"] = np.where(is_option, pd.Timestamp(as_of), spot_date)
    state["spot"] = spot
    state["market_value"] = market_value
    state["cost_basis"] = values.cost_basis
    state["unrealised_pnl"] = values.unrealised_pnl
    state["delta_exposure"] = values.delta_exposure
    state["expired"] = expired
    state["at_expiry"] = at_expiry
    state["vol_index"] = on_index
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
        betas = stage.betas_for(positions["price_symbol"].tolist())
        state["betas"] = list(betas)
        state["market_beta"] = positions["price_symbol"].map(stage.univariate_beta).to_numpy(dtype=float)
        quality = stage.fit.quality.reindex(positions["price_symbol"].to_numpy()).fillna("no_data")
        state["beta_quality"] = quality.to_numpy()
    return state


def _special_greeks(
    greeks: black_scholes.Greeks,
    *,
    on_index: np.ndarray,
    at_expiry: np.ndarray,
    spot: np.ndarray,
    strike: np.ndarray,
    years: np.ndarray,
    vol: np.ndarray,
    rate: float,
    is_call: np.ndarray,
) -> black_scholes.Greeks:
    """The BSM Greeks with the rows that BSM does not describe replaced: volatility-index options
    (``volatility_index.option_greeks``) and options on their expiration day (``expiry_greeks``)."""
    if not (on_index.any() or at_expiry.any()):
        return greeks
    values = {name: np.array(getattr(greeks, name), dtype=float) for name in ("price", *GREEK_FIELDS)}
    invalid = np.array(greeks.invalid)
    expired = np.array(greeks.expired)
    rows = np.flatnonzero(on_index)
    if rows.size:
        index = volatility_index.option_greeks(
            spot=spot[rows], strike=strike[rows], years=years[rows], rate=rate, is_call=is_call[rows], vol=vol[rows]
        )
        for name in values:
            values[name][rows] = getattr(index, name)
        invalid[rows] = ~np.isfinite(index.price)
    rows = np.flatnonzero(at_expiry)
    if rows.size:
        settled = black_scholes.expiry_greeks(spot=spot[rows], strike=strike[rows], is_call=is_call[rows])
        for name in values:
            values[name][rows] = getattr(settled, name)
        expired[rows] = False
        invalid[rows] = settled.invalid
    return black_scholes.Greeks(**values, expired=expired, invalid=invalid)


GREEK_FIELDS = ("delta", "gamma", "theta", "vega", "rho")


def implied_vol_ratios(
    *, market: MarketInputs, positions: pd.DataFrame, dates: pd.Index, options_only: bool = False
) -> np.ndarray:
    """Each option's implied-vol change on each of ``dates`` as a ratio σ_t / σ_{t−1} (T × N; 1 for stocks; with
    ``options_only``, T × the option rows, in row order: the columns an option revaluation reads).

    From the stored quotes (``market.option_quote_history``): the contract's own change from the
    previous session; a day the contract has no pair of quotes takes the mean log change
    of the other contracts on its underlying that day held by the same portfolio (``portfolio_id``, when the
    frame has it), else no change (1). Used by historical VaR to move vols with each historical day.

    The fallback looks no further than the row's own portfolio so that a portfolio's figures do not depend on
    which other portfolios share its chunk (a what-if computes the after portfolio alone, against the batch's
    stored before); identical contracts of two portfolios may therefore get different ratios.
    """
    n = len(positions)
    is_option = positions["is_option"].to_numpy(dtype=bool)
    option_columns = np.flatnonzero(is_option)
    out = np.ones((len(dates), option_columns.size if options_only else n))
    if not is_option.any() or not market.option_quote_history:
        return out
    contracts = positions["symbol"].to_numpy()[is_option]
    underlyings = positions["price_symbol"].to_numpy()[is_option]
    owner = positions["portfolio_id"].to_numpy() if "portfolio_id" in positions else np.zeros(n)
    owners = owner[is_option]
    ivs = market.implied_vols(list(contracts))
    if ivs.empty:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = np.log(ivs).diff().reindex(pd.DatetimeIndex(dates))
    groups = list(zip(owners.tolist(), underlyings.tolist(), strict=True))
    by_group: dict[tuple[Any, str], pd.Series] = {}
    for group in dict.fromkeys(groups):
        same = [c for c, g in zip(contracts, groups, strict=True) if g == group]
        by_group[group] = changes[list(dict.fromkeys(same))].mean(axis=1, skipna=True)
    # Each option row's own change, else its group's mean, else 0 (as ``fillna`` twice), as arrays.
    column_of = {c: i for i, c in enumerate(changes.columns)}
    own = changes.to_numpy(dtype=float)[:, [column_of[c] for c in contracts]]
    means = {group: series.to_numpy(dtype=float) for group, series in by_group.items()}
    filled = np.where(np.isnan(own), np.column_stack([means[g] for g in groups]), own)
    out[:, slice(None) if options_only else option_columns] = np.exp(np.where(np.isnan(filled), 0.0, filled))
    return out


# --------------------------------------------------------------------------------------------
# Shared by the kinds: the book the revaluation engines take
# --------------------------------------------------------------------------------------------


def position_book(positions: pd.DataFrame, state: pd.DataFrame, rate: float, div_yield: float) -> PositionBook:
    """The chunk's positions for revaluation (the engines' ``PositionBook``), expired and unpriced options
    neutralised: an option is revalued from its model price, a stock from its close."""
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
        vol_index=state["vol_index"].to_numpy(dtype=bool),
    )

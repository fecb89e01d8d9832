"""Factor returns and batched factor regressions (DESIGN §3, §6).

Conventions:

- Returns are **simple daily** returns (p_t / p_{t−1} − 1), not annualised, indexed by the later date.
- The factors are a :class:`FactorSet`, passed in (the engines import no app; the services build it
  from ``marketdata.factors``): the market factor = its proxy's return (r_SPY); each style = r_ETF −
  r_market (a spread over the market, so style betas are not confounded with market beta — the raw
  style ETFs correlate 0.9+ with SPY and made the original's betas unstable); the rate factor = its
  proxy's return (r_TLT).
- Betas are per unit of factor return (dimensionless); ``alpha`` and ``residual_vol`` are daily.
- Betas are never capped. ``flag_extreme`` marks large ones for reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

QUALITY_OK = "ok"
MIN_OBSERVATIONS = 60  # below this many daily returns a symbol's betas are not fitted
FULL_OBSERVATIONS = 252  # from this many on they are "ok", between the two "limited"


@dataclass(frozen=True)
class FactorSet:
    """The factor model's definition: which factors, and which ETF proxies measure them.

    ``market`` is measured by its proxy's total return; each of ``styles`` by its proxy's return minus
    the market's (a spread); ``rate`` by ``rate_proxy``'s return, and a yield change Δy moves the rate
    proxy by −``rate_duration`` × Δy. ``proxies`` maps the market and every style to its ETF.
    """

    market: str
    styles: tuple[str, ...]
    rate: str
    proxies: Mapping[str, str]
    rate_proxy: str
    rate_duration: float

    @property
    def names(self) -> tuple[str, ...]:
        """The factors in model order: market, styles, rate."""
        return (self.market, *self.styles, self.rate)

    @property
    def proxy_symbols(self) -> tuple[str, ...]:
        """Every proxy symbol: the market's and the styles' ETFs, then the rate proxy."""
        return (*self.proxies.values(), self.rate_proxy)

    def proxy_of(self, factor: str) -> str:
        return self.rate_proxy if factor == self.rate else self.proxies[factor]


QUALITY_LIMITED = "limited"
QUALITY_INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class FactorFit:
    """Result of ``fit_factor_betas`` for N assets on K factors.

    - ``betas``: DataFrame N × K (index = asset columns, columns = factor columns); NaN when
      ``quality == "insufficient"``.
    - ``alpha``: Series N, daily intercept (simple return per day).
    - ``r_squared``: Series N, centred R² = 1 − RSS/TSS.
    - ``n_obs``: Series N (int), rows used (factor rows complete and the asset present).
    - ``residual_vol``: Series N, daily residual standard deviation sqrt(RSS / (n − K − 1)).
    - ``t_stats``: DataFrame N × K of the slopes (OLS t-statistics; with ridge the sandwich
      σ²·A⁻¹ZᵀZA⁻¹ standard errors, which reduce to OLS at ridge = 0).
    - ``quality``: Series N of "ok" (n ≥ 252), "limited" (min_obs ≤ n < 252), "insufficient".
    - ``condition_number``: 2-norm condition number (σ_max/σ_min) of the standardised factor
      matrix on the rows where all factors are present — a collinearity diagnostic to record.
    - ``ridge``: the penalty used.
    """

    betas: pd.DataFrame
    alpha: pd.Series
    r_squared: pd.Series
    n_obs: pd.Series
    residual_vol: pd.Series
    t_stats: pd.DataFrame
    quality: pd.Series
    condition_number: float
    ridge: float


def simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns p_t/p_{t−1} − 1 of a price frame (T × N) → (T−1) × N; no filling."""
    values = prices.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = values[1:] / values[:-1] - 1.0
    return pd.DataFrame(rets, index=prices.index[1:], columns=prices.columns)


def factor_returns(proxy_prices: pd.DataFrame, factor_set: FactorSet) -> pd.DataFrame:
    """Daily factor returns (T−1 × K, columns exactly ``factor_set.names``) from proxy adjusted closes.

    ``proxy_prices`` is T × M daily adjusted closes with at least every proxy of the factor set as
    columns (SPY, VTV, VUG, MTUM, QUAL, IWM, USMV and TLT). market = r_SPY, style = r_ETF − r_SPY,
    interest_rate = r_TLT (simple returns). A missing price gives NaN in the affected factors for that
    day (no filling here).
    """
    needed = list(factor_set.proxy_symbols)
    missing = [s for s in needed if s not in proxy_prices.columns]
    if missing:
        raise ValueError(f"proxy prices lack columns: {missing}")
    rets = simple_returns(proxy_prices[needed])
    market = rets[factor_set.proxies[factor_set.market]]
    data = {factor_set.market: market}
    for style in factor_set.styles:
        data[style] = rets[factor_set.proxies[style]] - market
    data[factor_set.rate] = rets[factor_set.rate_proxy]
    return pd.DataFrame(data, index=rets.index)[list(factor_set.names)]


def condition_number(factors: pd.DataFrame | npt.NDArray[np.float64]) -> float:
    """2-norm condition number of the standardised (z-scored) factor matrix, complete rows only."""
    x = np.asarray(factors, dtype=float)
    x = x[np.isfinite(x).all(axis=1)]
    if x.shape[0] < 2:
        return float("nan")
    std = x.std(axis=0)
    if (std == 0).any():
        return float("inf")
    z = (x - x.mean(axis=0)) / std
    return float(np.linalg.cond(z))


def _fit_group(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], ridge: float
) -> tuple[npt.NDArray[np.float64], ...]:
    """Fit every column of y (n × m) on x (n × K) with an intercept in one solve.

    Regressors are centred and scaled to unit (population) variance; the slopes solve
    (ZᵀZ/n + ridge·I) b = Zᵀ(y − ȳ)/n, i.e. minimise mean squared error + ridge·‖b‖² on the
    standardised scale, intercept unpenalised. ridge = 0 is OLS (solved by lstsq).
    """
    n, k = x.shape
    x_mean = x.mean(axis=0)
    x_std = x.std(axis=0)
    x_std = np.where(x_std > 0, x_std, 1.0)
    z = (x - x_mean) / x_std
    y_mean = y.mean(axis=0)
    yc = y - y_mean
    gram = z.T @ z
    if ridge > 0:
        a = gram + n * ridge * np.eye(k)
        b_std = np.linalg.solve(a, z.T @ yc)
        a_inv = np.linalg.inv(a)
        cov_unscaled = a_inv @ gram @ a_inv
    else:
        b_std = np.linalg.lstsq(z, yc, rcond=None)[0]
        cov_unscaled = np.linalg.pinv(gram)
    betas = b_std / x_std[:, None]  # K × m
    alpha = y_mean - x_mean @ betas
    resid = yc - z @ b_std
    rss = (resid**2).sum(axis=0)
    tss = (yc**2).sum(axis=0)
    dof = n - k - 1
    sigma2 = rss / dof
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tss > 0, 1.0 - rss / tss, np.nan)
        se_std = np.sqrt(np.outer(np.diag(cov_unscaled), sigma2))  # K × m, on the standardised scale
        t = b_std / se_std
    return betas.T, alpha, r2, np.sqrt(sigma2), t.T


def fit_factor_betas(
    asset_returns: pd.DataFrame,
    factors: pd.DataFrame,
    *,
    ridge: float = 0.0,
    min_obs: int = MIN_OBSERVATIONS,
    ok_obs: int = FULL_OBSERVATIONS,
) -> FactorFit:
    """Regress every asset column (T × N simple daily returns) on the factors (T × K) with an intercept.

    Rows are aligned on the index; rows where any factor is missing are dropped for everyone. Each
    asset then uses the rows where it is present. Assets are grouped by that missing-value pattern and
    each group is fitted in one matrix solve — the common case (complete history) is one solve for the
    whole universe. ``ridge`` ≥ 0 is the penalty on standardised slopes (see ``_fit_group``).
    Assets with fewer than ``min_obs`` (or ≤ K + 1) observations get NaN betas and quality
    "insufficient"; ``ok_obs`` (252) separates "ok" from "limited".
    """
    if ridge < 0:
        raise ValueError("ridge must be >= 0")
    factors = factors.astype(float)
    assets = asset_returns.astype(float).reindex(factors.index)
    complete = np.isfinite(factors.to_numpy()).all(axis=1)
    x_all = factors.to_numpy()[complete]
    y_all = assets.to_numpy()[complete]
    n_rows, k = x_all.shape
    n_assets = y_all.shape[1]
    present = np.isfinite(y_all)
    n_obs = present.sum(axis=0)

    betas = np.full((n_assets, k), np.nan)
    t_stats = np.full((n_assets, k), np.nan)
    alpha = np.full(n_assets, np.nan)
    r2 = np.full(n_assets, np.nan)
    resid_vol = np.full(n_assets, np.nan)
    fittable = n_obs >= max(min_obs, k + 2)
    if fittable.any() and n_rows:
        cols = np.flatnonzero(fittable)
        # One key per distinct missing-value pattern (packed bits of the presence column).
        packed = np.packbits(present[:, cols], axis=0).T
        _, group_of = np.unique(packed, axis=0, return_inverse=True)
        for g in np.unique(group_of):
            members = cols[group_of.ravel() == g]
            rows = present[:, members[0]]
            b, a, rr, rv, t = _fit_group(x_all[rows], y_all[np.ix_(rows, members)], ridge)
            betas[members], alpha[members], r2[members], resid_vol[members], t_stats[members] = b, a, rr, rv, t

    quality = np.where(n_obs >= ok_obs, QUALITY_OK, np.where(fittable, QUALITY_LIMITED, QUALITY_INSUFFICIENT)).astype(
        object
    )
    quality[~fittable] = QUALITY_INSUFFICIENT
    names = assets.columns
    return FactorFit(
        betas=pd.DataFrame(betas, index=names, columns=factors.columns),
        alpha=pd.Series(alpha, index=names, name="alpha"),
        r_squared=pd.Series(r2, index=names, name="r_squared"),
        n_obs=pd.Series(n_obs.astype(int), index=names, name="n_obs"),
        residual_vol=pd.Series(resid_vol, index=names, name="residual_vol"),
        t_stats=pd.DataFrame(t_stats, index=names, columns=factors.columns),
        quality=pd.Series(quality, index=names, name="quality"),
        condition_number=condition_number(x_all),
        ridge=float(ridge),
    )


def flag_extreme(betas: pd.DataFrame, limit: float = 3.0) -> pd.DataFrame:
    """Boolean mask of |beta| > ``limit`` for reporting. Betas are flagged, never clipped."""
    return betas.abs() > limit


def univariate_beta(asset_returns: pd.DataFrame, market: pd.Series) -> pd.Series:
    """Single-factor beta cov(r_i, r_m)/var(r_m) per column, each on its own pairwise-complete rows.

    Returns are simple daily returns; NaN where fewer than 3 common observations or var(r_m) = 0.
    """
    m = market.reindex(asset_returns.index).to_numpy(dtype=float)
    a = asset_returns.to_numpy(dtype=float)
    mask = np.isfinite(a) & np.isfinite(m)[:, None]
    n = mask.sum(axis=0)
    a0 = np.where(mask, a, 0.0)
    m0 = np.where(mask, m[:, None], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a = a0.sum(axis=0) / n
        mean_m = m0.sum(axis=0) / n
        da = np.where(mask, a0 - mean_a, 0.0)
        dm = np.where(mask, m0 - mean_m, 0.0)
        cov = (da * dm).sum(axis=0)
        var = (dm * dm).sum(axis=0)
        beta = np.where((n >= 3) & (var > 0), cov / var, np.nan)
    return pd.Series(beta, index=asset_returns.columns, name="beta")

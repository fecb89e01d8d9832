"""Factor returns and batched regressions against statsmodels OLS and synthetic known loadings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analytics.engines.factors import (
    condition_number,
    factor_returns,
    fit_factor_betas,
    flag_extreme,
    univariate_beta,
)
from analytics.services.compute import FACTOR_SET as FACTORS
from marketdata.factors import FACTOR_NAMES, FACTOR_SYMBOLS

DATES = pd.bdate_range("2025-01-02", periods=300)


def _random_problem(seed: int, t: int = 300, n: int = 6, k: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2025-01-02", periods=t)
    f = pd.DataFrame(rng.normal(0, 0.01, (t, k)), index=idx, columns=[f"f{i}" for i in range(k)])
    loadings = rng.normal(0, 1, (k, n))
    y = f.to_numpy() @ loadings + 0.0003 + rng.normal(0, 0.01, (t, n))
    return pd.DataFrame(y, index=idx, columns=[f"A{i}" for i in range(n)]), f


def _statsmodels_fit(y: pd.Series, f: pd.DataFrame) -> sm.regression.linear_model.RegressionResultsWrapper:
    data = pd.concat([y, f], axis=1).dropna()
    return sm.OLS(data.iloc[:, 0], sm.add_constant(data.iloc[:, 1:])).fit()


def test_factor_returns_are_market_style_spreads_and_tlt() -> None:
    rng = np.random.default_rng(1)
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (5, len(FACTOR_SYMBOLS))), axis=0)),
        index=DATES[:5],
        columns=list(FACTOR_SYMBOLS),
    )
    prices["AAPL"] = 1.0  # extra columns are ignored
    out = factor_returns(prices, FACTORS)
    assert list(out.columns) == list(FACTOR_NAMES)
    assert len(out) == 4 and out.index[0] == DATES[1]
    r = prices.pct_change().iloc[1:]
    np.testing.assert_allclose(out["market"], r["SPY"])
    np.testing.assert_allclose(out["value"], r["VTV"] - r["SPY"])
    np.testing.assert_allclose(out["low_volatility"], r["USMV"] - r["SPY"])
    np.testing.assert_allclose(out["interest_rate"], r["TLT"])


def test_factor_returns_reject_missing_proxies() -> None:
    with pytest.raises(ValueError, match="TLT"):
        factor_returns(pd.DataFrame({"SPY": [1.0, 2.0]}), FACTORS)


def test_it_matches_statsmodels_ols_on_complete_columns() -> None:
    y, f = _random_problem(7)
    fit = fit_factor_betas(y, f, min_obs=60)
    for col in y.columns:
        ref = _statsmodels_fit(y[col], f)
        np.testing.assert_allclose(fit.betas.loc[col].to_numpy(), ref.params.iloc[1:].to_numpy(), rtol=1e-8, atol=1e-10)
        assert fit.alpha[col] == pytest.approx(ref.params["const"], rel=1e-8, abs=1e-12)
        assert fit.r_squared[col] == pytest.approx(ref.rsquared, rel=1e-8)
        np.testing.assert_allclose(fit.t_stats.loc[col].to_numpy(), ref.tvalues.iloc[1:].to_numpy(), rtol=1e-8)
        assert fit.residual_vol[col] == pytest.approx(np.sqrt(ref.scale), rel=1e-8)
        assert fit.n_obs[col] == 300
    assert (fit.quality == "ok").all()


def test_columns_with_missing_values_are_fitted_on_their_own_rows() -> None:
    y, f = _random_problem(8)
    y.iloc[:100, 1] = np.nan  # late listing → 200 obs, "limited"
    y.iloc[::7, 2] = np.nan  # scattered gaps
    y.iloc[:260, 3] = np.nan  # 40 obs → insufficient
    y.iloc[:100, 4] = np.nan  # same pattern as column 1: one group
    f.iloc[5, 0] = np.nan  # a factor gap drops that row for everyone
    fit = fit_factor_betas(y, f, min_obs=60)
    for col in ["A0", "A1", "A2", "A4"]:
        ref = _statsmodels_fit(y[col], f)
        np.testing.assert_allclose(fit.betas.loc[col].to_numpy(), ref.params.iloc[1:].to_numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit.t_stats.loc[col].to_numpy(), ref.tvalues.iloc[1:].to_numpy(), rtol=1e-8)
        assert fit.n_obs[col] == ref.nobs
    assert fit.quality.to_dict() == {
        "A0": "ok",
        "A1": "limited",
        "A2": "ok" if fit.n_obs["A2"] >= 252 else "limited",
        "A3": "insufficient",
        "A4": "limited",
        "A5": "ok",
    }
    assert fit.betas.loc["A3"].isna().all()
    assert fit.n_obs["A3"] == 40


def test_ridge_zero_is_ols_and_ridge_shrinks_toward_zero() -> None:
    y, f = _random_problem(9)
    ols = fit_factor_betas(y, f)
    same = fit_factor_betas(y, f, ridge=0.0)
    pd.testing.assert_frame_equal(ols.betas, same.betas)
    tiny = fit_factor_betas(y, f, ridge=1e-12)
    np.testing.assert_allclose(tiny.betas.to_numpy(), ols.betas.to_numpy(), rtol=1e-6)
    norms = [np.linalg.norm(fit_factor_betas(y, f, ridge=lam).betas.to_numpy()) for lam in (0.0, 0.1, 1.0, 10.0)]
    assert norms == sorted(norms, reverse=True)
    assert norms[-1] < 0.2 * norms[0]


def test_ridge_leaves_the_intercept_unpenalised() -> None:
    # With an infinite penalty all slopes vanish and the intercept becomes the mean return.
    y, f = _random_problem(10)
    fit = fit_factor_betas(y, f, ridge=1e9)
    np.testing.assert_allclose(fit.alpha.to_numpy(), y.mean().to_numpy(), rtol=1e-6)


def test_spreads_reduce_the_condition_number_of_collinear_style_etfs() -> None:
    rng = np.random.default_rng(11)
    t = 252
    spy = rng.normal(0.0004, 0.012, t)
    # Style ETFs are the market plus a small style-specific return: correlation with SPY ≈ 0.97.
    raw = np.column_stack([spy] + [spy + rng.normal(0, 0.003, t) for _ in range(6)])
    spreads = np.column_stack([raw[:, 0], raw[:, 1:] - raw[:, [0]]])
    cond_raw = condition_number(raw)
    cond_spread = condition_number(spreads)
    assert cond_raw > 5 * cond_spread
    assert cond_spread < 3
    y = pd.DataFrame(rng.normal(0, 0.01, (t, 2)), columns=["A", "B"])
    fit = fit_factor_betas(y, pd.DataFrame(spreads), min_obs=60)
    assert fit.condition_number == pytest.approx(cond_spread)


def test_it_recovers_known_loadings_from_synthetic_factor_model() -> None:
    rng = np.random.default_rng(12)
    t = 252
    k = len(FACTOR_NAMES)
    vols = np.array([0.012, 0.004, 0.004, 0.005, 0.003, 0.005, 0.004, 0.009])
    f = pd.DataFrame(rng.normal(0, 1, (t, k)) * vols, columns=list(FACTOR_NAMES))
    true = pd.DataFrame(
        {"AAA": [1.1, 0.5, -0.3, 0.2, 0.0, 0.4, -0.2, 0.1], "BBB": [0.8, -0.4, 0.6, 0.0, 0.3, -0.5, 0.5, -0.3]},
        index=list(FACTOR_NAMES),
    )
    y = f.to_numpy() @ true.to_numpy() + rng.normal(0, 0.0005, (t, 2))
    fit = fit_factor_betas(pd.DataFrame(y, columns=true.columns), f)
    np.testing.assert_allclose(fit.betas.to_numpy(), true.T.to_numpy(), atol=0.05)
    assert (fit.quality == "ok").all()


def test_extreme_betas_are_flagged_not_clipped() -> None:
    rng = np.random.default_rng(13)
    f = pd.DataFrame({"market": rng.normal(0, 0.01, 300)})
    y = pd.DataFrame({"LEV": 4.5 * f["market"] + rng.normal(0, 1e-4, 300), "ONE": f["market"]})
    fit = fit_factor_betas(y, f)
    assert fit.betas.loc["LEV", "market"] == pytest.approx(4.5, abs=0.01)
    assert flag_extreme(fit.betas).to_dict() == {"market": {"LEV": True, "ONE": False}}


def test_univariate_beta_is_cov_over_var_on_pairwise_rows() -> None:
    rng = np.random.default_rng(14)
    m = pd.Series(rng.normal(0, 0.01, 100))
    a = pd.DataFrame({"X": 1.3 * m + rng.normal(0, 0.005, 100), "Y": -0.5 * m + rng.normal(0, 0.005, 100)})
    a.loc[:9, "Y"] = np.nan
    m.iloc[50] = np.nan
    out = univariate_beta(a, m)
    for col in a.columns:
        both = pd.concat([a[col], m], axis=1).dropna()
        expected = np.cov(both.iloc[:, 0], both.iloc[:, 1])[0, 1] / np.var(both.iloc[:, 1], ddof=1)
        assert out[col] == pytest.approx(expected, rel=1e-12)

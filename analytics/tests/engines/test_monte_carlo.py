"""Monte Carlo VaR/ES against independent references: the closed-form parametric VaR of a linear book,
full revaluation of an options book on a grid (py_vollib prices, normal probabilities), scipy's Student-t
quantiles and the asymptotic standard error of a sample quantile."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm, t

from analytics.engines import monte_carlo
from analytics.engines.book import PositionBook
from analytics.engines.var import historical_var, parametric_var, specific_covariance

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price

FACTOR_COV = np.array([[1.0e-4, 2.0e-5], [2.0e-5, 4.0e-5]])  # 1%/day market, 0.63%/day style


def _stock_book(values: list[float]) -> PositionBook:
    return PositionBook.of(
        quantity=values, multiplier=1.0, price=1.0, is_option=False, is_call=False, spot=1.0,
        strike=np.nan, years=np.nan, vol=np.nan, rate=0.0, div_yield=0.0,
    )  # fmt: skip


def _simulate(symbols, betas, residual, *, paths=10_000, distribution="normal", dof=5.0, seed=11):
    return monte_carlo.simulate_symbol_returns(
        symbols=symbols, betas=betas, residual_vol=residual, factor_cov=FACTOR_COV,
        paths=paths, distribution=distribution, dof=dof, seed=seed,
    )  # fmt: skip


def test_a_linear_book_converges_to_the_parametric_var_within_the_reported_error() -> None:
    symbols = ["AAA", "BBB", "CCC"]
    betas = np.array([[1.2, 0.5], [0.8, -0.3], [1.0, 1.0]])
    residual = np.array([0.015, 0.01, 0.02])
    values = [50_000.0, -20_000.0, 30_000.0]
    returns = _simulate(symbols, betas, residual)
    pnl = monte_carlo.path_pnl(returns=returns, book=_stock_book(values))
    exposures = np.array(values)[:, None] * betas
    specific = specific_covariance(dollar_exposure=values, residual_vol=residual, group=symbols)
    for confidence in (0.95, 0.99):
        simulated = historical_var(pnl, confidence=confidence)
        error = monte_carlo.bootstrap_interval(pnl.sum(axis=1), confidence=confidence, seed=3)
        reference = parametric_var(
            exposures=exposures, factor_cov=FACTOR_COV, specific_var=specific, confidence=confidence
        )
        assert error.var_low <= reference.var <= error.var_high, (confidence, simulated.var, reference.var, error)
        assert error.es_low <= reference.es <= error.es_high, (confidence, simulated.es, reference.es, error)
        assert abs(simulated.var - reference.var) < 3 * error.var_se
        assert simulated.component_var.sum() == pytest.approx(simulated.var)
        assert simulated.component_es.sum() == pytest.approx(simulated.es)


def _grid_var_es(pnl_of_return, sigma: float, confidence: float) -> tuple[float, float]:
    """VaR/ES of g(R), R ~ N(0, σ²), by quadrature on a fine grid of R (a continuous quantile)."""
    r = np.linspace(-8 * sigma, 8 * sigma, 40_001)
    weights = norm.pdf(r, scale=sigma)
    weights /= weights.sum()
    losses = -pnl_of_return(r)
    order = np.argsort(-losses)  # worst first
    cumulative = np.cumsum(weights[order])
    tail = 1.0 - confidence
    cut = int(np.searchsorted(cumulative, tail))
    var = float(losses[order][cut])
    es = float((weights[order][:cut] * losses[order][:cut]).sum() + (tail - cumulative[cut - 1]) * var) / tail
    return var, es


def test_an_options_book_matches_full_revaluation_on_a_grid() -> None:
    """100 shares short, 3 long calls and 2 short puts on one underlying; its return β f + ε is normal with
    variance βᵀΣβ + s², so the book's P&L distribution is g(R) for R on a grid, g repriced by py_vollib."""
    spot, vol, years, rate, div = 100.0, 0.35, 0.25, 0.04, 0.01
    beta, resid = np.array([1.1, 0.4]), 0.012
    legs = [  # (quantity, multiplier, is_option, is_call, strike)
        (-100.0, 1.0, False, False, np.nan),
        (3.0, 100.0, True, True, 105.0),
        (-2.0, 100.0, True, False, 92.0),
    ]
    q, mult, is_opt, is_call, strike = (np.array(c) for c in zip(*legs, strict=True))
    book = PositionBook.of(
        quantity=q, multiplier=mult, price=np.where(is_opt, 0.0, spot), is_option=is_opt, is_call=is_call,
        spot=spot, strike=strike, years=np.where(is_opt, years, np.nan), vol=np.where(is_opt, vol, np.nan),
        rate=rate, div_yield=div,
    )  # fmt: skip
    returns = _simulate(["AAA"], beta[None, :], [resid], paths=20_000, seed=5)
    pnl = monte_carlo.path_pnl(returns=np.repeat(returns, 3, axis=1), book=book)

    def price(s: float, k: float, call: bool) -> float:
        return vollib_price("c" if call else "p", s, k, years, rate, vol, div)

    base = [price(spot, k, c) for k, c in zip(strike[1:], is_call[1:], strict=True)]

    def g(r: np.ndarray) -> np.ndarray:
        out = q[0] * spot * r
        for leg, (k, c, b) in enumerate(zip(strike[1:], is_call[1:], base, strict=True), start=1):
            repriced = np.array([price(spot * (1 + x), k, c) for x in r[::20]])
            out = out + q[leg] * mult[leg] * (np.interp(r, r[::20], repriced) - b)
        return out

    sigma = math.sqrt(beta @ FACTOR_COV @ beta + resid**2)
    for confidence in (0.95, 0.99):
        simulated = historical_var(pnl, confidence=confidence)
        error = monte_carlo.bootstrap_interval(pnl.sum(axis=1), confidence=confidence, seed=9)
        grid_var, grid_es = _grid_var_es(g, sigma, confidence)
        assert error.var_low <= grid_var <= error.var_high, (confidence, simulated.var, grid_var, error)
        assert error.es_low <= grid_es <= error.es_high, (confidence, simulated.es, grid_es, error)


def test_student_t_paths_have_scipys_quantiles_at_the_same_variance() -> None:
    """One symbol on the market factor only: its return is σ × a unit-variance t₅."""
    returns = _simulate(["AAA"], [[1.0, 0.0]], [0.0], paths=200_000, distribution="student_t", dof=5.0)[:, 0]
    sigma = 0.01
    scale = sigma * math.sqrt(3.0 / 5.0)
    assert returns.std() == pytest.approx(sigma, rel=0.02)
    for p in (0.01, 0.05, 0.95):
        assert np.quantile(returns, p) == pytest.approx(t.ppf(p, 5) * scale, rel=0.03)
    normal = _simulate(["AAA"], [[1.0, 0.0]], [0.0], paths=200_000)[:, 0]
    assert np.quantile(returns, 0.001) < np.quantile(normal, 0.001)  # fatter tail at the same variance


def test_paths_are_seeded_and_a_symbol_does_not_depend_on_its_neighbours() -> None:
    betas = np.array([[1.0, 0.2], [0.5, 0.5]])
    one = _simulate(["AAA", "BBB"], betas, [0.01, 0.02], paths=2_000, seed=4)
    again = _simulate(["AAA", "BBB"], betas, [0.01, 0.02], paths=2_000, seed=4)
    alone = _simulate(["BBB"], betas[1:], [0.02], paths=2_000, seed=4)
    other_seed = _simulate(["BBB"], betas[1:], [0.02], paths=2_000, seed=5)
    np.testing.assert_array_equal(one, again)
    np.testing.assert_array_equal(one[:, 1], alone[:, 0])
    assert not np.allclose(alone, other_seed)


def test_the_bootstrap_error_matches_the_asymptotic_error_of_a_normal_quantile() -> None:
    """se(q̂_p) ≈ √(p(1 − p)/n) / φ(z_p) × σ for a normal sample (Kendall & Stuart)."""
    n, p = 10_000, 0.01
    pnl = np.random.default_rng(1).standard_normal(n) * 1_000.0
    error = monte_carlo.bootstrap_interval(pnl, confidence=0.99, seed=2)
    expected = math.sqrt(p * (1 - p) / n) / norm.pdf(norm.ppf(p)) * 1_000.0
    assert error.var_se == pytest.approx(expected, rel=0.3)
    estimate = historical_var(pnl[:, None], confidence=0.99)
    assert error.var_low <= estimate.var <= error.var_high
    assert error.es_low <= estimate.es <= error.es_high


def test_bad_simulation_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="degrees of freedom"):
        _simulate(["AAA"], [[1.0, 0.0]], [0.0], paths=10, distribution="student_t", dof=2.0)
    with pytest.raises(ValueError, match="paths"):
        _simulate(["AAA"], [[1.0, 0.0]], [0.0], paths=0)


@pytest.mark.parametrize("distribution", ["normal", "student_t"])
def test_kept_draws_give_the_same_paths_as_fresh_ones(distribution: str) -> None:
    """A what-if keeps the day's draws (``draws``): reusing them, for any set of symbols, gives bit for bit
    the paths a fresh simulation gives."""
    betas = np.array([[1.2, 0.5], [0.8, -0.3], [1.0, 1.0]])
    residual = np.array([0.015, 0.01, 0.02])
    fresh = _simulate(["AAA", "BBB", "CCC"], betas, residual, paths=2_000, distribution=distribution)
    draws: dict = {}
    kwargs = {"factor_cov": FACTOR_COV, "paths": 2_000, "distribution": distribution, "dof": 5.0, "seed": 11}
    first = monte_carlo.simulate_symbol_returns(
        symbols=["CCC", "AAA"], betas=betas[[2, 0]], residual_vol=residual[[2, 0]], draws=draws, **kwargs
    )
    again = monte_carlo.simulate_symbol_returns(
        symbols=["AAA", "BBB", "CCC"], betas=betas, residual_vol=residual, draws=draws, **kwargs
    )
    assert np.array_equal(first, fresh[:, [2, 0]])
    assert np.array_equal(again, fresh)
    assert len(draws) == 1 + 3  # the factor paths once, each symbol's unit shocks once
    other_seed = monte_carlo.simulate_symbol_returns(
        symbols=["AAA"], betas=betas[:1], residual_vol=residual[:1], draws=draws, **{**kwargs, "seed": 12}
    )
    assert not np.array_equal(other_seed, fresh[:, :1])  # the seed is part of the key


def test_the_bootstrap_counts_drawn_once_give_the_same_intervals() -> None:
    """The Poisson counts are a function of the seed and sizes only (kept per process): the same P&L gives
    the same intervals on every call, and a different seed other ones."""
    pnl = np.random.default_rng(5).standard_normal(10_000) * 1_000.0
    first = monte_carlo.bootstrap_intervals(pnl, confidences=(0.95, 0.99), seed=4)
    assert monte_carlo.bootstrap_intervals(pnl, confidences=(0.95, 0.99), seed=4) == first
    assert monte_carlo.bootstrap_intervals(pnl, confidences=(0.95, 0.99), seed=5) != first


def test_identical_positions_are_grouped_by_all_their_terms_and_labels() -> None:
    book = PositionBook.of(
        quantity=[10, 10, 10, 5, 10], multiplier=[1, 1, 1, 1, 100], price=[20, 20, 20, 20, 3],
        is_option=[False, False, False, False, True], is_call=True, spot=20.0, strike=[np.nan] * 4 + [25.0],
        years=[np.nan] * 4 + [0.5], vol=[np.nan] * 4 + [0.3], rate=0.04, div_yield=0.0,
    )  # fmt: skip
    ids, first = book.identical_rows([0, 0, 1, 0, 0])
    # Rows 0 and 1 are one lot; row 2 has another label (price symbol), row 3 another quantity, row 4 is an option.
    assert ids[0] == ids[1] and len(set(ids.tolist())) == 4
    assert first[ids[1]] == 0 and first[ids[4]] == 4

"""The Monte Carlo path rows made once per instrument (``monte_carlo.PathCache``, ``symbol_return_paths``,
``position_paths``, ``path_tail_figures``) and the bootstrap made from a per-process plan, each against the
per-portfolio engine it replaces: ``simulate_symbol_returns`` gathered per position, ``path_pnl``,
``var.historical_var`` and the bootstrap as it was computed before (a copy kept here as the reference)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from analytics.engines import monte_carlo
from analytics.engines.book import PositionBook
from analytics.engines.scenarios import option_value_change, shocked_price_ratio
from analytics.engines.var import VarResult, historical_var, tail_size, worst_order

FACTOR_COV = np.array([[1.0e-4, 2.0e-5, 0.0], [2.0e-5, 4.0e-5, 1.0e-6], [0.0, 1.0e-6, 2.5e-5]])
SYMBOLS = ["AAA", "BBB", "CCC", "VIX", "NOFIT"]
BETAS = np.array([[1.2, 0.5, 0.1], [0.8, -0.3, 0.0], [1.0, 1.0, -0.2], [-4.0, 0.0, 0.0], [np.nan] * 3])
RESIDUAL = np.array([0.015, 0.01, 0.02, 0.05, np.nan])


def _book() -> tuple[PositionBook, list[str]]:
    """Stocks (one short, one unpriced), calls and puts (two lots of one contract, in two portfolios), an
    option at expiry, a volatility-index option and an option without a vol (unpriceable: no P&L)."""
    rows = [
        # symbol, quantity, multiplier, price, is_option, is_call, spot, strike, years, vol, vol_index
        ("AAA", 300.0, 1.0, 101.0, False, False, 101.0, np.nan, np.nan, np.nan, False),
        ("BBB", -150.0, 1.0, 55.5, False, False, 55.5, np.nan, np.nan, np.nan, False),
        ("AAA", 5.0, 100.0, 4.2, True, True, 101.0, 100.0, 0.25, 0.30, False),
        ("AAA", -3.0, 100.0, 3.1, True, False, 101.0, 95.0, 0.5, 0.28, False),
        ("CCC", 2.0, 100.0, 1.0, True, True, 20.0, 20.0, 0.0, 0.40, False),
        ("VIX", 4.0, 100.0, 2.0, True, True, 18.0, 20.0, 0.1, 0.80, True),
        ("BBB", 7.0, 100.0, 1.5, True, False, 55.5, 50.0, 0.3, np.nan, False),
        ("NOFIT", 40.0, 1.0, np.nan, False, False, np.nan, np.nan, np.nan, np.nan, False),
        ("AAA", 5.0, 100.0, 4.2, True, True, 101.0, 100.0, 0.25, 0.30, False),  # the first lot, again
        ("CCC", 1000.0, 1.0, 20.0, False, False, 20.0, np.nan, np.nan, np.nan, False),
    ]
    columns = list(zip(*rows, strict=True))
    book = PositionBook.of(
        quantity=columns[1], multiplier=columns[2], price=columns[3], is_option=columns[4], is_call=columns[5],
        spot=columns[6], strike=columns[7], years=columns[8], vol=columns[9], rate=0.04, div_yield=0.01,
        vol_index=columns[10],
    )  # fmt: skip
    return book, list(columns[0])


def _simulate(**settings: object) -> np.ndarray:
    return monte_carlo.simulate_symbol_returns(
        symbols=SYMBOLS, betas=BETAS, residual_vol=RESIDUAL, factor_cov=FACTOR_COV, **settings
    )


def _rows(cache: monte_carlo.PathCache | None = None, symbols: list[str] = SYMBOLS, **settings: object):
    at = [SYMBOLS.index(s) for s in symbols]
    return monte_carlo.symbol_return_paths(
        symbols=symbols, betas=BETAS[at], residual_vol=RESIDUAL[at], factor_cov=FACTOR_COV, cache=cache, **settings
    )


@pytest.mark.parametrize("settings", [{"seed": 3}, {"seed": 8, "distribution": "student_t", "dof": 4.0}])
def test_each_symbols_row_is_its_column_of_the_simulated_returns(settings: dict[str, object]) -> None:
    reference = _simulate(paths=5_000, **settings)
    rows, keys = _rows(paths=5_000, **settings)
    np.testing.assert_allclose(np.stack(rows).T, reference, rtol=1e-12, atol=1e-15)
    assert len(set(keys)) == len(SYMBOLS)
    # A symbol simulated alone (a what-if's new symbol) gets the row it has among the others.
    alone, _ = _rows(symbols=["CCC"], paths=5_000, **settings)
    np.testing.assert_array_equal(alone[0], rows[2])


def test_the_cache_keeps_each_row_once_and_reuses_it() -> None:
    cache = monte_carlo.PathCache()
    first, _ = _rows(cache, paths=2_000, seed=1)
    again, _ = _rows(cache, symbols=["BBB", "AAA"], paths=2_000, seed=1)
    assert again[0] is first[1] and again[1] is first[0]
    assert not first[0].flags.writeable
    other_seed, _ = _rows(cache, symbols=["AAA"], paths=2_000, seed=2)
    assert not np.array_equal(other_seed[0], first[0])
    # Betas changed (a refit): simulated again, not the kept row.
    moved = monte_carlo.symbol_return_paths(
        symbols=["AAA"], betas=BETAS[:1] * 2, residual_vol=RESIDUAL[:1], factor_cov=FACTOR_COV, paths=2_000, seed=1,
        cache=cache,
    )[0]  # fmt: skip
    assert not np.array_equal(moved[0], first[0])
    assert len(cache.symbols) == len(SYMBOLS) + 2
    # Shared by a cluster's workers through pickling: travels empty.
    assert not pickle.loads(pickle.dumps(cache)).symbols  # noqa: S301 (our own bytes)


def _paths(cache: monte_carlo.PathCache, paths: int = 4_000, seed: int = 5) -> monte_carlo.PositionPaths:
    book, price_symbols = _book()
    symbols = sorted(set(price_symbols))
    rows, keys = _rows(cache, symbols=symbols, paths=paths, seed=seed)
    return monte_carlo.position_paths(
        book=book,
        price_symbols=price_symbols,
        symbol_rows=dict(zip(symbols, rows, strict=True)),
        symbol_keys=dict(zip(symbols, keys, strict=True)),
        paths=paths,
        cache=cache,
    )


def test_position_pnl_from_the_rows_is_path_pnl_of_the_gathered_returns() -> None:
    book, price_symbols = _book()
    returns = _simulate(paths=4_000, seed=5)[:, [SYMBOLS.index(s) for s in price_symbols]]
    reference = monte_carlo.path_pnl(returns=returns, book=book)  # paths × positions
    cache = monte_carlo.PathCache()
    source = _paths(cache)
    # Options from their grids (4,000 paths): within the tolerance × spot per share, × quantity × multiplier.
    allowed = np.nan_to_num(monte_carlo.OPTION_GRID_TOLERANCE * np.abs(book.spot * book.quantity * book.multiplier))
    assert np.all(np.abs(source.pnl(slice(None)).T - reference) <= np.where(book.is_option, allowed, 0.0) + 1e-9)
    assert np.isfinite(reference).all() and np.abs(reference[:, 2]).max() > 100  # the options moved
    assert np.all(reference[:, 6] == 0) and np.all(reference[:, 7] == 0)  # unpriceable: no P&L
    # One row per distinct contract: the two lots of the call share it; a portfolio's rows are any subset.
    assert source.index[2] == source.index[8]
    np.testing.assert_array_equal(source.pnl(np.array([8, 0])), source.pnl(slice(None))[[8, 0]])
    # Each path's total, summed as the rows are made: the matrix's column sums, to the last bit.
    for rows in (slice(None), np.array([8, 0, 3]), np.array([5]), np.array([], dtype=np.intp)):
        pnl, total = source.pnl_and_total(rows)
        np.testing.assert_array_equal(pnl, source.pnl(rows))
        np.testing.assert_array_equal(total, pnl.sum(axis=0))
    # The next chunk (or what-if) takes the contracts' rows from the cache instead of repricing them.
    again = _paths(cache)
    assert all(again.rows[j] is source.rows[j] for j in source.index.tolist())


def _option_set(count: int, seed: int = 11) -> PositionBook:
    """Calls and puts from 40% in the money to 40% out, at expiry to two years, vols 10–120%, on stocks of $10 to
    $500 and a few on a volatility index."""
    rng = np.random.default_rng(seed)
    spot = rng.uniform(10.0, 500.0, count)
    years = rng.choice([0.0, 1 / 252, 2 / 252, 5 / 252, 30 / 252, 0.25, 1.0, 2.0], count)
    return PositionBook.of(
        quantity=np.ones(count), multiplier=np.full(count, 100.0), price=np.ones(count),
        is_option=np.ones(count, dtype=bool), is_call=rng.random(count) < 0.5, spot=spot,
        strike=spot * rng.uniform(0.6, 1.4, count), years=years, vol=rng.uniform(0.1, 1.2, count), rate=0.04,
        div_yield=0.01, vol_index=rng.random(count) < 0.1,
    )  # fmt: skip


def _repriced(options: PositionBook, underlying: list[np.ndarray]) -> np.ndarray:
    """The reference: every option fully repriced on every path (options × P), as before the grid."""
    moves = np.stack(underlying).T
    ratio = np.where(options.on_vol_index[None, :], 1.0 + moves, shocked_price_ratio(moves))
    change = option_value_change(options=options, spot_ratio=ratio)
    return np.where(np.isfinite(change), change, 0.0).T


@pytest.mark.parametrize("daily_vol", [0.02, 0.25])
def test_options_from_their_grids_are_within_the_tolerance_of_full_repricing(daily_vol: float) -> None:
    """Every path of every option within ``OPTION_GRID_TOLERANCE`` × spot (per share) of full repricing — near
    expiry and near the strike too, where the paths of the intervals the grid cannot promise are repriced — on
    ordinary days (2% daily vol) and on fat-tailed rows spanning −70% to +190% (the grid 16 times coarser);
    volatility-index options exactly as fully repriced."""
    options = _option_set(400)
    rng = np.random.default_rng(3)
    rows = [np.clip(rng.standard_t(4, 10_000) * daily_vol / np.sqrt(2.0), -0.7, 1.9) for _ in range(12)]
    underlying = [rows[j % len(rows)] for j in range(len(options))]
    got = np.stack(monte_carlo.option_change_paths(options=options, underlying=underlying))
    reference = _repriced(options, underlying)
    error = np.abs(got - reference) / options.spot[:, None]
    assert error.max() <= monte_carlo.OPTION_GRID_TOLERANCE
    # From the grid (not repriced): most rows differ from full repricing, by round-off at most on paths at a point.
    assert np.mean(error[~options.on_vol_index].max(axis=1) > 1e-12) > 0.5
    # A volatility-index option (not convex in the index everywhere: no bound from the midpoints) is repriced.
    assert options.on_vol_index.any()
    np.testing.assert_array_equal(got[options.on_vol_index], reference[options.on_vol_index])
    # Fewer paths than the grid is worth: every option repriced on every path.
    few = [row[:500] for row in underlying]
    np.testing.assert_array_equal(
        np.stack(monte_carlo.option_change_paths(options=options, underlying=few)), _repriced(options, few)
    )


def test_the_option_cache_is_bounded_least_recently_used_first_out() -> None:
    row = np.zeros(1_000)
    cache = monte_carlo.PathCache(option_bytes=3 * row.nbytes)
    for key in ("a", "b", "c"):
        cache.option_put((key,), row.copy())
    assert cache.option_get(("a",)) is not None  # "a" used: "b" is now the oldest
    cache.option_put(("d",), row.copy())
    assert [k[0] for k in cache.options] == ["c", "a", "d"]
    assert cache.option_get(("b",)) is None


def test_worst_order_is_the_head_of_the_stable_argsort() -> None:
    rng = np.random.default_rng(0)
    tied = np.round(rng.normal(size=3_000), 1)  # many ties, also at the cut
    for values in (rng.normal(size=3_000), tied, np.zeros(500), np.r_[tied[:50], np.nan, tied[50:60]]):
        for m in (1, 7, 30, 61, len(values)):
            np.testing.assert_array_equal(worst_order(values, m), np.argsort(values, kind="stable")[:m])


def _reference_figures(pnl: np.ndarray) -> dict[float, VarResult]:
    return {c: historical_var(pnl, confidence=c) for c in (0.95, 0.99)}


def test_tail_figures_are_historical_var_of_the_paths() -> None:
    pnl = _paths(monte_carlo.PathCache()).pnl(slice(None))  # positions × paths
    hedged = np.vstack([pnl[:2], -pnl[:2]])  # every path's total exactly 0: the ranking is the paths' order
    for book_pnl in (pnl, pnl[[0, 9]], hedged):
        figures = monte_carlo.path_tail_figures(book_pnl, confidences=(0.95, 0.99))
        for confidence, reference in _reference_figures(book_pnl.T).items():
            got = figures[confidence]
            assert got.tail_size == reference.tail_size
            assert got.var == pytest.approx(reference.var, rel=1e-12, abs=1e-9)
            assert got.es == pytest.approx(reference.es, rel=1e-12, abs=1e-9)
            np.testing.assert_allclose(got.component_var, reference.component_var, rtol=1e-9, atol=1e-8)
            np.testing.assert_allclose(got.component_es, reference.component_es, rtol=1e-9, atol=1e-8)


def test_tail_figures_gathered_once_equal_a_gather_per_figure_bit_for_bit() -> None:
    """The worst paths' columns are gathered once and sliced per figure: the same numbers as gathering each
    figure's own columns (the VaR row, the kernel's ranks, the tail), to the last bit."""
    pnl = _paths(monte_carlo.PathCache(), paths=10_000).pnl(slice(None))
    total = pnl.sum(axis=0)
    order = np.argsort(total, kind="stable")
    figures = monte_carlo.path_tail_figures(pnl, confidences=(0.95, 0.99))
    for confidence, got in figures.items():
        k = int(np.ceil(round(10_000 * (1 - confidence), 9)))
        h = 100
        ranks = np.arange(max(0, k - 1 - h), k + h)  # at 99 % (k = 100) the kernel reaches the worst path
        weights = (h + 1.0) - np.abs(ranks - (k - 1))
        var = -float(total[order[k - 1]])
        smoothed = -(pnl[:, order[ranks]] @ weights) / weights.sum()
        assert got.var == var
        assert got.es == -float(total[order[:k]].mean())
        np.testing.assert_array_equal(got.component_es, -pnl[:, order[:k]].mean(axis=1))
        np.testing.assert_array_equal(got.component_var, smoothed * (var / smoothed.sum()))


def test_the_paths_ranked_once_serve_the_tails_and_the_bootstrap_alike() -> None:
    """``worst_paths`` ranks far enough for both readers: given it, each returns what it returns ranking alone."""
    pnl = _paths(monte_carlo.PathCache(), paths=10_000).pnl(slice(None))
    total = pnl.sum(axis=0)
    order = monte_carlo.worst_paths(total, confidences=(0.95, 0.99))
    np.testing.assert_array_equal(order, np.argsort(total, kind="stable")[: len(order)])
    given = monte_carlo.path_tail_figures(pnl, confidences=(0.95, 0.99), order=order)
    alone = monte_carlo.path_tail_figures(pnl, confidences=(0.95, 0.99))
    for confidence in (0.95, 0.99):
        assert (given[confidence].var, given[confidence].es) == (alone[confidence].var, alone[confidence].es)
        np.testing.assert_array_equal(given[confidence].component_var, alone[confidence].component_var)
        np.testing.assert_array_equal(given[confidence].component_es, alone[confidence].component_es)
    assert monte_carlo.bootstrap_intervals(total, confidences=(0.95, 0.99), seed=3, order=order) == (
        monte_carlo.bootstrap_intervals(total, confidences=(0.95, 0.99), seed=3)
    )


def _bootstrap_reference(pnl: np.ndarray, confidences: tuple[float, ...], seed: int, replicates: int = 200):
    """The bootstrap as it was computed per portfolio before the plan was kept (cumulative sums per call)."""
    p = pnl.shape[0]
    k_max = max(tail_size(p, c) for c in confidences)
    m = min(p, k_max + math.ceil(6 * math.sqrt(k_max)) + 50)
    losses = -np.partition(pnl, m - 1)[:m] if m < p else -pnl
    losses = np.sort(losses)[::-1]
    counts = np.random.default_rng([seed, 2]).poisson(1.0, size=(replicates, m)).astype(float)
    if m < p and (counts.sum(axis=1) < k_max).any():
        rng = np.random.default_rng([seed, 2])
        rng.poisson(1.0, size=(replicates, m))
        losses = np.sort(-pnl)[::-1]
        counts = rng.poisson(1.0, size=(replicates, p)).astype(float)
    cumulative = np.cumsum(counts, axis=1)
    weighted = np.cumsum(counts * losses[None, :], axis=1)
    rows = np.arange(replicates)
    out = {}
    for confidence in confidences:
        k = tail_size(p, confidence)
        position = np.argmax(cumulative >= k, axis=1)
        var = losses[position]
        previous = position - 1
        before = np.where(position > 0, cumulative[rows, np.maximum(previous, 0)], 0.0)
        above = np.where(position > 0, weighted[rows, np.maximum(previous, 0)], 0.0)
        es = (above + (k - before) * var) / k
        out[confidence] = (*np.quantile(var, [0.025, 0.975]), var.std(ddof=1), *np.quantile(es, [0.025, 0.975]))
        out[confidence] += (es.std(ddof=1),)
    return out


@pytest.mark.parametrize("paths", [10_000, 300, 40])
def test_the_bootstrap_from_its_plan_is_the_per_call_bootstrap(paths: int) -> None:
    rng = np.random.default_rng(paths)
    for seed in (0, 7):
        pnl = rng.standard_t(4, size=paths) * 1_000.0
        got = monte_carlo.bootstrap_intervals(pnl, confidences=(0.95, 0.99), seed=seed)
        for confidence, expected in _bootstrap_reference(pnl, (0.95, 0.99), seed).items():
            e = got[confidence]
            actual = (e.var_low, e.var_high, e.var_se, e.es_low, e.es_high, e.es_se)
            np.testing.assert_allclose(actual, expected, rtol=1e-10)

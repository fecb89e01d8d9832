"""Monte Carlo 1-day VaR/ES from the factor model, every option repriced on every path (from a checked grid).

Paths (``simulate_symbol_returns``): factor returns f ~ N(0, Σ) (Σ the daily factor covariance) or a
multivariate Student-t with ν degrees of freedom scaled to the same covariance
(f = L z × √((ν − 2)/W), W ~ χ²_ν, one W per path); each symbol's 1-day simple return
r_u = β_uᵀ f + ε_u with an independent specific shock ε_u ~ N(0, s_u²) (or a unit-variance Student-t
× s_u). Reproducible: the factor draws come from ``seed``, each symbol's shocks from a generator
seeded by (``seed``, CRC-32 of the symbol), so a symbol's path does not depend on which other
symbols are simulated with it (a portfolio gets the same numbers in any chunk of the batch).
Because the draws depend on nothing but the seed, the settings and the symbol, a caller that simulates
again for the same day may pass ``draws`` (a dict it keeps): the factor paths L z and each symbol's
unit shocks are then drawn once and reused, bit for bit the numbers a fresh draw gives.

Per instrument, once per day (``PathCache``, ``symbol_return_paths``, ``option_change_paths``,
``position_paths``): each symbol's return row (P paths) and each option contract's change in value per
share on every path are made once and kept (the batch: for its run; a what-if: for its day); a
position's path P&L is then its row × its market value (a stock) or × quantity × multiplier (an option),
equal to ``path_pnl`` of the gathered returns within float round-off for a stock and within
``OPTION_GRID_TOLERANCE`` × spot per share for an option; ``path_tail_figures`` takes the VaR/ES and their
components from them as ``var.historical_var`` does.

Options on a grid (``option_change_paths``): an option's value is a function of its underlying's spot ratio
alone on the paths (vol and time unchanged), so from 1,028 paths on each option is priced at 257 ratios spanning
its underlying row's range and at their midpoints, and each path's value interpolated linearly — 513 prices
instead of 10,000. A Black–Scholes value is convex in the spot, so the interpolation's error within an interval
is at most twice its error at the midpoint, which is priced: the paths of an interval whose midpoint error
exceeds half of ``OPTION_GRID_TOLERANCE`` × spot (a millionth of the spot per share) are repriced exactly, so
every path is within that of full repricing (``test_monte_carlo_paths``, against full repricing on every path).
A volatility-index option (Black-76 on a forward that is a concave power of the index, not convex in it
everywhere) is repriced on every path.

Revaluation (``path_pnl``): stocks mv × r; options fully repriced (``var.historical_position_pnl``:
Black–Scholes–Merton, Black-76 on the forward for a volatility index, intrinsic at expiry) at
spot × (1 + r), implied vols and time unchanged (an instantaneous move). A symbol without betas
moves by its specific shock only; without a residual vol, by its factor part only.

VaR/ES follow ``analytics.engines.var``'s quantile convention (k = ceil(P × (1 − c)) worst paths, VaR
the k-th worst loss, ES their mean) with per-position Euler components that sum to the totals.

Simulation error (``bootstrap_intervals``): a Poisson bootstrap (each path re-weighted by an
independent Poisson(1) count, B = 200 replicates) of the VaR and ES, from the sorted losses of the
worst paths only; the 2.5–97.5 % percentile interval and the replicates' standard deviation are reported.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from analytics.engines.book import PositionBook
from analytics.engines.scenarios import option_value_change, shocked_price_ratio
from analytics.engines.var import VarResult, euler_components, historical_position_pnl, tail_size, worst_order

FloatArray = npt.NDArray[np.float64]
Distribution = Literal["normal", "student_t"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("normal", "student_t")
DEFAULT_PATHS = 10_000
BOOTSTRAP_REPLICATES = 200


def _t_scale(rng: np.random.Generator, n: int, dof: float) -> FloatArray:
    """√((ν − 2)/W), W ~ χ²_ν: multiplies a standard normal into a unit-variance Student-t."""
    return np.sqrt((dof - 2.0) / rng.chisquare(dof, size=n))


def _check_settings(paths: int, distribution: str, dof: float) -> None:
    if paths < 1:
        raise ValueError("paths must be at least 1")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
    if distribution == "student_t" and not dof > 2:
        raise ValueError("Student-t degrees of freedom must be above 2 (finite variance)")


def _factor_paths(cov: FloatArray, *, paths: int, distribution: Distribution, dof: float, seed: int) -> FloatArray:
    """The factor returns L z (paths × K), × the Student-t scale per path; seed (``seed``, 0); read-only."""
    # Cholesky of Σ; a semi-definite Σ (e.g. a collinear window) through its eigen-decomposition.
    try:
        root = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(cov)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
    rng = np.random.default_rng([seed, 0])
    z = rng.standard_normal((paths, cov.shape[0]))
    factors = z @ root.T
    if distribution == "student_t":
        factors *= _t_scale(rng, paths, dof)[:, None]
    factors.setflags(write=False)
    return factors


def _unit_shocks(symbol: str, *, paths: int, distribution: Distribution, dof: float, seed: int) -> FloatArray:
    """A symbol's unit-variance specific shocks (paths,), from seed (``seed``, 1, CRC-32 of the symbol)."""
    own = np.random.default_rng([seed, 1, zlib.crc32(symbol.encode())])
    unit = own.standard_normal(paths)
    if distribution == "student_t":
        unit *= _t_scale(own, paths, dof)
    return unit


def simulate_symbol_returns(
    *,
    symbols: list[str],
    betas: npt.ArrayLike,
    residual_vol: npt.ArrayLike,
    factor_cov: npt.ArrayLike,
    paths: int = DEFAULT_PATHS,
    distribution: Distribution = "normal",
    dof: float = 5.0,
    seed: int = 0,
    draws: dict[Any, FloatArray] | None = None,
) -> FloatArray:
    """Simulated 1-day simple returns (paths × symbols) of ``symbols`` (see the module docstring).

    ``betas`` (U × K) and ``residual_vol`` (U,, daily) of each symbol; NaN betas count as 0 (no factor
    move), a NaN residual vol as 0. ``draws``: a cache of the random draws (factor paths per covariance,
    unit shocks per symbol, keyed with the seed and settings), filled and reused; the returns are the
    same with or without it."""
    _check_settings(paths, distribution, dof)
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    k = cov.shape[0]
    settings_key = (paths, distribution, float(dof) if distribution == "student_t" else None, seed)
    factor_key = ("factors", settings_key, cov.shape, cov.tobytes())
    factors = draws.get(factor_key) if draws is not None else None
    if factors is None:
        factors = _factor_paths(cov, paths=paths, distribution=distribution, dof=dof, seed=seed)
        if draws is not None:
            draws[factor_key] = factors
    b = np.nan_to_num(np.atleast_2d(np.asarray(betas, dtype=float)).reshape(len(symbols), k))
    s = np.nan_to_num(np.asarray(residual_vol, dtype=float))
    # Specific shocks drawn symbol by symbol into rows (contiguous), added once as their transpose.
    shocks = np.zeros((len(symbols), paths))
    for j, symbol in enumerate(symbols):
        if s[j] <= 0:
            continue
        unit = draws.get(("shock", settings_key, symbol)) if draws is not None else None
        if unit is None:
            unit = _unit_shocks(symbol, paths=paths, distribution=distribution, dof=dof, seed=seed)
            if draws is not None:
                unit.setflags(write=False)
                draws[("shock", settings_key, symbol)] = unit
        np.multiply(unit, s[j], out=shocks[j])
    return factors @ b.T + shocks.T


def path_pnl(*, returns: npt.ArrayLike, book: PositionBook) -> FloatArray:
    """P&L (paths × positions, USD) of ``book`` with each position's price symbol moving by ``returns``
    (paths × positions, already gathered per position); options fully repriced."""
    pnl = historical_position_pnl(returns=returns, book=book)
    return np.where(np.isfinite(pnl), pnl, 0.0)


# --------------------------------------------------------------------------------------------
# The day's paths, once per instrument: rows of P paths gathered per portfolio
# --------------------------------------------------------------------------------------------

OPTION_CACHE_BYTES = 64 * 2**20  # option rows kept across chunks / requests (≈ 800 contracts at 10,000 paths)
_BLOCK_ROWS = 128  # symbols simulated at once (bounds the temporaries: 128 × P floats each)
# Options repriced at once: each temporary of the pricing (16 × 10,000 floats, 1.3 MB) stays in the core's cache,
# about 25% less CPU than blocks of 128 (same values: the pricing is element by element).
_OPTION_BLOCK = 16
# Options priced on a grid of spot ratios rather than on every path (``option_change_paths``): the grid's points,
# and the largest difference from full repricing allowed per share, as a fraction of the spot (a millionth: a
# hundredth of a cent per share of a $100 stock). Priced at 2G − 1 ratios instead of 10,000 paths.
OPTION_GRID_POINTS = 257
OPTION_GRID_TOLERANCE = 1e-6
_GRID_BLOCK = 64  # options whose grids are priced at once (each temporary (2G − 1) × 64 floats, 260 KB)
PATH_CACHE_KEY = "path_cache"


class PathCache:
    """One day's simulated rows (P paths each, read-only), kept while the day's inputs are: across a batch run's
    chunks, across a process's what-ifs (inside the stage's ``monte_carlo_draws``).

    ``symbols``: each symbol's simulated 1-day simple return, keyed by the settings, the factor covariance, the
    symbol, its betas and residual vol (so a symbol simulated from other inputs is simulated again); kept for the
    day (a universe of U symbols holds U × P × 8 bytes: 120 MB for 1,500 symbols at 10,000 paths).
    ``options``: each option's change in value per share, keyed by its underlying's row key and its terms; at most
    ``option_bytes`` kept, least recently used first out (a book of distinct contracts would otherwise keep one
    row per position: a chunk holds its own rows while it needs them). Pickles empty (a cluster's shared inputs)."""

    def __init__(self, option_bytes: int = OPTION_CACHE_BYTES) -> None:
        self.option_bytes = option_bytes
        self.factors: dict[tuple[Any, ...], FloatArray] = {}
        self.symbols: dict[tuple[Any, ...], FloatArray] = {}
        self.options: OrderedDict[tuple[Any, ...], FloatArray] = OrderedDict()
        self._option_total = 0
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PathCache, (self.option_bytes,))

    def option_get(self, key: tuple[Any, ...]) -> FloatArray | None:
        with self._lock:
            row = self.options.get(key)
            if row is not None:
                self.options.move_to_end(key)
            return row

    def option_put(self, key: tuple[Any, ...], row: FloatArray) -> None:
        with self._lock:
            if key in self.options or row.nbytes > self.option_bytes:
                return
            self.options[key] = row
            self._option_total += row.nbytes
            while self._option_total > self.option_bytes:
                _, dropped = self.options.popitem(last=False)
                self._option_total -= dropped.nbytes


def path_cache(draws: dict[Any, Any] | None) -> PathCache:
    """The ``PathCache`` kept in ``draws`` (created there on first use); a fresh one for ``draws`` None."""
    if draws is None:
        return PathCache()
    cache = draws.get(PATH_CACHE_KEY)
    return cache if isinstance(cache, PathCache) else draws.setdefault(PATH_CACHE_KEY, PathCache())


def symbol_return_paths(
    *,
    symbols: Sequence[str],
    betas: npt.ArrayLike,
    residual_vol: npt.ArrayLike,
    factor_cov: npt.ArrayLike,
    paths: int = DEFAULT_PATHS,
    distribution: Distribution = "normal",
    dof: float = 5.0,
    seed: int = 0,
    cache: PathCache | None = None,
) -> tuple[list[FloatArray], list[tuple[Any, ...]]]:
    """Each symbol's simulated 1-day simple returns as one read-only row of P paths, and the row's cache key.

    Row j is column j of ``simulate_symbol_returns`` with the same arguments (the same draws: factor paths from
    the seed, the symbol's shocks from (seed, symbol)), equal to it within float round-off (β_jᵀ f summed per
    symbol instead of per path). Rows already in ``cache`` are taken from it, the others simulated and kept."""
    _check_settings(paths, distribution, dof)
    cache = cache if cache is not None else PathCache()
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    k = cov.shape[0]
    settings_key = (paths, distribution, float(dof) if distribution == "student_t" else None, seed)
    factor_key = (settings_key, cov.shape, cov.tobytes())
    factors = cache.factors.get(factor_key)
    if factors is None:
        factors = cache.factors.setdefault(
            factor_key, _factor_paths(cov, paths=paths, distribution=distribution, dof=dof, seed=seed)
        )
    b = np.nan_to_num(np.atleast_2d(np.asarray(betas, dtype=float)).reshape(len(symbols), k))
    s = np.nan_to_num(np.asarray(residual_vol, dtype=float)).reshape(len(symbols))
    keys = [(factor_key, symbol, b[j].tobytes(), float(s[j])) for j, symbol in enumerate(symbols)]
    rows: list[FloatArray | None] = [cache.symbols.get(key) for key in keys]
    missing = [j for j, row in enumerate(rows) if row is None]
    for start in range(0, len(missing), _BLOCK_ROWS):
        block_at = missing[start : start + _BLOCK_ROWS]
        block = b[block_at] @ factors.T  # (block × P): each row contiguous
        for i, j in enumerate(block_at):
            row = block[i].copy()  # its own buffer, so that the cache can keep or drop it alone
            if s[j] > 0:
                row += _unit_shocks(symbols[j], paths=paths, distribution=distribution, dof=dof, seed=seed) * s[j]
            row.setflags(write=False)
            rows[j] = cache.symbols.setdefault(keys[j], row)
    return [row for row in rows if row is not None], keys


def option_change_paths(*, options: PositionBook, underlying: Sequence[FloatArray]) -> list[FloatArray]:
    """Each option's change in value per share (per unit for an index option) on each path,
    V(spot × ratio) − V(spot) (``scenarios.option_value_change``: BSM, Black-76 on the forward for a volatility
    index, intrinsic at expiry), the ratio that of its underlying's simulated return ``underlying[i]`` (P,), vol
    and time unchanged — ``path_pnl``'s option P&L ÷ (quantity × multiplier); non-finite values as 0. Read-only
    rows.

    From P ≥ 4 × ``OPTION_GRID_POINTS`` paths, each Black–Scholes option is priced on a grid of spot ratios
    spanning its underlying row's range and interpolated linearly (``_grid_rows``), within
    ``OPTION_GRID_TOLERANCE`` × spot per share of full repricing on every path (the paths where the grid cannot
    promise it are repriced); a volatility-index option, one whose grid values are not all finite, or one whose
    row has no spread of moves, is repriced on every path."""
    paths = len(underlying[0]) if len(options) else 0
    out = _grid_rows(options, underlying) if paths >= 4 * OPTION_GRID_POINTS else [None] * len(options)
    repriced = [j for j, row in enumerate(out) if row is None]
    for start in range(0, len(repriced), _OPTION_BLOCK):
        at = np.array(repriced[start : start + _OPTION_BLOCK], dtype=np.intp)
        block = options.take(at)
        moves = np.stack([underlying[i] for i in at.tolist()]).T  # (P × block), as ``historical_position_pnl``
        ratio = np.where(block.on_vol_index[None, :], 1.0 + moves, shocked_price_ratio(moves))
        change = option_value_change(options=block, spot_ratio=ratio)
        change = np.ascontiguousarray(np.where(np.isfinite(change), change, 0.0).T)
        for j, row in zip(at.tolist(), change, strict=True):
            out[j] = row.copy()
    rows: list[FloatArray] = []
    for row in out:
        assert row is not None  # every option from its grid or repriced above
        row.setflags(write=False)
        rows.append(row)
    return rows


def _grid_rows(options: PositionBook, underlying: Sequence[FloatArray]) -> list[FloatArray | None]:
    """``option_change_paths``' rows from grids, each within ``OPTION_GRID_TOLERANCE`` × its spot (per share) of
    full repricing on every path; None for an option the caller must reprice on every path: a volatility-index
    option, one whose row has no spread of moves (or NaN), one whose grid values are not all finite.

    Each underlying row has a grid of G = ``OPTION_GRID_POINTS`` spot ratios ``low + step × i`` spanning its
    range; each of its options is priced at the G points and each path's value interpolated linearly between the
    two points around its ratio. The bound: each option is also priced at the G − 1 midpoints. A Black–Scholes
    value (and the intrinsic value at expiry) is convex in the spot, so the chord of the interpolation lies above
    it, by a concave gap that is zero at the grid points: the gap anywhere in an interval is at most twice the gap
    at its midpoint. Paths in an interval whose midpoint gap exceeds half the tolerance (near expiry and near the
    strike) are repriced exactly. A volatility-index option is Black-76 on a forward that is a concave power of
    the index, not convex in it everywhere, so the bound would not hold: it is not gridded. Every option's grid is
    priced first, in blocks; then, one row at a time, where its paths sit on the grid (P-long arrays, dropped
    before the next row's) and its options' rows."""
    g = OPTION_GRID_POINTS
    groups: dict[int, list[int]] = {}  # the options on each row (by identity: the rows are shared)
    for j in np.flatnonzero(~options.on_vol_index).tolist():
        groups.setdefault(id(underlying[j]), []).append(j)
    low = np.full(len(options), np.nan)
    step = np.full(len(options), np.nan)
    for members in groups.values():
        move = underlying[members[0]]
        ends = shocked_price_ratio(np.array([move.min(), move.max()]))  # increasing in the return
        if ends[1] > ends[0]:  # a spread of moves (and no NaN)
            low[members] = ends[0]
            step[members] = (ends[1] - ends[0]) / (g - 1)
    gridded = np.flatnonzero(np.isfinite(step))
    table = np.empty((len(options), g))
    too_far = np.zeros((len(options), g - 1), dtype=bool)
    finite = np.zeros(len(options), dtype=bool)
    offsets = np.concatenate([np.arange(g, dtype=float), np.arange(g - 1) + 0.5])  # the points, then the midpoints
    for start in range(0, gridded.size, _GRID_BLOCK):
        at = gridded[start : start + _GRID_BLOCK]
        block = options.take(at)
        # (2G − 1) × block: every option at its grid's points and midpoints
        values = option_value_change(options=block, spot_ratio=low[at] + offsets[:, None] * step[at])
        finite[at] = np.isfinite(values).all(axis=0)
        table[at] = values[:g].T
        allowed = OPTION_GRID_TOLERANCE / 2 * np.abs(block.spot)[:, None]
        with np.errstate(invalid="ignore"):
            too_far[at] = np.abs((table[at, :-1] + table[at, 1:]) / 2 - values[g:].T) > allowed
    slope = np.diff(table, axis=1)
    out: list[FloatArray | None] = [None] * len(options)
    for members in groups.values():
        kept = [j for j in members if finite[j]]
        if not kept:
            continue
        ratio = shocked_price_ratio(underlying[members[0]])
        place = (ratio - low[kept[0]]) / step[kept[0]]
        cell = np.clip(place.astype(np.intp), 0, g - 2)  # each path's grid interval
        weight = place - cell
        for j in kept:
            row = np.take(slope[j], cell)
            row *= weight
            row += np.take(table[j], cell)
            exact = np.flatnonzero(too_far[j][cell])  # the paths in intervals the grid cannot promise
            if exact.size:
                change = option_value_change(options=options.take(np.array([j])), spot_ratio=ratio[exact, None])
                row[exact] = np.where(np.isfinite(change[:, 0]), change[:, 0], 0.0)
            out[j] = row
    return out


@dataclass(frozen=True)
class PositionPaths:
    """Where each of N positions' path P&L comes from: P&L of position i = ``scale[i]`` × ``rows[index[i]]``
    (USD per path): a stock's (or an unpriced option's) market value × its symbol's simulated return, an option's
    quantity × multiplier × its change in value per share. A non-finite scale counts as 0 (no P&L)."""

    rows: list[FloatArray]
    index: npt.NDArray[np.intp]
    scale: FloatArray
    paths: int

    def pnl(self, positions: npt.NDArray[np.intp] | slice) -> FloatArray:
        """P&L (len(positions) × P, USD) of the ``positions`` (indices or a slice of the N)."""
        return self.pnl_and_total(positions)[0]

    def pnl_and_total(self, positions: npt.NDArray[np.intp] | slice) -> tuple[FloatArray, FloatArray]:
        """``pnl(positions)`` and each path's total over those positions (P,): ``pnl.sum(axis=0)`` bit for bit (the
        rows added in order), each row added while it is still in the core's cache rather than read back from the
        whole matrix (a portfolio's is 60 × P floats, 4.8 MB at 10,000 paths)."""
        index = self.index[positions]
        scale = self.scale[positions]
        out = np.empty((len(index), self.paths))
        total = np.zeros(self.paths)
        for i, (j, factor) in enumerate(zip(index.tolist(), scale.tolist(), strict=True)):
            np.multiply(self.rows[j], factor, out=out[i])
            if i == 0:
                total[:] = out[0]
            else:
                total += out[i]
        return out, total


def position_paths(
    *,
    book: PositionBook,
    price_symbols: Sequence[str],
    symbol_rows: dict[str, FloatArray],
    symbol_keys: dict[str, tuple[Any, ...]],
    paths: int,
    cache: PathCache | None = None,
) -> PositionPaths:
    """The path P&L sources of ``book``'s positions (``PositionPaths``): each position's price symbol moves by
    its row of ``symbol_rows`` (``symbol_return_paths``; ``symbol_keys`` their cache keys); each option's
    repriced rows (``option_change_paths``) computed once per distinct contract terms and underlying row — kept
    in ``cache`` and taken from it. Equal to ``path_pnl`` of the gathered returns within float round-off."""
    cache = cache if cache is not None else PathCache()
    symbols = list(symbol_rows)
    column = {symbol: j for j, symbol in enumerate(symbols)}
    rows: list[FloatArray] = [symbol_rows[symbol] for symbol in symbols]
    index = np.array([column[str(symbol)] for symbol in price_symbols], dtype=np.intp)
    scale = book.market_value.astype(float, copy=True)
    option_rows = np.flatnonzero(book.is_option)
    if option_rows.size:
        options = book.take(option_rows)
        terms = np.column_stack(
            [
                options.spot,
                options.strike,
                options.years,
                options.vol,
                options.rate,
                options.div_yield,
                options.is_call.astype(float),
                options.on_vol_index.astype(float),
            ]
        )
        keys = [(symbol_keys[str(price_symbols[i])], terms[j].tobytes()) for j, i in enumerate(option_rows.tolist())]
        where: dict[tuple[Any, ...], int] = {}
        todo: list[int] = []
        for j, key in enumerate(keys):
            if key in where:
                continue
            row = cache.option_get(key)
            where[key] = len(rows)
            if row is None:
                todo.append(j)
                rows.append(np.empty(0))  # filled below
            else:
                rows.append(row)
        if todo:
            underlying = [symbol_rows[str(price_symbols[option_rows[j]])] for j in todo]
            computed = option_change_paths(options=options.take(np.array(todo, dtype=np.intp)), underlying=underlying)
            for j, row in zip(todo, computed, strict=True):
                rows[where[keys[j]]] = row
                cache.option_put(keys[j], row)
        index[option_rows] = [where[key] for key in keys]
        scale[option_rows] = options.quantity * options.multiplier
    return PositionPaths(rows=rows, index=index, scale=np.where(np.isfinite(scale), scale, 0.0), paths=paths)


def _tail_reach(p: int, confidences: Sequence[float]) -> int:
    """How many of P ranked paths ``path_tail_figures`` reads: the largest tail and the kernel's half-width."""
    return min(p, max(tail_size(p, c) for c in confidences) + max(1, round(0.01 * p)))


def _bootstrap_depth(p: int, confidences: Sequence[float]) -> int:
    """How many of P ranked paths ``bootstrap_intervals`` draws for: m = min(P, k + 6√k + 50), k the largest
    tail (6 sd of a replicate's count above k)."""
    k_max = max(tail_size(p, c) for c in confidences)
    return min(p, k_max + math.ceil(6 * math.sqrt(k_max)) + 50)


def worst_paths(total: FloatArray, *, confidences: Sequence[float]) -> npt.NDArray[np.intp]:
    """The paths ranked worst first (``var.worst_order`` of their P&L ``total``) as far as both
    ``path_tail_figures`` and ``bootstrap_intervals`` read them: ranked once for the two."""
    p = len(total)
    return worst_order(total, max(_tail_reach(p, confidences), _bootstrap_depth(p, confidences)))


def path_tail_figures(
    position_pnl: npt.ArrayLike,
    *,
    confidences: Sequence[float],
    total: FloatArray | None = None,
    order: npt.NDArray[np.intp] | None = None,
) -> dict[float, VarResult]:
    """``var.historical_var`` of the transposed ``position_pnl`` (N positions × P paths, USD) at each confidence:
    the same quantile convention, ranking (stable, worst first) and Euler components, equal within float
    round-off; the paths are ranked once for every confidence, and only as far as the tails reach. ``total``:
    the column sums of ``position_pnl`` (each path's P&L) when the caller has them; ``order``: those paths ranked
    (``worst_paths``), when the caller has them."""
    pnl = np.asarray(position_pnl, dtype=float)
    if pnl.ndim != 2 or pnl.shape[1] == 0:
        raise ValueError("position_pnl must be a non-empty (positions × paths) array")
    p = pnl.shape[1]
    total = pnl.sum(axis=0) if total is None else total
    h = max(1, round(0.01 * p))
    reach = _tail_reach(p, confidences)
    if order is None or len(order) < reach:
        order = worst_order(total, reach)
    # The positions' P&L on the paths the tails read, worst first, gathered once (N × reach): each figure below reads
    # a slice of it — the values, and the order they are summed in, of a gather per figure (0.5 → 0.45 ms a portfolio).
    ranked = pnl[:, order[:reach]]
    ranked_total = total[order[:reach]]
    out = {}
    for confidence in confidences:
        if not 0.5 < confidence < 1.0:
            raise ValueError("confidence must be in (0.5, 1)")
        k = tail_size(p, confidence)
        var = -float(ranked_total[k - 1])
        ranks = np.arange(max(0, k - 1 - h), min(p, k + h))
        weights = (h + 1.0) - np.abs(ranks - (k - 1))
        smoothed = -(ranked[:, ranks] @ weights) / weights.sum()
        component_var = euler_components(smoothed=smoothed, raw=-ranked[:, k - 1], var=var)
        out[confidence] = VarResult(
            var=var,
            es=-float(ranked_total[:k].mean()),
            component_var=component_var,
            component_es=-ranked[:, :k].mean(axis=1),
            confidence=confidence,
            method="historical",
            tail_size=k,
        )
    return out


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile interval (USD, positive losses) and standard deviation of the bootstrap replicates."""

    var_low: float
    var_high: float
    var_se: float
    es_low: float
    es_high: float
    es_se: float


@lru_cache(maxsize=16)
def _poisson_counts(seed: int, replicates: int, m: int) -> FloatArray:
    """The bootstrap's Poisson(1) counts (replicates × m) from seed (``seed``, 2): a function of its arguments
    only, so drawn once per process (read-only)."""
    counts = np.random.default_rng([seed, 2]).poisson(1.0, size=(replicates, m)).astype(float)
    counts.setflags(write=False)
    return counts


@dataclass(frozen=True)
class _BootstrapPlan:
    """What a bootstrap of P paths needs beyond the losses: a function of (seed, replicates, m, P, tail sizes)
    only, so made once per process. For tail size ``ks[i]``: ``position[i]`` (replicates,) each replicate's k-th
    worst counted path among the m worst, ``before[i]`` the count of the paths before it, and ``weights[i]``
    (replicates × m) the counts of those paths (0 from it on): the count-weighted loss above the k-th worst of a
    replicate is its row of ``weights[i] @ losses``. ``full``: the m worst did not suffice (every path drawn)."""

    m: int
    full: bool
    position: tuple[npt.NDArray[np.intp], ...]
    before: tuple[FloatArray, ...]
    weights: FloatArray  # (len(ks) × replicates) × m


@lru_cache(maxsize=16)
def _bootstrap_plan(seed: int, replicates: int, m: int, p: int, ks: tuple[int, ...]) -> _BootstrapPlan:
    counts = _poisson_counts(seed, replicates, m)
    full = m < p and bool((counts.sum(axis=1) < max(ks)).any())
    if full:
        rng = np.random.default_rng([seed, 2])
        rng.poisson(1.0, size=(replicates, m))  # the draws above, skipped: the stream goes on after them
        counts = rng.poisson(1.0, size=(replicates, p)).astype(float)
    cumulative = np.cumsum(counts, axis=1)
    rows = np.arange(replicates)
    columns = np.arange(counts.shape[1])
    positions, befores, weights = [], [], []
    for k in ks:
        position = np.argmax(cumulative >= k, axis=1)  # each replicate's k-th worst path
        previous = position - 1
        befores.append(np.where(position > 0, cumulative[rows, np.maximum(previous, 0)], 0.0))
        positions.append(position.astype(np.intp))
        weights.append(np.where(columns[None, :] < position[:, None], counts, 0.0))
    stacked = np.vstack(weights)
    stacked.setflags(write=False)
    return _BootstrapPlan(
        m=counts.shape[1], full=full, position=tuple(positions), before=tuple(befores), weights=stacked
    )


def bootstrap_intervals(
    portfolio_pnl: npt.ArrayLike,
    *,
    confidences: tuple[float, ...],
    replicates: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
    order: npt.NDArray[np.intp] | None = None,
) -> dict[float, BootstrapInterval]:
    """Poisson-bootstrap intervals of the VaR and ES of ``portfolio_pnl`` (P paths) at each confidence; ``order``:
    the paths ranked worst first (``worst_paths``), when the caller has them.

    Each replicate weights every path by a Poisson(1) count (one draw serves every confidence); its
    tail is the k = ceil(P (1 − c)) worst counted paths (k fixed by P), its VaR the loss where the
    cumulative count reaches k and its ES the count-weighted mean loss of those k. Only the worst
    m = min(P, k + 6√k + 50) paths (k of the lowest confidence) are drawn for — the m worst carry m ± √m
    counts, so fewer than k is a 6-sigma event; should any replicate fall short, every path is redrawn.
    The counts, and where each replicate's tail ends, depend on the seed and P only (``_bootstrap_plan``,
    made once per process); per call only the worst losses are sorted and weighted (one matrix product)."""
    pnl = np.asarray(portfolio_pnl, dtype=float)
    p = pnl.shape[0]
    ks = tuple(tail_size(p, c) for c in confidences)
    plan = _bootstrap_plan(seed, replicates, _bootstrap_depth(p, confidences), p, ks)
    # The m worst, worst first, as positive losses.
    if plan.m == p:
        losses = np.sort(-pnl)[::-1]
    else:
        worst = order[: plan.m] if order is not None and len(order) >= plan.m else worst_order(pnl, plan.m)
        losses = -pnl[worst]
    above_all = (plan.weights @ losses).reshape(len(ks), replicates)
    alpha = (1.0 - level) / 2.0
    # Each confidence's replicated VaR and ES as rows (VaR, ES, VaR, ES, …): their quantiles in one call.
    replicated = np.empty((2 * len(ks), replicates))
    for i, k in enumerate(ks):
        replicated[2 * i] = losses[plan.position[i]]
        replicated[2 * i + 1] = (above_all[i] + (k - plan.before[i]) * replicated[2 * i]) / k
    low, high = np.quantile(replicated, [alpha, 1.0 - alpha], axis=1)
    se = replicated.std(axis=1, ddof=1) if replicates > 1 else np.full(2 * len(ks), math.nan)
    return {
        confidence: BootstrapInterval(
            var_low=float(low[2 * i]),
            var_high=float(high[2 * i]),
            var_se=float(se[2 * i]),
            es_low=float(low[2 * i + 1]),
            es_high=float(high[2 * i + 1]),
            es_se=float(se[2 * i + 1]),
        )
        for i, confidence in enumerate(confidences)
    }


def bootstrap_interval(
    portfolio_pnl: npt.ArrayLike,
    *,
    confidence: float,
    replicates: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """``bootstrap_intervals`` at one confidence."""
    return bootstrap_intervals(portfolio_pnl, confidences=(confidence,), replicates=replicates, level=level, seed=seed)[
        confidence
    ]

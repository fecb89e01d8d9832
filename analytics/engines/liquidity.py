"""Liquidity: days to liquidate positions at a share of their average daily volume, and the liquidity profile.

Conventions (pure numpy; no Django):

- Volumes are **shares per session**; a session without a stored bar is NaN (not counted), a stored
  bar with volume 0 counts as a session that traded nothing.
- The average daily volume (ADV) of a symbol is the mean of its stored volumes over the last
  ``window`` sessions (20 by default); the number of sessions it averages is returned beside it. A
  symbol whose ADV is 0 or has no bar at all has **no volume**: its days to liquidate are NaN and
  the caller flags the position (never hides it, never counts it as liquid).
- Days to liquidate selling ``participation`` × ADV shares a day (0.20 = 20% of the volume): every
  position on one volume symbol (a stock and the options on it) draws on that symbol's volume, so a
  group's days are Σ |shares| of its positions / (participation × ADV), the same for each of them
  (gross, not netted: unwinding a hedge trades both legs). Shares are **share equivalents**: a
  stock's share count, an option's |contracts × multiplier × delta| in its underlying's shares.
- Liquidity profile: selling at that constant rate, a position of D days has min(1, h / D) of its
  value sold within h days (D = 0 — nothing to sell — is liquid at once). The share of the
  portfolio liquidatable within h days is Σ |value_i| × min(1, h / D_i) / Σ |value_i| over all
  positions, those without volume counted as not liquidatable (0 in the numerator, in the
  denominator), so the profile never overstates liquidity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ADV_WINDOW = 20
DEFAULT_PARTICIPATION = 0.20
DEFAULT_HORIZONS: tuple[int, ...] = (1, 5, 20)


def average_daily_volume(volumes: npt.ArrayLike, *, window: int = ADV_WINDOW) -> tuple[FloatArray, np.ndarray]:
    """ADV of each symbol over the last ``window`` sessions.

    ``volumes`` is T sessions (oldest first) × S symbols, shares, NaN where a symbol has no bar that
    session. Returns (ADV in shares (S,), NaN where a symbol has no bar in the window; sessions
    averaged (S,), int).
    """
    if window < 1:
        raise ValueError("window must be at least 1 session")
    table = np.asarray(volumes, dtype=float)
    if table.ndim != 2:
        raise ValueError("volumes must be sessions × symbols")
    recent = table[-window:]
    present = np.isfinite(recent)
    counts = present.sum(axis=0)
    totals = np.where(present, recent, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adv = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return adv.astype(float), counts.astype(int)


def liquidation_days(
    *,
    shares: npt.ArrayLike,
    adv: npt.ArrayLike,
    group: Sequence[object],
    participation: float = DEFAULT_PARTICIPATION,
) -> FloatArray:
    """Days to liquidate each position (N,): Σ |shares| of its ``group`` / (participation × ADV).

    ``shares`` are share equivalents (N,) (sign ignored; NaN counts as 0); ``adv`` the ADV of each
    position's volume symbol (N,); ``group`` each position's volume symbol. NaN where the ADV is NaN
    or ≤ 0 (no volume); 0 where the group has nothing to sell.
    """
    if not 0.0 < participation <= 1.0:
        raise ValueError("participation must be in (0, 1]")
    size = np.abs(np.nan_to_num(np.asarray(shares, dtype=float), nan=0.0))
    volume = np.asarray(adv, dtype=float)
    if size.shape != volume.shape or len(group) != size.shape[0]:
        raise ValueError("shares, adv and group must have one entry per position")
    keys = np.array([str(g) for g in group], dtype=object)
    _, inverse = np.unique(keys, return_inverse=True) if len(keys) else (keys, np.array([], dtype=int))
    combined = np.bincount(inverse, weights=size, minlength=int(inverse.max()) + 1 if len(inverse) else 0)
    group_shares = combined[inverse] if len(inverse) else size
    tradable = np.isfinite(volume) & (volume > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        days = np.where(tradable, group_shares / (participation * np.where(tradable, volume, 1.0)), np.nan)
    return days.astype(float)


def liquidity_profile(
    *, gross_value: npt.ArrayLike, days: npt.ArrayLike, horizons: Sequence[int] = DEFAULT_HORIZONS
) -> FloatArray:
    """Share of Σ |value| liquidatable within each horizon (H,), decimals in [0, 1].

    ``gross_value`` (N,) is each position's value (sign ignored, NaN as 0); ``days`` (N,) its days to
    liquidate, NaN for no volume (never liquidatable). An empty or zero-value book gives NaN.
    """
    value = np.abs(np.nan_to_num(np.asarray(gross_value, dtype=float), nan=0.0))
    need = np.asarray(days, dtype=float)
    if value.shape != need.shape:
        raise ValueError("gross_value and days must have one entry per position")
    total = float(value.sum())
    out = np.full(len(horizons), np.nan)
    if total <= 0.0:
        return out
    known = np.isfinite(need)
    for i, h in enumerate(horizons):
        if h <= 0:
            raise ValueError("horizons must be positive days")
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(need > 0, np.minimum(1.0, h / np.where(need > 0, need, 1.0)), 1.0)
        out[i] = float(np.where(known, value * fraction, 0.0).sum()) / total
    return out

"""Drawdown of a P&L path: how far the cumulative P&L stands below its running peak.

Conventions: the input is the cumulative P&L in currency, one value per day in date order (the
``cumulative_pnl`` of the daily snapshots, 0 on the first day). The drawdown of day t is
``cum_t − max(cum_0 … cum_t)``: zero at a new peak, negative below it, in the same currency. A
missing day (NaN) has a NaN drawdown and does not set a peak. Expressed as a fraction of the equity
balance it matches the snapshots' daily return (P&L / equity balance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def drawdown_from_pnl(cumulative_pnl: npt.ArrayLike) -> FloatArray:
    """Drawdown per day (≤ 0, currency) of a cumulative P&L series; NaN where the input is NaN."""
    cumulative = np.asarray(cumulative_pnl, dtype=float)
    if cumulative.size == 0:
        return cumulative.copy()
    peak = np.fmax.accumulate(cumulative)  # fmax skips NaN, so a missing day sets no peak
    return cumulative - peak


@dataclass(frozen=True)
class MaxDrawdown:
    """The deepest drawdown (≤ 0, currency) and the indexes of its peak and trough days."""

    depth: float
    peak_index: int
    trough_index: int


def max_drawdown(cumulative_pnl: npt.ArrayLike) -> MaxDrawdown | None:
    """The deepest point below a previous peak, or None when there is no finite value."""
    cumulative = np.asarray(cumulative_pnl, dtype=float)
    drawdown = drawdown_from_pnl(cumulative)
    if not np.isfinite(drawdown).any():
        return None
    trough = int(np.nanargmin(drawdown))
    finite_before = np.where(np.isfinite(cumulative[: trough + 1]), cumulative[: trough + 1], -np.inf)
    peak = int(np.argmax(finite_before))
    return MaxDrawdown(depth=float(drawdown[trough]), peak_index=peak, trough_index=trough)

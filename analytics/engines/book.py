"""Positions as the revaluation engines (market scenarios, stress tests, historical VaR) take them."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike


@dataclass(frozen=True)
class PositionBook:
    """N positions to revalue, one array entry each (currency per share).

    ``quantity`` is signed (negative = short) and ``multiplier`` the contract size (1 for stocks).
    ``price`` is per share; for an option, the current *model* value, so that a revaluation P&L
    holds only the shock and not the model's mispricing. ``spot`` is the price of the position's
    price symbol (the underlying for an option); ``strike``, ``years`` (ACT/365), ``vol`` (annual)
    and ``is_call`` matter for options only; ``rate`` and ``div_yield`` are annual, continuously
    compounded.
    """

    quantity: FloatArray
    multiplier: FloatArray
    price: FloatArray
    is_option: BoolArray
    is_call: BoolArray
    spot: FloatArray
    strike: FloatArray
    years: FloatArray
    vol: FloatArray
    rate: FloatArray
    div_yield: FloatArray
    vol_index: BoolArray | None = None  # None: no volatility-index position (all False)

    def __post_init__(self) -> None:
        if self.vol_index is None:
            object.__setattr__(self, "vol_index", np.zeros(self.quantity.shape[0], dtype=bool))

    @property
    def on_vol_index(self) -> BoolArray:
        """``vol_index`` as a boolean array (never None)."""
        assert self.vol_index is not None  # set by __post_init__
        return self.vol_index

    @classmethod
    def of(
        cls,
        *,
        quantity: ArrayLike,
        multiplier: ArrayLike,
        price: ArrayLike,
        is_option: ArrayLike,
        is_call: ArrayLike,
        spot: ArrayLike,
        strike: ArrayLike,
        years: ArrayLike,
        vol: ArrayLike,
        rate: ArrayLike,
        div_yield: ArrayLike,
        vol_index: ArrayLike = False,
    ) -> PositionBook:
        """A book from array-likes; scalars (e.g. one ``rate``) are broadcast to the N of ``quantity``."""
        n = np.atleast_1d(np.asarray(quantity)).shape[0]

        def floats(a: ArrayLike) -> FloatArray:
            return np.broadcast_to(np.asarray(a, dtype=float), (n,))

        def flags(a: ArrayLike) -> BoolArray:
            return np.broadcast_to(np.asarray(a, dtype=bool), (n,))

        return cls(
            quantity=floats(quantity),
            multiplier=floats(multiplier),
            price=floats(price),
            is_option=flags(is_option),
            is_call=flags(is_call),
            spot=floats(spot),
            strike=floats(strike),
            years=floats(years),
            vol=floats(vol),
            rate=floats(rate),
            div_yield=floats(div_yield),
            vol_index=flags(vol_index),
        )

    def __len__(self) -> int:
        return int(self.quantity.shape[0])

    @property
    def market_value(self) -> FloatArray:
        """quantity × price × multiplier (signed)."""
        return self.quantity * self.price * self.multiplier

    def take(self, rows: npt.NDArray[np.intp]) -> PositionBook:
        """The positions at ``rows``, in that order."""
        return PositionBook(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def identical_rows(self, *labels: ArrayLike) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Positions with the same terms: (``ids``, ``first``) where ``ids[i]`` numbers row i's group of rows
        whose every field — and every one of ``labels`` (N integer codes each, e.g. the price symbol's) — is
        bitwise equal, and ``first[g]`` is the first row of group g. A revaluation of row ``first[ids[i]]``
        is row i's, so identical rows (one lot seen in two portfolios of a chunk) need revaluing only once."""
        n = len(self)
        columns = [np.asarray(getattr(self, f.name), dtype=float) for f in fields(self)]
        columns += [np.asarray(label, dtype=np.int64).astype(float) for label in labels]
        table = np.ascontiguousarray(np.column_stack(columns)) if n else np.zeros((0, len(columns)))
        rows = table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).ravel()
        _, first, ids = np.unique(rows, return_index=True, return_inverse=True)
        return ids.reshape(n).astype(np.intp), first.astype(np.intp)

    def options(self) -> tuple[npt.NDArray[np.intp], PositionBook]:
        """The rows that are options, and the book of those options."""
        rows = np.flatnonzero(self.is_option)
        return rows, self.take(rows)

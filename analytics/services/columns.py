"""A frame's columns as numpy arrays, for the per-portfolio code of the batch.

The batch computes a chunk's positions in pandas frames, then builds each portfolio's payloads
from its rows. Reading a column of a pandas slice builds a new Series every time (about 70 µs on
the wide position frames), and the payload builders read some hundred columns per portfolio;
``Columns`` reads each column of the chunk once and hands out views of a portfolio's row range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Columns:
    """``columns[name]`` is a numpy array (a view when a row range is taken); ``len(columns)`` is the
    number of rows."""

    __slots__ = ("_arrays", "_length", "_rows")

    def __init__(self, arrays: dict[str, np.ndarray], rows: slice | None = None) -> None:
        self._arrays = arrays
        self._rows = rows if rows is not None else slice(None)
        total = len(next(iter(arrays.values()))) if arrays else 0
        self._length = len(range(*self._rows.indices(total)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Columns:
        return cls({str(name): frame[name].to_numpy() for name in frame.columns})

    def with_column(self, name: str, values: np.ndarray) -> Columns:
        """A copy of these (whole-frame) columns with one more, of the same length."""
        return Columns({**self._arrays, name: values}, self._rows)

    def rows(self, rows: slice) -> Columns:
        """The same columns restricted to a row range (no copy)."""
        return Columns(self._arrays, rows)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name][self._rows]

    def __contains__(self, name: object) -> bool:
        return name in self._arrays

    def __len__(self) -> int:
        return self._length

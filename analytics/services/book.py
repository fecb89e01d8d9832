"""The fingerprint of a portfolio's book: what its day's results were computed from, besides market data.

The batch records it in every stored result's provenance (``inputs["book"]``); a what-if compares it with the
book it loads now, and takes the *before* side of its answer from the stored results only when the two are
equal (a position entered, edited, tagged or removed since the batch, or a changed equity balance or
benchmark, makes them differ). It covers every column of the position frame the batch reads
(``inputs.POSITION_COLUMNS`` but the owner) and the portfolio's fields that the result kinds read
(``PortfolioInfo.equity_balance``, ``benchmark_symbol``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from analytics.services.columns import Columns
from analytics.services.inputs import PortfolioInfo

# Columns compared as float64 bytes (NaN for "none": the loader writes np.nan for a missing strike or exit price).
NUMBER_COLUMNS = ("quantity", "multiplier", "entry_price", "strike", "exit_price")
FLAG_COLUMNS = ("is_option", "is_call")
# Columns compared as text (uuid, symbols, types, dates, tag lists; None as the empty text).
TEXT_COLUMNS = (
    "position_id",
    "symbol",
    "price_symbol",
    "position_type",
    "asset_class",
    "entry_date",
    "expiration",
    "tags",
    "exit_date",
)
_SEPARATOR = "\x1f"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value != value:  # NaN in an object column (a frame built by concatenation)
        return ""
    return str(value)


def text_column_name(name: str) -> str:
    """The name of the column holding ``name``'s values as the fingerprint's text (:func:`with_book_texts`)."""
    return f"book_text:{name}"


def with_book_texts(positions: Columns, *, known: Mapping[str, np.ndarray] | None = None) -> Columns:
    """``positions`` (a whole chunk's columns) with each text column of the fingerprint converted to its text once
    (``text_column_name``), so that each portfolio's :func:`book_fingerprint` of a row range joins them instead of
    converting every value again: the digest is the same either way. ``known``: columns whose texts the caller
    already has (the position ids as text), taken as they are."""
    known = known or {}
    for name in TEXT_COLUMNS:
        if name in known:
            texts = known[name]
        else:
            texts = np.empty(len(positions), dtype=object)
            texts[:] = [v if type(v) is str else _text(v) for v in positions[name].tolist()]
        positions = positions.with_column(text_column_name(name), texts)
    return positions


def book_fingerprint(*, positions: Columns, info: PortfolioInfo) -> str:
    """A 32-hex-digit digest of the portfolio's rows (in their loaded order) and its equity and benchmark.

    Equal books give equal digests whatever else the chunk held; any change of a value gives another one.
    Reads the text columns made by :func:`with_book_texts` where ``positions`` has them.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{len(positions)}{_SEPARATOR}{info.equity_balance!r}{_SEPARATOR}{info.benchmark_symbol}".encode())
    for name in NUMBER_COLUMNS:
        digest.update(name.encode())
        values = np.asarray(positions[name], dtype=np.float64)
        digest.update(np.where(np.isnan(values), np.nan, values).tobytes())  # one NaN bit pattern
    for name in FLAG_COLUMNS:
        digest.update(name.encode())
        digest.update(np.asarray(positions[name], dtype=bool).tobytes())
    for name in TEXT_COLUMNS:
        digest.update(name.encode())
        converted = text_column_name(name)
        if converted in positions:
            texts = positions[converted].tolist()
        else:
            texts = [_text(v) for v in positions[name].tolist()]
        digest.update(_SEPARATOR.join(texts).encode())
    return digest.hexdigest()

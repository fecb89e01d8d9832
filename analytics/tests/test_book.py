"""The book's fingerprint: equal for the same rows whatever else the chunk held, different after any edit."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd

from analytics.services.book import book_fingerprint, with_book_texts
from analytics.services.columns import Columns
from analytics.services.inputs import POSITION_COLUMNS, PortfolioInfo
from analytics.services.steps import _grouped_order

OWNER, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)
INFO = PortfolioInfo(id=OWNER, name="Book", equity_balance=100_000.0)


def _row(owner: uuid.UUID, number: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "position_id": uuid.UUID(int=100 + number),
        "portfolio_id": owner,
        "symbol": "AAPL",
        "price_symbol": "AAPL",
        "position_type": "LONG",
        "asset_class": "stock",
        "is_option": False,
        "is_call": False,
        "quantity": 10.0 + number,
        "multiplier": 1.0,
        "entry_price": 150.0,
        "entry_date": dt.date(2026, 1, 5),
        "strike": np.nan,
        "expiration": None,
        "tags": ["core"],
        "exit_date": None,
        "exit_price": np.nan,
    }
    row.update(changes)
    return row


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))


def _fingerprint(rows: list[dict[str, object]], info: PortfolioInfo = INFO) -> str:
    return book_fingerprint(positions=Columns.from_frame(_frame(rows)), info=info)


OPTION = {
    "symbol": "AAPL270115P00150000",
    "position_type": "LP",
    "asset_class": "option",
    "is_option": True,
    "multiplier": 100.0,
    "strike": 150.0,
    "expiration": dt.date(2027, 1, 15),
}


def test_the_same_rows_give_the_same_fingerprint_alone_or_sliced_from_a_chunk() -> None:
    own = [_row(OWNER, 0), _row(OWNER, 1, **OPTION)]
    chunk = _frame([_row(OTHER, 5, tags=[]), *own, _row(OTHER, 6)])
    sliced = Columns.from_frame(chunk).rows(slice(1, 3))
    assert book_fingerprint(positions=sliced, info=INFO) == _fingerprint(own)
    assert len(_fingerprint(own)) == 32
    # The chunk's texts converted once (as the batch does) give the same digest as converting each slice.
    converted = with_book_texts(Columns.from_frame(chunk)).rows(slice(1, 3))
    assert book_fingerprint(positions=converted, info=INFO) == _fingerprint(own)
    # With the ids' texts given (the batch's position keys), the same digest again.
    keys = np.array([str(p) for p in chunk["position_id"]], dtype=object)
    given = with_book_texts(Columns.from_frame(chunk), known={"position_id": keys}).rows(slice(1, 3))
    assert book_fingerprint(positions=given, info=INFO) == _fingerprint(own)


def test_a_chunk_groups_its_rows_by_portfolio_as_a_stable_sort_of_the_ids_text() -> None:
    rng = np.random.default_rng(7)
    ids = [uuid.UUID(int=int(n)) for n in rng.integers(0, 2**63, 40)] + [uuid.UUID(int=2**127 + 5)]
    owner = np.empty(600, dtype=object)
    owner[:] = [ids[k] for k in rng.integers(0, len(ids), 600)]
    np.testing.assert_array_equal(_grouped_order(owner), np.argsort(owner.astype(str), kind="stable"))
    assert _grouped_order(np.empty(0, dtype=object)).size == 0


def test_any_edit_of_the_book_or_the_portfolio_changes_the_fingerprint() -> None:
    own = [_row(OWNER, 0), _row(OWNER, 1, **OPTION)]
    base = _fingerprint(own)
    edits = [
        [_row(OWNER, 0, quantity=11.0), own[1]],
        [_row(OWNER, 0, entry_price=150.01), own[1]],
        [_row(OWNER, 0, entry_date=dt.date(2026, 1, 6)), own[1]],
        [_row(OWNER, 0, tags=["core", "tech"]), own[1]],
        [_row(OWNER, 0, exit_date=dt.date(2026, 12, 1), exit_price=160.0), own[1]],
        [own[0], _row(OWNER, 1, **{**OPTION, "strike": 155.0})],
        [own[0], _row(OWNER, 1, **{**OPTION, "is_call": True, "position_type": "LC"})],
        [own[0]],
        [*own, _row(OWNER, 2)],
    ]
    for number, rows in enumerate(edits):
        assert _fingerprint(rows) != base, number
    assert _fingerprint(own, PortfolioInfo(id=OWNER, name="Book", equity_balance=100_000.01)) != base
    assert _fingerprint(own, PortfolioInfo(id=OWNER, name="Book", equity_balance=None)) != base
    benchmark = PortfolioInfo(id=OWNER, name="Book", equity_balance=100_000.0, benchmark_symbol="QQQ")
    assert _fingerprint(own, benchmark) != base
    # The name is not read by any result kind: renaming keeps the stored results current.
    assert _fingerprint(own, PortfolioInfo(id=OWNER, name="Renamed", equity_balance=100_000.0)) == base

"""The positions table of one portfolio, shaped for its template.

Rows are the data API's own position items (``portfolios.api.views.positions_output``, with the
fields analytics adds through ``portfolios.api.extensions``): the same price, market value, P&L, Greeks and betas as
``GET /api/v1/data/portfolios/{id}/positions``. Filters are the API's (type, tag, symbol or
underlying, open/closed); sorting is by any shown column, done here over the portfolio's rows
because most columns (value, P&L, Greeks) are not database fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from portfolios.api.views import positions_output
from portfolios.models import Portfolio
from portfolios.selectors import PositionFilterOptions, positions_for_portfolio

STATUSES = ("open", "closed", "all")


def _analytics(row: dict[str, Any]) -> dict[str, Any]:
    return row.get("analytics") or {}


def _greek(row: dict[str, Any], name: str) -> Any:
    return (_analytics(row).get("greeks") or {}).get(name)


# Column key → (header, value of a row). The order is the table's.
COLUMNS: dict[str, tuple[str, Any]] = {
    "symbol": ("Symbol", lambda r: r["symbol"]),
    "position_type": ("Type", lambda r: r["position_type"]),
    "quantity": ("Qty", lambda r: r["quantity"]),
    "entry_price": ("Entry", lambda r: r["entry_price"]),
    "price": ("Price", lambda r: r["price"]),
    "market_value": ("Mkt value", lambda r: r["market_value"]),
    "unrealised_pnl": ("Unrl. P&L", lambda r: r["unrealised_pnl"]),
    "delta": ("Δ (sh)", lambda r: _greek(r, "position_delta")),
    "dollar_delta": ("$Δ", lambda r: _analytics(r).get("delta_exposure")),
    "gamma": ("Γ", lambda r: _greek(r, "position_gamma")),
    "theta": ("Θ/day", lambda r: _greek(r, "position_theta")),
    "vega": ("Vega", lambda r: _greek(r, "position_vega")),
    "beta": ("β mkt", lambda r: (_analytics(r).get("factor_betas") or {}).get("market")),
    "entry_date": ("Entered", lambda r: r["entry_date"]),
}
DEFAULT_SORT = "symbol"


@dataclass(frozen=True)
class PositionFilters:
    """The table's filters and sort, read from the query string (unknown values fall back)."""

    position_type: str = ""
    tag: str = ""
    underlying: str = ""
    status: str = "open"
    sort: str = DEFAULT_SORT
    descending: bool = False

    @classmethod
    def from_query(cls, query: QueryDict, options: PositionFilterOptions) -> PositionFilters:
        sort = query.get("sort", DEFAULT_SORT)
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        tag = query.get("tag", "")
        return cls(
            position_type=query.get("type", "") if query.get("type", "") in options.position_types else "",
            tag=next((t for t in options.tags if t.lower() == tag.lower()), "") if tag else "",
            underlying=query.get("underlying", "") if query.get("underlying", "") in options.underlyings else "",
            status=query.get("status", "open") if query.get("status") in STATUSES else "open",
            sort=key if key in COLUMNS else DEFAULT_SORT,
            descending=descending and key in COLUMNS,
        )

    def query(self, **changes: Any) -> str:
        """The query string of these filters with ``changes`` (for links); defaults left out."""
        values = {
            "type": self.position_type,
            "tag": self.tag,
            "underlying": self.underlying,
            "status": self.status if self.status != "open" else "",
            "sort": ("-" if self.descending else "") + self.sort
            if (self.sort, self.descending) != (DEFAULT_SORT, False)
            else "",
        }
        values.update(changes)
        query = QueryDict(mutable=True)
        for name, value in values.items():
            if value:
                query[name] = value
        return query.urlencode()

    @property
    def active(self) -> bool:
        return bool(self.position_type or self.tag or self.underlying or self.status != "open")


def rows_sort(rows: list[dict[str, Any]], *, column: str, descending: bool) -> list[dict[str, Any]]:
    """Rows ordered by ``column`` (ties by symbol); rows without a value last in either direction."""
    getter = COLUMNS[column][1]
    present = [row for row in rows if getter(row) is not None]
    missing = [row for row in rows if getter(row) is None]
    present.sort(key=lambda row: row["symbol"])
    present.sort(key=getter, reverse=descending)  # stable: equal values stay in symbol order
    missing.sort(key=lambda row: row["symbol"])
    return present + missing


def positions_present(*, portfolio: Portfolio, filters: PositionFilters) -> list[dict[str, Any]]:
    """The filtered, sorted position items of ``portfolio`` (three queries: positions with tags,
    prices, the batch's metrics)."""
    positions = list(
        positions_for_portfolio(
            portfolio=portfolio,
            position_type=filters.position_type or None,
            tag=filters.tag or None,
            symbol=filters.underlying or None,
            status=filters.status,
        )
    )
    # The data API's items: the fields other apps add (prices, the batch's metrics) come with them.
    rows: list[dict[str, Any]] = list(positions_output(positions=positions))
    return rows_sort(rows, column=filters.sort, descending=filters.descending)


def columns_present(filters: PositionFilters) -> list[dict[str, Any]]:
    """The header cells: label, sort link and ``aria-sort`` state."""
    headers = []
    for key, (label, _getter) in COLUMNS.items():
        active = key == filters.sort
        next_descending = not filters.descending if active else key not in ("symbol", "position_type", "entry_date")
        headers.append(
            {
                "key": key,
                "label": label,
                "query": filters.query(sort=("-" if next_descending else "") + key),
                "aria_sort": ("descending" if filters.descending else "ascending") if active else "none",
                "active": active,
                "descending": active and filters.descending,
            }
        )
    return headers

"""``overview``: value, exposures, cash, leverage and P&L of a portfolio, and its totals by tag and underlying.

Exposures come from each position's market value (quantity × price × multiplier, shorts negative)
and delta exposure (stocks: market value; options: dollar delta); see ``analytics.engines.valuation``.
Positions without a price count in ``missing_prices`` and in none of the sums; expired options are
listed and not valued.

Leverage both ways, named plainly: ``gross_leverage`` = gross exposure (market values, options at
their premium) ÷ equity; ``delta_adjusted_leverage`` = delta-adjusted gross exposure ÷ equity, where
the delta-adjusted gross exposure is Σ over underlyings of |the underlying's net dollar delta| (a stock
and the options on it net within their underlying, e.g. a covered call; different underlyings never
net). ``leverage`` is kept for compatibility and is the gross one. Per underlying, ``by_underlying``
gives the share delta (shares of stock + Σ option delta × contracts × multiplier, in shares of that
underlying) and the dollar delta; there is no portfolio total in shares, which would add shares of
different underlyings.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any, NotRequired, TypedDict

import numpy as np

from analytics.engines import valuation
from analytics.results.base import AgentTool, MetricColumns, ResultSpec
from analytics.results.common import metric_column, rounded, rounded_each
from analytics.results.presentation import (
    Bar,
    BarChart,
    Cell,
    ReportSection,
    Table,
    finite,
    money,
    ratio,
    text,
)
from analytics.results.registry import register
from analytics.results.tooling import truncate
from core.typed_serializers import IsoDate

if TYPE_CHECKING:
    from analytics.models import PortfolioResult
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_UNDERLYINGS = 15


class TagTotals(TypedDict):
    """A tag's positions (a position with several tags counts in each)."""

    market_value: float | None
    gross: float | None
    count: int


class UnderlyingTotals(TypedDict):
    """The positions on one underlying (the stock and its options).

    delta_exposure: Dollar delta (stocks at market value, options at delta × contracts × multiplier × spot).
    share_delta: Shares of this underlying: stock held + Σ option delta × contracts × multiplier.
    dollar_delta: Same as delta_exposure, named as the Greeks name it.
    """

    market_value: float | None
    delta_exposure: float | None
    count: int
    share_delta: NotRequired[float | None]  # absent from results stored before they were added
    dollar_delta: NotRequired[float | None]


class OverviewPayload(TypedDict):
    """Exposures of a portfolio (USD; shorts negative).

    equity_balance: The user-supplied NAV (null when not set).
    market_value: Net market value of the priced positions.
    short_exposure: Sum of the negative market values (negative).
    delta_adjusted_exposure: Stocks at market value plus options at dollar delta.
    cash: Equity − long + |short| (short-sale proceeds held as cash); null without equity.
    leverage: Gross exposure / equity (the same as gross_leverage; kept for compatibility).
    gross_leverage: Gross exposure (options at premium) / equity; null without a positive equity.
    delta_adjusted_gross_exposure: Σ over underlyings of |net dollar delta of the underlying|.
    delta_adjusted_leverage: delta_adjusted_gross_exposure / equity; null without a positive equity.
    unrealised_pnl: Market value − cost basis of the priced positions.
    counts_by_type: Positions per type (LONG, SHORT, LC, LP, SC, SP).
    expired_options: Option symbols expired on or before as_of (not valued).
    missing_prices: Symbols without a price on or before as_of (left out of every sum).
    """

    equity_balance: float | None
    market_value: float | None
    long_exposure: float | None
    short_exposure: float | None
    gross_exposure: float | None
    net_exposure: float | None
    delta_adjusted_exposure: float | None
    options_exposure: float | None
    stock_exposure: float | None
    cash: float | None
    leverage: float | None
    gross_leverage: NotRequired[float | None]
    delta_adjusted_gross_exposure: NotRequired[float | None]
    delta_adjusted_leverage: NotRequired[float | None]
    cost_basis: float | None
    unrealised_pnl: float | None
    position_count: int
    counts_by_type: dict[str, int]
    by_tag: dict[str, TagTotals]
    by_underlying: dict[str, UnderlyingTotals]
    expired_options: list[str]
    missing_prices: list[str]


# --- the API answer beside the payload (the overview endpoint's original fields) ---------------------


class OverviewPortfolio(TypedDict):
    id: str
    name: str
    equity_balance: float | None


class OverviewExposures(TypedDict):
    long: float | None
    short: Annotated[float | None, "Negative."]
    gross: float | None
    net: float | None
    delta_adjusted: Annotated[float | None, "Net: Σ dollar delta."]
    delta_adjusted_gross: Annotated[float | None, "Σ over underlyings of |net dollar delta|."]
    options: float | None
    stocks: float | None


class OverviewPnl(TypedDict):
    unrealised: Annotated[float | None, "Market value − cost basis of open positions."]
    daily: float | None
    daily_return: Annotated[float | None, "Decimal (0.01 = 1%)."]
    cumulative: float | None
    as_of: Annotated[IsoDate | None, "Day of the snapshot the daily figures come from."]


class OverviewCounts(TypedDict):
    positions: int
    by_type: dict[str, int]


class OverviewApi(TypedDict):
    portfolio: OverviewPortfolio
    as_of: IsoDate
    value: Annotated[float | None, "Net market value of the positions."]
    equity_balance: float | None
    cash: Annotated[float | None, "equity − long + |short|."]
    leverage: Annotated[float | None, "gross / equity (= gross_leverage, kept for compatibility)."]
    gross_leverage: Annotated[float | None, "Gross exposure (options at premium) / equity."]
    delta_adjusted_leverage: Annotated[float | None, "Σ over underlyings of |net dollar delta| / equity."]
    exposures: OverviewExposures
    pnl: OverviewPnl
    counts: OverviewCounts
    missing_prices: list[str]
    expired_options: list[str]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class Overview(ResultSpec[OverviewPayload, None]):
    name = "overview"
    title = "Exposures"
    payload_type = OverviewPayload
    aliases = ("aggregation",)
    report_rank = 10
    method = "mark-to-market at last close"
    summary = "Value, cash, leverage, exposures, P&L and counts of a portfolio"
    description = (
        "From the stored overview result of the newest batch day (or the newest on or before ?as_of=) and "
        "the snapshot of that day for daily and cumulative P&L."
    )
    api_extra_type = OverviewApi
    tool = AgentTool(
        description=(
            "Portfolio value, cash, gross and delta-adjusted leverage, exposures (long, short, gross, net, "
            "delta-adjusted), unrealised P&L, position counts, exposure by tag and by underlying (with share and "
            "dollar delta), and the latest daily snapshot (daily and cumulative P&L)."
        ),
        limits={"underlyings": MAX_UNDERLYINGS},
        aliases=("get_portfolio_overview",),
    )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> OverviewPayload:
        state, positions = part.state, part.positions
        values = np.asarray(state["market_value"], dtype=float)
        if len(values) and not np.isfinite(values).any():
            raise RuntimeError(
                "no prices for any position on or before this date; run `python manage.py sync_market_data`"
            )
        priced = np.isfinite(values)
        mv = np.where(priced, values, 0.0)
        delta_exposure = np.where(priced, np.asarray(state["delta_exposure"], dtype=float), 0.0)
        totals = valuation.exposure_totals(
            market_value=mv,
            delta_exposure=delta_exposure,
            is_option=np.asarray(positions["is_option"], dtype=bool),
            equity_balance=part.info.equity_balance,
        )
        position_delta = np.asarray(state["position_delta"], dtype=float)
        share_delta = np.where(priced & np.isfinite(position_delta), position_delta, 0.0)
        by_tag = valuation.totals_by_group(groups=positions["tags"], market_value=mv, delta_exposure=delta_exposure)
        by_underlying = valuation.totals_by_group(
            groups=[[s] for s in positions["price_symbol"].tolist()],
            market_value=mv,
            delta_exposure=delta_exposure,
            share_delta=share_delta,
        )
        equity = part.info.equity_balance
        # Options net with their own underlying's stock (a covered call), different underlyings never net.
        delta_gross = float(sum(abs(t.delta_exposure) for t in by_underlying.values()))
        positive_equity = equity is not None and equity > 0
        counts = sorted(Counter(positions["position_type"].tolist()).items())
        expired = np.asarray(state["expired"], dtype=bool)
        cost = np.asarray(state["cost_basis"], dtype=float)
        pnl = np.asarray(state["unrealised_pnl"], dtype=float)
        return {
            "equity_balance": part.info.equity_balance,
            "market_value": rounded(mv.sum()),
            "long_exposure": rounded(totals.long),
            "short_exposure": rounded(totals.short),
            "gross_exposure": rounded(totals.gross),
            "net_exposure": rounded(totals.net),
            "delta_adjusted_exposure": rounded(totals.delta_adjusted),
            "options_exposure": rounded(totals.options),
            "stock_exposure": rounded(totals.stocks),
            "cash": rounded(totals.cash),
            "leverage": rounded(totals.leverage, 4),
            "gross_leverage": rounded(totals.leverage, 4),
            "delta_adjusted_gross_exposure": rounded(delta_gross),
            "delta_adjusted_leverage": rounded(delta_gross / equity, 4) if positive_equity and equity else None,
            "cost_basis": rounded(np.nansum(np.where(priced, cost, 0.0))),
            "unrealised_pnl": rounded(np.nansum(np.where(priced, pnl, 0.0))),
            "position_count": len(positions),
            "counts_by_type": {str(k): int(v) for k, v in counts},
            "by_tag": {
                tag: {"market_value": rounded(t.market_value), "gross": rounded(t.gross), "count": t.count}
                for tag, t in by_tag.items()
            },
            "by_underlying": _underlying_rows(by_underlying),
            "expired_options": sorted(positions["symbol"][expired].tolist()),
            "missing_prices": sorted(set(positions["price_symbol"][~priced & ~expired].tolist())),
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> dict[str, Any]:
        return {"positions": len(part.state)}

    def metric_columns(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: OverviewPayload, prepared: None
    ) -> MetricColumns:
        state = part.state
        return {
            "position_id": part.positions["position_key"].tolist(),
            "price_date": state["price_day"].tolist(),
            "price_source": state["price_source"].tolist(),
            "is_expired": np.asarray(state["expired"], dtype=bool).tolist(),
            "price": metric_column(state, "price"),
            "underlying_price": metric_column(state, "spot"),
            "market_value": metric_column(state, "market_value"),
            "cost_basis": metric_column(state, "cost_basis"),
            "unrealised_pnl": metric_column(state, "unrealised_pnl"),
            "delta_exposure": metric_column(state, "delta_exposure"),
        }

    def api_extra(self, result: PortfolioResult) -> OverviewApi:
        """The overview's own fields, from the payload and the snapshot of the same day or earlier."""
        from analytics.selectors import snapshots_for_portfolio

        snapshot = snapshots_for_portfolio(portfolio_id=result.portfolio_id, end=result.as_of).last()
        portfolio = result.portfolio
        p: OverviewPayload = result.payload
        return {
            "portfolio": {
                "id": str(portfolio.pk),
                "name": portfolio.name,
                "equity_balance": _float(portfolio.equity_balance),
            },
            "as_of": result.as_of.isoformat(),
            "value": p["market_value"],
            "equity_balance": p["equity_balance"],
            "cash": p["cash"],
            "leverage": p["leverage"],
            "gross_leverage": p.get("gross_leverage", p["leverage"]),
            "delta_adjusted_leverage": p.get("delta_adjusted_leverage"),
            "exposures": {
                "long": p["long_exposure"],
                "short": p["short_exposure"],
                "gross": p["gross_exposure"],
                "net": p["net_exposure"],
                "delta_adjusted": p["delta_adjusted_exposure"],
                "delta_adjusted_gross": p.get("delta_adjusted_gross_exposure"),
                "options": p["options_exposure"],
                "stocks": p["stock_exposure"],
            },
            "pnl": {
                "unrealised": p["unrealised_pnl"],
                "daily": snapshot.daily_pnl if snapshot else None,
                "daily_return": snapshot.daily_return if snapshot else None,
                "cumulative": snapshot.cumulative_pnl if snapshot else None,
                "as_of": snapshot.as_of.isoformat() if snapshot else None,
            },
            "counts": {"positions": p["position_count"], "by_type": p["counts_by_type"]},
            "missing_prices": p["missing_prices"],
            "expired_options": p["expired_options"],
        }

    def tool_data(
        self, payload: OverviewPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from analytics.selectors import snapshot_latest

        data: dict[str, Any] = {
            key: payload.get(key)
            for key in (
                "equity_balance",
                "market_value",
                "long_exposure",
                "short_exposure",
                "gross_exposure",
                "net_exposure",
                "delta_adjusted_exposure",
                "options_exposure",
                "stock_exposure",
                "cash",
                "leverage",
                "gross_leverage",
                "delta_adjusted_gross_exposure",
                "delta_adjusted_leverage",
                "cost_basis",
                "unrealised_pnl",
                "position_count",
                "counts_by_type",
                "by_tag",
            )
        }
        underlyings = sorted(
            payload["by_underlying"].items(),
            key=lambda item: -abs(item[1]["delta_exposure"] or item[1]["market_value"] or 0.0),
        )
        kept, marker = truncate(underlyings, MAX_UNDERLYINGS)
        data["by_underlying"] = dict(kept)
        data["by_underlying_truncated"] = marker["truncated"]
        data["expired_options"] = payload["expired_options"]
        data["missing_prices"] = payload["missing_prices"]
        snapshot = snapshot_latest(portfolio_id=portfolio.pk)
        from analytics.results.snapshots import snapshot_tool_row

        extra = {
            "snapshot": snapshot_tool_row(snapshot) if snapshot is not None else None,
            "truncated": marker["truncated"],
            "currency": portfolio.currency,
        }
        return data, extra

    def report(self, payload: OverviewPayload) -> ReportSection:
        section = ReportSection(
            facts=[
                ("Equity balance", money(payload["equity_balance"])),
                ("Market value (net)", money(payload["market_value"])),
                ("Long exposure", money(payload["long_exposure"])),
                ("Short exposure", money(payload["short_exposure"])),
                ("Gross exposure", money(payload["gross_exposure"])),
                ("Net exposure", money(payload["net_exposure"])),
                ("Delta-adjusted exposure", money(payload["delta_adjusted_exposure"])),
                ("Stock exposure", money(payload["stock_exposure"])),
                ("Options exposure", money(payload["options_exposure"])),
                ("Cash", money(payload["cash"])),
                ("Gross leverage (gross / equity)", ratio(payload.get("gross_leverage", payload["leverage"]))),
                ("Delta-adjusted gross exposure", money(payload.get("delta_adjusted_gross_exposure"))),
                ("Delta-adjusted leverage", ratio(payload.get("delta_adjusted_leverage"))),
                ("Cost basis", money(payload["cost_basis"])),
                ("Unrealised P&L", money(payload["unrealised_pnl"])),
                ("Positions", text(payload["position_count"])),
            ]
        )
        counts = payload["counts_by_type"]
        if counts:
            section.facts.append(("Positions by type", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))
        if payload["by_tag"]:
            rows: list[list[Cell]] = [
                [tag, money(v["market_value"]), money(v["gross"]), text(v["count"])]
                for tag, v in sorted(payload["by_tag"].items(), key=lambda item: -abs(item[1]["gross"] or 0))
            ]
            section.tables.append(Table(["Tag", "Market value", "Gross", "Positions"], rows, title="By tag"))
        notes = []
        if payload["expired_options"]:
            notes.append("Expired options (not priced): " + ", ".join(payload["expired_options"]))
        if payload["missing_prices"]:
            notes.append("No price for: " + ", ".join(payload["missing_prices"]))
        section.note = " ".join(notes)
        items = [
            ("Long", payload["long_exposure"]),
            ("Short", payload["short_exposure"]),
            ("Gross", payload["gross_exposure"]),
            ("Net", payload["net_exposure"]),
            ("Delta-adjusted", payload["delta_adjusted_exposure"]),
        ]
        bars = [
            Bar(label, value, "positive" if value >= 0 else "negative")
            for label, raw in items
            if (value := finite(raw)) is not None
        ]
        if bars:
            section.charts.append(BarChart(key="exposures", title="Exposures (USD)", bars=bars, unit="money"))
        return section


SPEC = register(Overview())


def _underlying_rows(by_underlying: dict[str, valuation.GroupTotals]) -> dict[str, UnderlyingTotals]:
    """The payload's ``by_underlying``: each group's sums rounded (USD to the cent, shares to 4 decimals), a
    column at a time; ``dollar_delta`` repeats ``delta_exposure``."""
    totals = list(by_underlying.values())
    delta = rounded_each([t.delta_exposure for t in totals])
    return {
        symbol: {"market_value": mv, "delta_exposure": dd, "count": t.count, "share_delta": sd, "dollar_delta": dd}
        for symbol, t, mv, dd, sd in zip(
            by_underlying,
            totals,
            rounded_each([t.market_value for t in totals]),
            delta,
            rounded_each([t.share_delta for t in totals], 4),
            strict=True,
        )
    }

"""``greeks``: Black–Scholes–Merton Greeks of every option, per share and per position, and their totals.

Per-share Greeks (``delta`` … ``rho``): theta per calendar day, vega per vol point, rho per 1% of
rate. Position Greeks multiply by signed quantity × multiplier; dollar delta = delta × quantity ×
multiplier × spot. Each row carries the inputs that produced it (spot, strike, years to expiry,
implied vol and its source, rate, dividend yield). Expired options are listed, not priced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from analytics.results.base import AgentTool, MetricColumns, Need, ResultSpec
from analytics.results.common import GREEK_NAMES, finite, metric_column, rounded, rounded_list
from analytics.results.presentation import ReportSection, Table, money, num, pct, quantity, text
from analytics.results.registry import register
from analytics.results.tooling import abs_key, truncate
from analytics.services import compute
from core.typed_serializers import IsoDate

if TYPE_CHECKING:
    from analytics.services.columns import Columns
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_GREEK_POSITIONS = 50


class GreekTotals(TypedDict):
    """Sums over the live options (USD except delta, in shares; gamma per $1 of the underlying).

    stock_share_delta: Shares of stock held (delta 1 each), apart from the options' delta.
    """

    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    dollar_delta: float | None
    dollar_gamma: float | None
    stock_share_delta: float | None


class GreeksPosition(TypedDict):
    """One option: its Greeks per share and per position, and the inputs that produced them."""

    position_id: str
    symbol: str
    underlying: str
    position_type: str
    quantity: float
    strike: float | None
    expiration: IsoDate | None
    expired: bool
    spot: float | None
    years_to_expiry: float | None
    implied_vol: float | None
    implied_vol_source: str
    rate: float
    div_yield: float
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    position_delta: float | None
    position_gamma: float | None
    position_theta: float | None
    position_vega: float | None
    position_rho: float | None
    dollar_delta: float | None
    dollar_gamma: float | None


class GreeksPayload(TypedDict):
    totals: GreekTotals
    positions: list[GreeksPosition]


TOOL_POSITION_FIELDS = (
    "position_id", "symbol", "underlying", "position_type", "quantity", "strike", "expiration", "expired", "spot",
    "years_to_expiry", "implied_vol", "implied_vol_source", "delta", "position_delta", "position_gamma",
    "position_theta", "position_vega", "position_rho", "dollar_delta", "dollar_gamma",
)  # fmt: skip
METRIC_GREEKS = (*GREEK_NAMES, *(f"position_{n}" for n in GREEK_NAMES), "dollar_delta", "dollar_gamma")


class Greeks(ResultSpec[GreeksPayload, None]):
    name = "greeks"
    title = "Options Greeks"
    payload_type = GreeksPayload
    depends_on = ("overview",)
    needs = frozenset({Need.SYMBOL_STAGE})
    method = "Black-Scholes-Merton (analytic)"
    lookback_days = compute.REALISED_VOL_DAYS
    summary = "Portfolio and per-position Greeks with their inputs"
    description = (
        "Black–Scholes–Merton Greeks per option (per share) and per position, with spot, strike, years to expiry, "
        "implied vol and its source, rate and dividend yield of each row."
    )
    tool = AgentTool(
        description=(
            "Portfolio option Greeks (delta, gamma, theta per day, vega per vol point, rho per 1% rate, dollar delta "
            "and gamma) and the option positions with the largest dollar delta, with their pricing inputs."
        ),
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_GREEK_POSITIONS, "default": 10}},
        limits={"rows": MAX_GREEK_POSITIONS},
    )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> GreeksPayload:
        """Portfolio Greeks (sums over live options; stock shares in ``stock_share_delta``) and per-option rows."""
        positions, state = part.positions, part.state
        rate, div_yield = chunk.market.rate, chunk.market.div_yield
        options = np.asarray(positions["is_option"], dtype=bool)
        live = options & ~np.asarray(state["expired"], dtype=bool)

        def total(name: str, digits: int, mask: np.ndarray = live) -> float | None:
            return rounded(np.nansum(np.asarray(state[name], dtype=float)[mask]), digits)

        totals: GreekTotals = {
            "delta": total("position_delta", 4),
            "gamma": total("position_gamma", 6),
            "theta": total("position_theta", 2),
            "vega": total("position_vega", 2),
            "rho": total("position_rho", 2),
            "dollar_delta": total("dollar_delta", 2),
            "dollar_gamma": total("dollar_gamma", 2),
            "stock_share_delta": total("position_delta", 4, ~options),
        }
        idx = np.flatnonzero(options)

        def take(frame: Columns, name: str) -> list[Any]:
            return frame[name][idx].tolist()

        def col(frame: Columns, name: str, digits: int) -> list[float | None]:
            return rounded_list(np.asarray(frame[name], dtype=float)[idx], digits)

        strike = [finite(v) for v in take(positions, "strike")]
        spot, years, vol = col(state, "spot", 4), col(state, "years", 6), col(state, "vol", 6)
        per_share = {name: col(state, name, 8) for name in GREEK_NAMES}
        per_position = {name: col(state, f"position_{name}", 6) for name in GREEK_NAMES}
        dollar_delta, dollar_gamma = col(state, "dollar_delta", 2), col(state, "dollar_gamma", 2)
        rows: list[GreeksPosition] = [
            {
                "position_id": position_id,
                "symbol": symbol,
                "underlying": underlying,
                "position_type": position_type,
                "quantity": qty,
                "strike": strike[k],
                "expiration": expiration.isoformat() if expiration else None,
                "expired": bool(expired),
                "spot": spot[k],
                "years_to_expiry": years[k],
                "implied_vol": vol[k],
                "implied_vol_source": vol_source,
                "rate": rate,
                "div_yield": div_yield,
                "delta": per_share["delta"][k],
                "gamma": per_share["gamma"][k],
                "theta": per_share["theta"][k],
                "vega": per_share["vega"][k],
                "rho": per_share["rho"][k],
                "position_delta": per_position["delta"][k],
                "position_gamma": per_position["gamma"][k],
                "position_theta": per_position["theta"][k],
                "position_vega": per_position["vega"][k],
                "position_rho": per_position["rho"][k],
                "dollar_delta": dollar_delta[k],
                "dollar_gamma": dollar_gamma[k],
            }
            for k, (position_id, symbol, underlying, position_type, qty, expiration, expired, vol_source) in enumerate(
                zip(
                    take(positions, "position_key"),
                    take(positions, "symbol"),
                    take(positions, "price_symbol"),
                    take(positions, "position_type"),
                    take(positions, "quantity"),
                    take(positions, "expiration"),
                    take(state, "expired"),
                    take(state, "vol_source"),
                    strict=True,
                )
            )
        ]
        return {"totals": totals, "positions": rows}

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> dict[str, Any]:
        return {
            "rate": chunk.market.rate,
            "div_yield": chunk.market.div_yield,
            "vol_fallback": "realised volatility of the underlying, 252 daily log returns",
        }

    def metric_columns(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: GreeksPayload, prepared: None
    ) -> MetricColumns:
        state, positions, market = part.state, part.positions, chunk.market
        vol, years, spot = metric_column(state, "vol"), metric_column(state, "years"), metric_column(state, "spot")
        strike = metric_column(positions, "strike")
        sources = state["vol_source"].tolist()
        return {
            "position_id": state["position_id"].tolist(),
            "implied_vol": vol,
            "implied_vol_source": sources,
            "years_to_expiry": years,
            **{name: metric_column(state, name) for name in METRIC_GREEKS},
            "greeks_inputs": [
                {
                    "spot": spot[k],
                    "strike": strike[k],
                    "years_to_expiry": years[k],
                    "implied_vol": vol[k],
                    "implied_vol_source": sources[k],
                    "rate": market.rate,
                    "div_yield": market.div_yield,
                }
                if is_option
                else {}
                for k, is_option in enumerate(np.asarray(positions["is_option"], dtype=bool).tolist())
            ],
        }

    def tool_data(
        self, payload: GreeksPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        positions = sorted(payload["positions"], key=abs_key("dollar_delta"))
        kept, marker = truncate(positions, int(args.get("limit", 10)))
        rows = [{key: row[key] for key in TOOL_POSITION_FIELDS} for row in kept]  # type: ignore[literal-required]
        return {"totals": payload["totals"], "positions": rows}, marker

    def report(self, payload: GreeksPayload) -> ReportSection:
        totals = payload["totals"]
        section = ReportSection(
            facts=[
                ("Delta (shares)", num(totals["delta"])),
                ("Gamma", num(totals["gamma"], decimals=4)),
                ("Theta ($/day)", money(totals["theta"], decimals=2)),
                ("Vega ($/vol point)", money(totals["vega"], decimals=2)),
                ("Rho ($/1% rate)", money(totals["rho"], decimals=2)),
                ("Dollar delta", money(totals["dollar_delta"])),
                ("Dollar gamma", money(totals["dollar_gamma"])),
            ]
        )
        rows: list[list[Any]] = []
        for p in payload["positions"]:
            if p["expired"]:
                rows.append([text(p["symbol"]), text(p["position_type"]), quantity(p["quantity"]), *(["expired"] * 9)])
                continue
            rows.append(
                [
                    text(p["symbol"]),
                    text(p["position_type"]),
                    quantity(p["quantity"]),
                    money(p["strike"], decimals=2),
                    text(p["expiration"]),
                    money(p["spot"], decimals=2),
                    (pct(p["implied_vol"]), " (", text(p["implied_vol_source"]), ")"),
                    num(p["delta"], decimals=3),
                    num(p["position_delta"]),
                    num(p["position_gamma"], decimals=4),
                    money(p["position_theta"], decimals=2),
                    money(p["dollar_delta"]),
                ]
            )
        if rows:
            headers = ["Symbol", "Type", "Qty", "Strike", "Expiry", "Spot", "Implied vol (source)", "Delta/share"]
            section.tables.append(Table([*headers, "Position delta", "Position gamma", "Theta/day", "$ delta"], rows))
        return section


SPEC = register(Greeks())

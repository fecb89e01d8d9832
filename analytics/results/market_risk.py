"""``market_risk``: P&L of the portfolio for market moves of ±5/10/20%, options fully repriced.

A stock moves by its univariate beta to SPY × the market move (no price ever ≤ 0); an option is
repriced (BSM) at its underlying's shocked spot, never delta-approximated. A volatility index (VIX)
moves by its own log-level sensitivity to the market, and its options are repriced by Black-76 on
the index's forward (``analytics.engines.volatility_index``), whatever its fitted beta.
The API answer adds the portfolio's market beta from the factor exposures of the same day or earlier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import numpy as np

from analytics.engines import scenarios
from analytics.results.base import AgentTool, Need, ResultSpec
from analytics.results.common import PositionKey, position_keys, rounded
from analytics.results.presentation import ReportSection, Table, money, pct, text
from analytics.results.registry import register
from analytics.results.tooling import truncate
from analytics.services import compute
from core.typed_serializers import IsoDate
from marketdata.factors import FACTOR_LOOKBACK_DAYS

if TYPE_CHECKING:
    from analytics.models import PortfolioResult
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_SCENARIOS = 50
SCENARIO_NAMES = {s: f"Market {'+' if s > 0 else '−'}{abs(s):.0%}" for s in scenarios.MARKET_SHOCKS}


class MarketScenario(TypedDict):
    """One market move.

    shock: The market's total return (0.05 = +5%).
    pnl_by_position: USD per position, in the order of the payload's positions.
    """

    id: str
    name: str
    shock: float
    pnl: float | None
    pnl_pct_of_equity: float | None
    pnl_by_position: list[float]


class MarketRiskPayload(TypedDict):
    positions: list[PositionKey]
    scenarios: list[MarketScenario]
    beta: Annotated[str, "Which beta moves the stocks."]


class MarketBeta(TypedDict):
    beta: Annotated[float | None, "Multivariate market beta of the portfolio."]
    univariate: Annotated[float | None, "Univariate beta to SPY."]
    as_of: IsoDate


class MarketRiskApi(TypedDict):
    market_beta: Annotated[MarketBeta | None, "From the factor_exposures result; null when factors were not computed."]


class MarketRisk(ResultSpec[MarketRiskPayload, np.ndarray]):
    name = "market_risk"
    title = "Market scenarios"
    payload_type = MarketRiskPayload
    aliases = ("market_scenarios",)
    depends_on = ("greeks", "factor_exposures")
    needs = frozenset({Need.FACTOR_MODEL})
    method = "univariate market beta; options fully repriced (BSM)"
    lookback_days = FACTOR_LOOKBACK_DAYS
    summary = "Portfolio P&L for market moves of ±5/10/20% and the market beta"
    description = (
        "The stored market scenarios (options repriced, not delta-approximated) and the portfolio's market beta from "
        "its factor_exposures result of the same day or earlier (null if not computed)."
    )
    api_extra_type = MarketRiskApi
    tool = AgentTool(
        description="P&L of the portfolio under simple market moves (e.g. market ±5%, ±10%), in USD and % of equity.",
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_SCENARIOS, "default": 20}},
        limits={"rows": MAX_SCENARIOS},
        aliases=("get_market_scenarios",),
    )

    def prepare(self, chunk: ChunkContext) -> np.ndarray:
        """P&L (shocks × positions) of every position of the chunk: stocks by univariate beta, options repriced."""
        book = compute.position_book(chunk.positions, chunk.state, chunk.market.rate, chunk.market.div_yield)
        beta = chunk.state["market_beta"].to_numpy(dtype=float)
        pnl = scenarios.scenario_pnl(shocks=np.array(scenarios.MARKET_SHOCKS), book=book, market_beta=beta)
        return np.where(np.isfinite(pnl), pnl, 0.0)

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: np.ndarray) -> MarketRiskPayload:
        pnl = prepared[:, part.rows]
        equity = part.info.equity_balance
        totals = pnl.sum(axis=1)
        by_position = np.round(pnl, 2).tolist()
        rows: list[MarketScenario] = [
            {
                "id": f"market_{'up' if shock > 0 else 'down'}_{round(abs(shock) * 100)}",
                "name": SCENARIO_NAMES[shock],
                "shock": shock,
                "pnl": rounded(totals[k]),
                "pnl_pct_of_equity": rounded(totals[k] / equity, 6) if equity else None,
                "pnl_by_position": by_position[k],
            }
            for k, shock in enumerate(scenarios.MARKET_SHOCKS)
        ]
        return {"positions": position_keys(part.positions), "scenarios": rows, "beta": "univariate market beta (252d)"}

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: np.ndarray) -> dict[str, Any]:
        return {"shocks": list(scenarios.MARKET_SHOCKS)}

    def api_extra(self, result: PortfolioResult) -> MarketRiskApi:
        from analytics.results.factor_exposures import SPEC as FACTORS

        factors = FACTORS.latest(portfolio_id=result.portfolio_id, as_of=result.as_of)
        if factors is None:
            return {"market_beta": None}
        payload = factors.payload
        return {
            "market_beta": {
                "beta": payload["portfolio_betas"].get("market"),
                "univariate": payload["market_beta_univariate"],
                "as_of": factors.as_of.isoformat(),
            }
        }

    def tool_data(
        self, payload: MarketRiskPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        rows = [{k: v for k, v in s.items() if not k.endswith("_by_position")} for s in payload["scenarios"]]
        kept, marker = truncate(rows, int(args.get("limit", 20)))
        return {"scenarios": kept}, marker

    def report(self, payload: MarketRiskPayload) -> ReportSection:
        rows = [
            [text(s["name"]), pct(s["shock"]), money(s["pnl"]), pct(s["pnl_pct_of_equity"])]
            for s in payload["scenarios"]
        ]
        return ReportSection(tables=[Table(["Scenario", "Market move", "P&L", "% of equity"], rows)])


SPEC = register(MarketRisk())

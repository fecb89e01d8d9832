"""``risk_decomposition``: the portfolio's predicted volatility split into factor and specific risk.

From the day's factor model (the symbol stage's betas, residual vols and factor covariance, by the
estimator of ``RISK_COVARIANCE_ESTIMATOR``, named in ``covariance_estimator`` and the provenance)
and each position's delta exposure (market value for a stock, dollar delta for an option):
``analytics.engines.risk_model.decompose``. All volatilities are annualised (√252 × daily) USD, and as a
fraction of the basis (the equity balance when set, else the gross exposure, as ``factor_exposures``).

Euler: each factor's contribution X_k (Σ X)_k / σ plus the specific contribution sum to the total;
each position's component risk (its marginal risk × its delta exposure) sums to the total too.
Positions on one symbol share its specific shock (a stock and its hedging put offset). A position
without usable betas carries no factor risk (as in parametric VaR); one without a residual vol no
specific risk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from analytics.engines import covariance, risk_model, var
from analytics.results.base import AgentTool, Need, ResultSpec
from analytics.results.common import rounded, rounded_list
from analytics.results.presentation import Bar, BarChart, ReportSection, Table, finite, money, num, pct, text
from analytics.results.registry import register
from analytics.results.tooling import abs_key, truncate
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_POSITIONS = 50


class FactorRisk(TypedDict):
    """One factor's share of the predicted volatility.

    exposure: The portfolio's dollar exposure to the factor (USD per unit of factor return).
    factor_vol: The factor's own annualised volatility (decimal).
    contribution: Euler contribution to the total volatility (USD, annualised); they sum with the
        specific contribution to the total.
    contribution_pct: contribution / total volatility.
    """

    factor: str
    exposure: float | None
    factor_vol: float | None
    contribution: float | None
    contribution_pct: float | None


class PositionRisk(TypedDict):
    """One position's marginal and component risk.

    delta_exposure: USD (market value, or dollar delta for an option).
    marginal: ∂σ/∂(delta exposure): USD of annual volatility per USD of exposure.
    component: delta_exposure × marginal (USD, annualised); the components sum to the total.
    component_factor: The factor part of the component (USD).
    component_specific: The specific part of the component (USD).
    component_pct: component / total volatility.
    """

    position_id: str
    symbol: str
    delta_exposure: float | None
    marginal: float | None
    component: float | None
    component_factor: float | None
    component_specific: float | None
    component_pct: float | None


class RiskDecompositionPayload(TypedDict):
    """Predicted volatility (annualised, USD and fraction of the basis) and its Euler decomposition.

    covariance_estimator: equal_weighted, ewma or ledoit_wolf (analytics.engines.covariance).
    basis: The denominator of the *_pct figures: equity_balance, else gross_exposure (USD).
    total_vol: Annualised predicted volatility of the portfolio's P&L (USD).
    factor_vol: Its factor part, √(Xᵀ Σ X) annualised (USD).
    specific_vol: Its specific part (USD).
    factor_share: Factor variance / total variance.
    specific_contribution: The specific variance / total volatility (USD): with the factors'
        contributions it sums to total_vol.
    """

    covariance_estimator: str
    basis_name: str
    basis: float | None
    total_vol: float | None
    total_vol_pct: float | None
    factor_vol: float | None
    factor_vol_pct: float | None
    specific_vol: float | None
    specific_vol_pct: float | None
    factor_share: float | None
    specific_contribution: float | None
    factors: list[FactorRisk]
    positions: list[PositionRisk]


def book_inputs(part: PortfolioSlice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(delta exposure N, betas N × K with unusable rows zeroed, specific covariance N × N daily USD²) of a
    portfolio, as parametric VaR takes them: positions on one symbol share its idiosyncratic shock."""
    betas = np.asarray(part.state["beta_matrix"], dtype=float)
    exposure = np.nan_to_num(np.asarray(part.state["delta_exposure"], dtype=float))
    usable = np.all(np.isfinite(betas), axis=1)
    betas = np.where(usable[:, None], np.nan_to_num(betas), 0.0)
    residual = np.asarray(part.state["residual_vol"], dtype=float)
    specific = var.specific_covariance(
        dollar_exposure=exposure,
        residual_vol=np.where(np.isfinite(residual), residual, 0.0),
        group=part.positions["symbol_code"],
    )
    return exposure, betas, specific


def basis_of(part: PortfolioSlice) -> tuple[str, float]:
    """The denominator of percentages: the equity balance when set, else the gross exposure (USD)."""
    if part.info.equity_balance:
        return "equity_balance", float(part.info.equity_balance)
    market_value = np.asarray(part.state["market_value"], dtype=float)
    return "gross_exposure", float(np.abs(np.nan_to_num(market_value)).sum())


def _ratio(value: float, basis: float, digits: int = 6) -> float | None:
    return rounded(value / basis, digits) if basis else None


class RiskDecomposition(ResultSpec[RiskDecompositionPayload, None]):
    name = "risk_decomposition"
    title = "Risk decomposition"
    payload_type = RiskDecompositionPayload
    depends_on = ("greeks", "factor_exposures")
    needs = frozenset({Need.FACTOR_MODEL})
    method = "factor model: Euler decomposition of predicted volatility (annualised, sqrt(252))"
    lookback_days = FACTOR_LOOKBACK_DAYS
    summary = "Predicted volatility split into factor and specific risk, per factor and per position"
    description = (
        "Annualised predicted volatility (USD and % of equity) from the factor model, split into factor and "
        "specific risk; each factor's Euler contribution and each position's marginal and component risk (sums "
        "reconcile to the total)."
    )
    tool = AgentTool(
        description=(
            "Predicted annual volatility of the portfolio (USD and fraction of equity) split into factor and "
            "specific risk, each factor's contribution and the positions contributing most (marginal and "
            "component risk)."
        ),
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_POSITIONS, "default": 10}},
        limits={"rows": MAX_POSITIONS},
    )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> RiskDecompositionPayload:
        stage = chunk.stage
        assert stage is not None  # the runner skips it without the factor model
        exposure, betas, specific = book_inputs(part)
        result = risk_model.decompose(
            delta_exposure=exposure, betas=betas, factor_cov=stage.factor_cov_matrix, specific_cov=specific
        )
        basis_name, basis = basis_of(part)
        total = result.total_vol
        factor_vols = np.sqrt(np.clip(np.diag(stage.factor_cov_matrix), 0.0, None) * risk_model.PERIODS_PER_YEAR)
        factors: list[FactorRisk] = [
            {
                "factor": name,
                "exposure": rounded(result.factor_exposure[k]),
                "factor_vol": rounded(factor_vols[k], 6),
                "contribution": rounded(result.factor_contribution[k]),
                "contribution_pct": rounded(result.factor_contribution[k] / total, 6) if total else None,
            }
            for k, name in enumerate(FACTOR_NAMES)
        ]
        share = (lambda v: np.round(v / total, 6).tolist()) if total else (lambda v: [None] * len(v))
        positions: list[PositionRisk] = [
            {
                "position_id": pid,
                "symbol": symbol,
                "delta_exposure": e,
                "marginal": m,
                "component": c,
                "component_factor": cf,
                "component_specific": cs,
                "component_pct": p,
            }
            for pid, symbol, e, m, c, cf, cs, p in zip(
                part.positions["position_key"].tolist(),
                part.positions["symbol"].tolist(),
                rounded_list(exposure),
                rounded_list(result.marginal, 6),
                rounded_list(result.component),
                rounded_list(result.component_factor),
                rounded_list(result.component_specific),
                share(result.component),
                strict=True,
            )
        ]
        return {
            "covariance_estimator": stage.covariance_estimator,
            "basis_name": basis_name,
            "basis": rounded(basis),
            "total_vol": rounded(total),
            "total_vol_pct": _ratio(total, basis),
            "factor_vol": rounded(result.factor_vol),
            "factor_vol_pct": _ratio(result.factor_vol, basis),
            "specific_vol": rounded(result.specific_vol),
            "specific_vol_pct": _ratio(result.specific_vol, basis),
            "factor_share": rounded(result.factor_vol**2 / total**2, 6) if total else None,
            "specific_contribution": rounded(result.specific_contribution),
            "factors": factors,
            "positions": positions,
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> dict[str, Any]:
        stage = chunk.stage
        estimator = stage.covariance_estimator if stage is not None else "equal_weighted"
        lam = stage.ewma_lambda if stage is not None else covariance.RISKMETRICS_LAMBDA
        return {
            "covariance_estimator": estimator,
            "covariance": covariance.describe(estimator, lam),
            "periods_per_year": risk_model.PERIODS_PER_YEAR,
        }

    def tool_data(
        self, payload: RiskDecompositionPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ranked = sorted(payload["positions"], key=abs_key("component"))
        kept, marker = truncate(ranked, int(args.get("limit", 10)))
        data = {k: v for k, v in payload.items() if k != "positions"}
        data["positions"] = kept
        return data, marker

    def report(self, payload: RiskDecompositionPayload) -> ReportSection:
        section = ReportSection(
            facts=[
                ("Predicted volatility (annual)", money(payload["total_vol"])),
                ("Predicted volatility / " + payload["basis_name"].replace("_", " "), pct(payload["total_vol_pct"])),
                ("Factor volatility", money(payload["factor_vol"])),
                ("Specific volatility", money(payload["specific_vol"])),
                ("Factor share of variance", pct(payload["factor_share"])),
                ("Covariance estimator", text(payload["covariance_estimator"])),
            ],
            tables=[
                Table(
                    ["Factor", "Exposure", "Factor vol", "Contribution", "% of total"],
                    [
                        [
                            text(f["factor"]),
                            money(f["exposure"]),
                            pct(f["factor_vol"]),
                            money(f["contribution"]),
                            pct(f["contribution_pct"]),
                        ]
                        for f in payload["factors"]
                    ]
                    + [[text("specific"), text(""), text(""), money(payload["specific_contribution"]), text("")]],
                    title="Factor contributions (Euler; they sum to the total)",
                )
            ],
            charts=[
                BarChart(
                    key="risk_contributions",
                    title="Contribution to predicted volatility (USD)",
                    unit="money",
                    horizontal=True,
                    bars=[
                        Bar(f["factor"], finite(f["contribution"]) or 0.0)
                        for f in payload["factors"]
                        if f["contribution"] is not None
                    ]
                    + [Bar("specific", finite(payload["specific_contribution"]) or 0.0)],
                )
            ],
        )
        top = sorted(payload["positions"], key=abs_key("component"))[:10]
        if top:
            rows = [
                [
                    text(p["symbol"]),
                    money(p["delta_exposure"]),
                    num(p["marginal"], 4),
                    money(p["component"]),
                    pct(p["component_pct"]),
                ]
                for p in top
            ]
            headers = ["Symbol", "Delta exposure", "Marginal risk", "Component risk", "% of total"]
            section.tables.append(Table(headers, rows, title="Largest position contributions"))
        return section


SPEC = register(RiskDecomposition())

"""``tracking_error``: ex-ante tracking error and active risk against the portfolio's benchmark.

The benchmark is ``Portfolio.benchmark_symbol`` (default SPY; any symbol with stored prices); it is in
the day's symbol stage with the held symbols and factor proxies, so it has betas and a residual vol
from the same factor model. Active return = portfolio return (delta exposures / basis, the equity
balance when set, else the gross exposure) − benchmark return;
``analytics.engines.risk_model.tracking_error`` gives its annualised (√252) standard deviation, split
into factor (active betas × factor covariance, Euler per factor) and specific risk (the book's own
specific risk and the benchmark's, a position on the benchmark symbol sharing its shock). Figures
are fractions of the basis (0.05 = 5 % a year); ``tracking_error_usd`` is the same in USD.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from analytics.engines import covariance, risk_model
from analytics.results.base import AgentTool, Need, ResultSpec
from analytics.results.common import rounded
from analytics.results.presentation import Bar, BarChart, ReportSection, Table, finite, money, num, pct, text
from analytics.results.registry import register
from analytics.results.risk_decomposition import basis_of, book_inputs
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice


class ActiveFactor(TypedDict):
    """One factor's active exposure.

    portfolio_beta: Dollar exposure to the factor / basis.
    benchmark_beta: The benchmark's beta to the factor.
    active_beta: portfolio_beta − benchmark_beta.
    contribution: Euler contribution to the tracking error (fraction of the basis, annualised); with
        the specific contribution they sum to the tracking error.
    contribution_pct: contribution / tracking error.
    """

    factor: str
    portfolio_beta: float | None
    benchmark_beta: float | None
    active_beta: float | None
    contribution: float | None
    contribution_pct: float | None


class TrackingErrorPayload(TypedDict):
    """Ex-ante tracking error against the benchmark, annualised, as a fraction of the basis.

    benchmark_symbol: Portfolio.benchmark_symbol on the day.
    basis_name: equity_balance, else gross_exposure: the portfolio value weights are taken on.
    tracking_error: √(active variance × 252), fraction of the basis (0.05 = 5% a year).
    tracking_error_usd: tracking_error × basis (USD).
    factor_te: The factor part (active betas), fraction of the basis.
    specific_te: The specific part, fraction of the basis.
    specific_contribution: Specific variance / tracking error: with the factors' contributions it sums
        to the tracking error.
    """

    benchmark_symbol: str
    covariance_estimator: str
    basis_name: str
    basis: float | None
    tracking_error: float | None
    tracking_error_usd: float | None
    factor_te: float | None
    specific_te: float | None
    specific_contribution: float | None
    factors: list[ActiveFactor]


class TrackingErrorKind(ResultSpec[TrackingErrorPayload, None]):
    name = "tracking_error"
    title = "Tracking error"
    payload_type = TrackingErrorPayload
    depends_on = ("greeks", "factor_exposures")
    needs = frozenset({Need.FACTOR_MODEL})
    method = "factor model: ex-ante tracking error against Portfolio.benchmark_symbol (annualised, sqrt(252))"
    lookback_days = FACTOR_LOOKBACK_DAYS
    summary = "Ex-ante tracking error, active betas and active factor contributions against the benchmark"
    description = (
        "Predicted annual tracking error against the portfolio's benchmark symbol (fraction of equity and USD), "
        "split into factor and specific risk, with the active beta and Euler contribution of each factor."
    )
    tool = AgentTool(
        description=(
            "Ex-ante (predicted) annual tracking error of the portfolio against its benchmark (fraction of equity "
            "and USD), its factor and specific parts, and each factor's active beta and contribution."
        )
    )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> TrackingErrorPayload:
        stage = chunk.stage
        assert stage is not None  # the runner skips it without the factor model
        benchmark = part.info.benchmark_symbol
        bench_betas = stage.betas_for([benchmark])[0]
        if not np.isfinite(bench_betas).all():
            raise ValueError(f"the benchmark {benchmark} has no factor betas on this day (too little price history)")
        bench_residual = float(stage.fit.residual_vol.get(benchmark, math.nan))
        exposure, betas, specific = book_inputs(part)
        basis_name, basis = basis_of(part)
        if not basis > 0:
            raise ValueError("tracking error needs an equity balance or a non-zero gross exposure")
        result = risk_model.tracking_error(
            delta_exposure=exposure,
            betas=betas,
            specific_cov=specific,
            value=basis,
            symbols=np.asarray(part.positions["price_symbol"].tolist(), dtype=object),
            benchmark_symbol=benchmark,
            benchmark_betas=bench_betas,
            benchmark_residual_vol=bench_residual,
            factor_cov=stage.factor_cov_matrix,
        )
        te = result.tracking_error
        factors: list[ActiveFactor] = [
            {
                "factor": name,
                "portfolio_beta": rounded(result.portfolio_beta[k], 6),
                "benchmark_beta": rounded(result.benchmark_beta[k], 6),
                "active_beta": rounded(result.active_beta[k], 6),
                "contribution": rounded(result.factor_contribution[k], 6),
                "contribution_pct": rounded(result.factor_contribution[k] / te, 6) if te else None,
            }
            for k, name in enumerate(FACTOR_NAMES)
        ]
        return {
            "benchmark_symbol": benchmark,
            "covariance_estimator": stage.covariance_estimator,
            "basis_name": basis_name,
            "basis": rounded(basis),
            "tracking_error": rounded(te, 6),
            "tracking_error_usd": rounded(te * basis),
            "factor_te": rounded(result.factor_te, 6),
            "specific_te": rounded(result.specific_te, 6),
            "specific_contribution": rounded(result.specific_contribution, 6),
            "factors": factors,
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> dict[str, Any]:
        stage = chunk.stage
        estimator = stage.covariance_estimator if stage is not None else "equal_weighted"
        lam = stage.ewma_lambda if stage is not None else covariance.RISKMETRICS_LAMBDA
        return {
            "benchmark_symbol": part.info.benchmark_symbol,
            "covariance_estimator": estimator,
            "covariance": covariance.describe(estimator, lam),
            "periods_per_year": risk_model.PERIODS_PER_YEAR,
        }

    def report(self, payload: TrackingErrorPayload) -> ReportSection:
        return ReportSection(
            facts=[
                ("Benchmark", text(payload["benchmark_symbol"])),
                ("Tracking error (annual)", pct(payload["tracking_error"], 2)),
                ("Tracking error (USD)", money(payload["tracking_error_usd"])),
                ("Factor part", pct(payload["factor_te"], 2)),
                ("Specific part", pct(payload["specific_te"], 2)),
                ("Covariance estimator", text(payload["covariance_estimator"])),
            ],
            tables=[
                Table(
                    ["Factor", "Portfolio beta", "Benchmark beta", "Active beta", "Contribution", "% of TE"],
                    [
                        [
                            text(f["factor"]),
                            num(f["portfolio_beta"], 3),
                            num(f["benchmark_beta"], 3),
                            num(f["active_beta"], 3),
                            pct(f["contribution"], 2),
                            pct(f["contribution_pct"]),
                        ]
                        for f in payload["factors"]
                    ]
                    + [
                        [
                            text("specific"),
                            text(""),
                            text(""),
                            text(""),
                            pct(payload["specific_contribution"]),
                            text(""),
                        ]
                    ],
                    title="Active factor exposures (Euler contributions sum to the tracking error)",
                )
            ],
            charts=[
                BarChart(
                    key="active_betas",
                    title="Active betas against the benchmark",
                    bars=[
                        Bar(f["factor"], finite(f["active_beta"]) or 0.0)
                        for f in payload["factors"]
                        if f["active_beta"] is not None
                    ],
                    unit="ratio",
                    horizontal=True,
                )
            ],
        )


SPEC = register(TrackingErrorKind())

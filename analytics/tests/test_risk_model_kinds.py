"""The risk model in the batch's symbol stage (the covariance estimators) and the ``risk_decomposition`` kind
on the small hand-made book of ``test_payloads``."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.covariance import LedoitWolf

from analytics.results import registry
from analytics.services import compute
from analytics.services.inputs import PortfolioInfo
from analytics.services.steps import ChunkContext
from analytics.tests.test_payloads import _market, _positions
from marketdata.factors import FACTOR_NAMES


def _chunk(stage: compute.SymbolStage, equity: float | None = 100_000.0) -> ChunkContext:
    info = PortfolioInfo(id=uuid.uuid4(), name="Small book", equity_balance=equity)
    market = _market()
    positions = _positions(info.id)
    state = compute.position_state_compute(positions=positions, market=market, stage=stage)
    return ChunkContext.build(
        run=None, market=market, stage=stage, positions=positions, state=state, portfolios={info.id: info}, writer=None
    )


@pytest.fixture(scope="module")
def stages() -> dict[str, compute.SymbolStage]:
    market = _market()
    return {
        e: compute.symbol_stage_compute(market=market, estimator=e) for e in ("equal_weighted", "ewma", "ledoit_wolf")
    }


def test_the_equal_weighted_stage_keeps_the_sample_covariance(stages: dict[str, compute.SymbolStage]) -> None:
    stage = stages["equal_weighted"]
    np.testing.assert_allclose(stage.factor_cov.to_numpy(), stage.factor_returns.cov().to_numpy(), rtol=1e-12)


def test_the_ewma_stage_weights_recent_days_by_the_riskmetrics_recursion(
    stages: dict[str, compute.SymbolStage],
) -> None:
    stage = stages["ewma"]
    factor_returns = stage.factor_returns.to_numpy()
    sigma = np.zeros((len(FACTOR_NAMES),) * 2)
    for row in factor_returns:
        sigma = 0.94 * sigma + 0.06 * np.outer(row, row)
    expected = sigma / (1 - 0.94 ** len(factor_returns))
    np.testing.assert_allclose(stage.factor_cov.loc[list(FACTOR_NAMES), list(FACTOR_NAMES)], expected, rtol=1e-10)
    assert stage.covariance_estimator == "ewma"


def test_the_ewma_stage_takes_specific_risk_from_the_residuals_by_ewma(stages: dict[str, compute.SymbolStage]) -> None:
    """AAPL's specific vol: an independent OLS (numpy lstsq with an intercept) on the same days, then the
    RiskMetrics recursion over its residuals."""
    stage = stages["ewma"]
    market = _market()
    returns = market.prices.pct_change(fill_method=None).reindex(stage.factor_returns.index)["AAPL"].to_numpy()
    design = np.column_stack([np.ones(len(returns)), stage.factor_returns.to_numpy()])
    coef, *_ = np.linalg.lstsq(design, returns, rcond=None)
    residuals = returns - design @ coef
    variance = 0.0
    for r in residuals:
        variance = 0.94 * variance + 0.06 * r * r
    expected = math.sqrt(variance / (1 - 0.94 ** len(residuals)))
    assert stage.fit.residual_vol["AAPL"] == pytest.approx(expected, rel=1e-6)
    assert stages["equal_weighted"].fit.residual_vol["AAPL"] != pytest.approx(expected, rel=1e-3)


def test_the_ledoit_wolf_stage_shrinks_the_factor_covariance_as_scikit_learn(
    stages: dict[str, compute.SymbolStage],
) -> None:
    stage = stages["ledoit_wolf"]
    expected = LedoitWolf().fit(stage.factor_returns.to_numpy()).covariance_
    np.testing.assert_allclose(stage.factor_cov.to_numpy(), expected, rtol=1e-10)
    pd.testing.assert_series_equal(stage.fit.residual_vol, stages["equal_weighted"].fit.residual_vol)


@pytest.mark.parametrize("estimator", ["equal_weighted", "ewma", "ledoit_wolf"])
def test_the_decomposition_reconciles_and_matches_parametric_var(
    db, stages: dict[str, compute.SymbolStage], estimator: str
) -> None:
    chunk = _chunk(stages[estimator])
    part = next(iter(chunk.slices.values()))
    spec = registry.spec_for("risk_decomposition")
    payload = spec.build(chunk, part, spec.prepare(chunk))
    total = payload["total_vol"]
    assert total and total > 0
    factor_sum = sum(f["contribution"] or 0.0 for f in payload["factors"])
    assert factor_sum + payload["specific_contribution"] == pytest.approx(total, abs=0.05)
    assert sum(p["component"] or 0.0 for p in payload["positions"]) == pytest.approx(total, abs=0.05)
    assert payload["factor_vol"] ** 2 + payload["specific_vol"] ** 2 == pytest.approx(total**2, rel=1e-5)
    assert payload["total_vol_pct"] == pytest.approx(total / 100_000.0, abs=1e-6)
    assert payload["covariance_estimator"] == estimator
    assert spec.inputs(chunk, part, None)["covariance_estimator"] == estimator
    # The same model as parametric VaR: its 99% figure is z × the daily σ.
    var_spec = registry.spec_for("var")
    var_payload = var_spec.build(chunk, part, var_spec.prepare(chunk))
    assert total / math.sqrt(252) * norm.ppf(0.99) == pytest.approx(var_payload["parametric"]["var_99"], abs=0.02)
    # The expired call carries no risk.
    expired = [p for p in payload["positions"] if p["symbol"] == "SPY261119P00110000"]
    assert expired and expired[0]["component"] == 0.0

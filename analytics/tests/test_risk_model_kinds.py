"""The risk model in the batch's symbol stage (the covariance estimators) and the ``risk_decomposition`` kind
on the small hand-made book of ``test_payloads``."""

from __future__ import annotations

import dataclasses
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


def test_the_stage_looks_betas_up_as_a_reindex_of_the_fit_would(stages: dict[str, compute.SymbolStage]) -> None:
    """``betas_for`` reads an array made once per fit: the same rows as the fit's frame reindexed (NaN for a symbol
    without a fit), and made again when the fit's betas are replaced (a what-if adds symbols to them)."""
    stage = compute.symbol_stage_compute(market=_market())
    fitted = [str(s) for s in stage.fit.betas.index]
    asked = [fitted[2], "NOT-A-SYMBOL", fitted[0], fitted[2]]
    expected = stage.fit.betas.reindex(index=asked, columns=list(FACTOR_NAMES)).to_numpy(dtype=float)
    np.testing.assert_array_equal(stage.betas_for(asked), expected)
    assert np.isnan(stage.betas_for(["NOT-A-SYMBOL"])).all() and stage.betas_for([]).shape == (0, len(FACTOR_NAMES))
    added = pd.DataFrame([np.arange(len(FACTOR_NAMES), dtype=float)], index=["NEW"], columns=list(FACTOR_NAMES))
    stage.fit = dataclasses.replace(stage.fit, betas=pd.concat([stage.fit.betas, added]))
    np.testing.assert_array_equal(stage.betas_for(["NEW"])[0], np.arange(len(FACTOR_NAMES), dtype=float))


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


def _one_stock_chunk(stage: compute.SymbolStage, symbol: str, benchmark: str = "SPY") -> ChunkContext:
    """100 shares of ``symbol`` with an equity balance equal to their value (weight 1)."""
    market = _market()
    info = PortfolioInfo(
        id=uuid.uuid4(),
        name="One stock",
        equity_balance=100.0 * float(market.spot[symbol]),
        benchmark_symbol=benchmark,
    )
    positions = _positions(info.id)
    positions = positions[positions["symbol"] == "AAPL"].assign(symbol=symbol, price_symbol=symbol)
    positions = positions.reset_index(drop=True)
    state = compute.position_state_compute(positions=positions, market=market, stage=stage)
    return ChunkContext.build(
        run=None, market=market, stage=stage, positions=positions, state=state, portfolios={info.id: info}, writer=None
    )


def test_tracking_error_of_a_one_stock_book_by_hand(stages: dict[str, compute.SymbolStage]) -> None:
    """Weight 1 in AAPL against SPY: active betas β_AAPL − β_SPY; TE² = aᵀ Σ a + s_AAPL² + s_SPY² (× 252)."""
    stage = stages["equal_weighted"]
    chunk = _one_stock_chunk(stage, "AAPL")
    part = next(iter(chunk.slices.values()))
    payload = registry.spec_for("tracking_error").build(chunk, part, None)

    betas = stage.fit.betas.loc[["AAPL", "SPY"], list(FACTOR_NAMES)].to_numpy()
    active = betas[0] - betas[1]
    cov = stage.factor_cov.loc[list(FACTOR_NAMES), list(FACTOR_NAMES)].to_numpy()
    s_a, s_b = stage.fit.residual_vol["AAPL"], stage.fit.residual_vol["SPY"]
    expected = math.sqrt((active @ cov @ active + s_a**2 + s_b**2) * 252)
    assert payload["tracking_error"] == pytest.approx(expected, abs=2e-6)
    assert payload["tracking_error_usd"] == pytest.approx(expected * part.info.equity_balance, abs=0.05)
    assert [f["active_beta"] for f in payload["factors"]] == pytest.approx(active.tolist(), abs=2e-6)
    assert [f["benchmark_beta"] for f in payload["factors"]] == pytest.approx(betas[1].tolist(), abs=2e-6)
    contributions = sum(f["contribution"] for f in payload["factors"]) + payload["specific_contribution"]
    assert contributions == pytest.approx(payload["tracking_error"], abs=1e-5)
    # Against the realised active returns of the fit window: the same order of magnitude (model, not sample).
    returns = _market().prices.pct_change(fill_method=None).reindex(stage.factor_returns.index)
    realised = (returns["AAPL"] - returns["SPY"]).std() * math.sqrt(252)
    assert payload["tracking_error"] == pytest.approx(realised, rel=0.1)


def test_a_book_holding_its_benchmark_has_no_tracking_error(db, stages: dict[str, compute.SymbolStage]) -> None:
    chunk = _one_stock_chunk(stages["ewma"], "SPY")
    part = next(iter(chunk.slices.values()))
    payload = registry.spec_for("tracking_error").build(chunk, part, None)
    assert payload["tracking_error"] == pytest.approx(0.0, abs=1e-6)
    assert payload["benchmark_symbol"] == "SPY" and payload["covariance_estimator"] == "ewma"


def test_a_benchmark_without_betas_fails_the_portfolio_with_a_clear_error(
    stages: dict[str, compute.SymbolStage],
) -> None:
    chunk = _one_stock_chunk(stages["equal_weighted"], "AAPL", benchmark="NOSUCH")
    part = next(iter(chunk.slices.values()))
    with pytest.raises(ValueError, match="NOSUCH has no factor betas"):
        registry.spec_for("tracking_error").build(chunk, part, None)


def test_the_var_kind_adds_monte_carlo_with_its_simulation_error(db, stages: dict[str, compute.SymbolStage]) -> None:
    chunk = _chunk(stages["equal_weighted"])
    part = next(iter(chunk.slices.values()))
    spec = registry.spec_for("var")
    prepared = spec.prepare(chunk)
    payload = spec.build(chunk, part, prepared)
    mc = payload["monte_carlo"]
    assert mc["paths"] == 10_000 and mc["distribution"] == "normal" and mc["dof"] is None
    for c, key in ((0.95, "95"), (0.99, "99")):
        error = next(e for e in mc["simulation_error"] if e["confidence"] == c)
        assert error["var_low"] <= mc[f"var_{key}"] <= error["var_high"]
        assert error["es_low"] <= mc[f"es_{key}"] <= error["es_high"]
        parts = [p[f"monte_carlo_var_{key}"] for p in payload["contributions"]]
        assert sum(parts) == pytest.approx(mc[f"var_{key}"], abs=0.05)
        assert sum(p[f"monte_carlo_es_{key}"] for p in payload["contributions"]) == pytest.approx(
            mc[f"es_{key}"], abs=0.05
        )
    assert mc["es_99"] >= mc["var_99"] >= mc["var_95"] > 0
    # The same seed gives the same figures; the historical and parametric fields are untouched.
    assert spec.build(chunk, part, spec.prepare(chunk))["monte_carlo"] == mc
    assert set(payload["historical"]) == {"var_95", "es_95", "var_99", "es_99", "observations"}
    assert spec.inputs(chunk, part, prepared)["monte_carlo"]["seed"] == mc["seed"]

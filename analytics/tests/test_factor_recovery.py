"""End to end: the batch's stored betas recover the loadings the simulated provider generated prices with.

The recovery check runs in the provider's controlled ``factor_test`` world (2 % of the idiosyncratic
risk, no sector factors), where 252 returns pin every beta within ±0.05. The demo's ``market`` world
carries realistic idiosyncratic risk (15-45 % a year for stocks), in which a year of data cannot —
its realism is tested in marketdata/tests/test_simulated.py.
"""

from __future__ import annotations

import pytest

from analytics.models import FactorModelFit, SymbolFactorBeta
from analytics.services.batch import PORTFOLIO_STEPS, batch_run
from conftest import ANALYTICS_AS_OF
from marketdata.factors import FACTOR_NAMES, FACTOR_SYMBOLS
from marketdata.providers.simulated import symbol_loadings
from marketdata.services import prices_sync

pytestmark = pytest.mark.django_db

TOLERANCE = 0.05  # absolute, per factor, over 252 daily returns


@pytest.fixture
def factor_test_world(settings, demo_data):
    """The demo book, prices from the ``factor_test`` world, and the batch (like ``analytics_demo``)."""
    settings.SIMULATED_WORLD = "factor_test"
    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(PORTFOLIO_STEPS), trigger="test")
    assert outcome.ok, outcome.run.error_summary
    return outcome


def test_stored_betas_are_within_005_of_the_simulated_loadings(factor_test_world):
    rows = {r.symbol: r for r in SymbolFactorBeta.objects.filter(as_of=ANALYTICS_AS_OF)}
    checked = 0
    for symbol, row in rows.items():
        if symbol == "VIX" or symbol in FACTOR_SYMBOLS:
            continue  # VIX is not linear in the factors; proxies are the factors themselves
        truth = symbol_loadings(symbol)
        assert row.quality == "ok" and row.n_observations == 252, symbol
        for factor in FACTOR_NAMES:
            assert abs(row.betas[factor] - truth[factor]) <= TOLERANCE, (
                symbol,
                factor,
                row.betas[factor],
                truth[factor],
            )
        checked += 1
    assert checked >= 25


def test_the_factor_model_records_its_condition_number_and_spreads_keep_it_low(factor_test_world):
    fit = FactorModelFit.objects.get(as_of=ANALYTICS_AS_OF)
    assert fit.n_observations == 252
    # Styles regressed as spreads over SPY keep the standardised design well conditioned.
    assert 1.0 <= fit.condition_number < 5.0
    assert set(fit.factor_covariance) == set(FACTOR_NAMES)


def test_betas_are_flagged_never_capped(factor_test_world):
    vix = SymbolFactorBeta.objects.get(symbol="VIX", as_of=ANALYTICS_AS_OF)
    assert vix.betas["market"] < -3.0  # VIX moves about −4.5 × the market: reported as is
    assert "market" in vix.extreme_betas


def test_in_the_demo_world_betas_are_estimates_with_realistic_fit_quality(analytics_demo):
    """The market world: betas are noisy estimates (a year of 15-45 % idiosyncratic risk) and R² is
    like a real stock's, yet the market beta is still found within a few standard errors."""
    rows = {r.symbol: r for r in SymbolFactorBeta.objects.filter(as_of=ANALYTICS_AS_OF)}
    stocks = [s for s, r in rows.items() if r.symbol not in FACTOR_SYMBOLS and s != "VIX"]
    r_squared = sorted(rows[s].r_squared for s in stocks if rows[s].r_squared is not None)
    assert r_squared and r_squared[len(r_squared) // 2] < 0.9
    market_errors = [abs(rows[s].betas["market"] - symbol_loadings(s)["market"]) for s in stocks]
    assert max(market_errors) < 0.6 and sorted(market_errors)[len(market_errors) // 2] < 0.25

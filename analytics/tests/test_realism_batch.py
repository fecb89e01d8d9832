"""The demo through the real batch (as of 20 November 2026): the VIX call priced and shocked by the index's
own model, no shocked price at or below zero for any demo instrument, the fit flags in the API, report
and agent tool, leverage both ways, and VaR contributions at 95 % and 99 %.

Oracles: py_vollib's Black-76 on the log-OU forward written out here, the simulated provider's closes,
hand arithmetic on the stored per-position metrics.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict

import numpy as np
import pytest

from agent.tools import ToolContext, tool_execute
from analytics.engines.volatility_index import DEFAULT_FLOOR, DEFAULT_LOG_VOL, DEFAULT_MEAN_LEVEL, DEFAULT_REVERSION
from analytics.models import PortfolioResult, PositionMetrics
from analytics.results.registry import spec_for
from core.testing import bearer_client
from marketdata.providers.simulated import SIM_RATE, SimulatedProvider
from portfolios.demo import DEMO_PASSWORD, demo_portfolio_id, load_fixture
from portfolios.models import Position, User

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black import black as black76
    from py_vollib.black.greeks.analytical import delta as black76_delta

HEDGE_FUND = "demo_hedgefundstyle@sigmasight.com"
EMAILS = [u["email"] for u in load_fixture()["users"]]


def _forward(level: float, years: float) -> float:
    kappa, sigma, mu = DEFAULT_REVERSION, DEFAULT_LOG_VOL, math.log(DEFAULT_MEAN_LEVEL)
    variance = sigma**2 * (1 - math.exp(-2 * kappa * years)) / (2 * kappa)
    return math.exp(mu + math.exp(-kappa * years) * (math.log(level) - mu) + variance / 2)


def _results(email: str) -> dict[str, dict]:
    return {r.kind: r.payload for r in PortfolioResult.objects.filter(portfolio_id=demo_portfolio_id(email))}


def test_the_batch_prices_and_shocks_the_vix_call_by_the_index_model_and_no_price_goes_to_zero(analytics_demo) -> None:
    as_of = analytics_demo.run.as_of
    results = _results(HEDGE_FUND)
    [call] = Position.objects.filter(portfolio_id=demo_portfolio_id(HEDGE_FUND), underlying_symbol="VIX")
    row = next(r for r in results["greeks"]["positions"] if r["position_id"] == str(call.pk))
    quote = SimulatedProvider().option_quote(contract=call.symbol, as_of=as_of)
    level, strike, vol = quote.underlying_price, float(call.strike), quote.implied_vol
    years = (call.expiration - as_of).days / 365.0
    assert row["spot"] == pytest.approx(level, abs=1e-4) and row["implied_vol"] == pytest.approx(vol)
    contracts = float(call.quantity) * 100
    # Delta per index point of the spot: Black-76's forward delta × ∂F/∂V = e^{−κT} F / V.
    f = _forward(level, years)
    delta = black76_delta("c", f, strike, years, SIM_RATE, vol) * math.exp(-DEFAULT_REVERSION * years) * f / level
    assert row["delta"] == pytest.approx(delta, rel=1e-6)
    assert row["dollar_delta"] == pytest.approx(delta * contracts * level, rel=1e-6)
    base = black76("c", f, strike, years, SIM_RATE, vol)

    def pnl_at(shocked: float) -> float:
        return (black76("c", _forward(shocked, years), strike, years, SIM_RATE, vol) - base) * contracts

    # Market moves: the index by its log sensitivity (−4.75), floored at 9 — never by its −4.8 linear beta.
    market = results["market_risk"]
    column = [p["position_id"] for p in market["positions"]].index(str(call.pk))
    for scenario in market["scenarios"]:
        shocked = max(level * (1 + scenario["shock"]) ** -4.75, DEFAULT_FLOOR)
        assert scenario["pnl_by_position"][column] == pytest.approx(pnl_at(shocked), abs=0.02), scenario["id"]
    # Stress: the stated vol shift sets the level (V + 100 s), else the conditioned market move moves it.
    stress = results["stress_test"]
    column = [p["position_id"] for p in stress["positions"]].index(str(call.pk))
    for scenario in stress["scenarios"]:
        shift = next(s for s in _catalog() if s["id"] == scenario["id"]).get("implied_vol_shift")
        market_move = scenario["factor_shocks_conditioned"]["market"]
        shocked = level + 100 * shift if shift is not None else level * (1 + market_move) ** -4.75
        expected = pnl_at(max(shocked, DEFAULT_FLOOR))
        # The stored market shock is rounded to 6 decimals: ±5e-7 moves the level by ±2.4e-6 of itself, the
        # call by about its dollar delta (≈ $121k) × 4.75 × 5e-7 ≈ $0.3.
        assert scenario["conditioned_pnl_by_position"][column] == pytest.approx(expected, abs=1.0), scenario["id"]

    # No shocked price at or below zero, for every demo position in every stored scenario: a stock's
    # shocked price is price × (1 + P&L / value) > 0; an option's shocked value (value + P&L, per unit of
    # its sign) never below 0 (to the cent of quote-mid rounding: scenarios reprice from the model value).
    for email in EMAILS:
        results = _results(email)
        metrics = {str(m.position_id): m for m in PositionMetrics.objects.filter(portfolio_id=demo_portfolio_id(email))}
        positions = {str(p.pk): p for p in Position.objects.filter(portfolio_id=demo_portfolio_id(email))}
        for kind, column_names in (
            ("market_risk", ["pnl_by_position"]),
            ("stress_test", ["direct_pnl_by_position", "conditioned_pnl_by_position"]),
        ):
            keys = [p["position_id"] for p in results[kind]["positions"]]
            for scenario in results[kind]["scenarios"]:
                for name in column_names:
                    for key, pnl in zip(keys, scenario[name], strict=True):
                        value, position = metrics[key].market_value, positions[key]
                        if position.is_option:
                            tolerance = abs(float(position.quantity)) * 100 * 0.02
                            assert (value + pnl) * np.sign(float(position.quantity)) >= -tolerance, (
                                key,
                                scenario["id"],
                            )
                        else:
                            assert 1 + pnl / value > 0, (email, position.symbol, scenario["id"])


def _catalog() -> list[dict]:
    from analytics.models import StressScenario

    return [
        {"id": s.pk, "implied_vol_shift": s.implied_vol_shift if s.implied_vol_shift else None}
        for s in StressScenario.objects.all()
    ]


def test_the_api_report_and_agent_show_fit_flags_leverage_both_ways_and_var_at_95_and_99(analytics_demo) -> None:
    user = User.objects.get(email=HEDGE_FUND)
    client = bearer_client(HEDGE_FUND, DEMO_PASSWORD)
    pid = demo_portfolio_id(HEDGE_FUND)

    # --- fit flags: the VIX call's |β| > 3 and its own model, per position and for the portfolio ---------
    response = client.get(f"/api/v1/analytics/portfolios/{pid}/factor_exposures")
    assert response.status_code == 200, response.content[:300]
    body = response.json()["data"]
    flags = {f["code"]: f for f in body["flags"]}
    assert flags["extreme_beta"]["symbols"] == ["VIX"] and flags["volatility_index"]["symbols"] == ["VIX"]
    assert "never capped" in flags["extreme_beta"]["message"]
    vix_row = next(p for p in body["positions"] if p["price_symbol"] == "VIX")
    assert abs(vix_row["betas"]["market"]) > 3 and {"extreme_beta", "volatility_index"} <= set(vix_row["flags"])
    assert all(not p["flags"] for p in body["positions"] if p["price_symbol"] in ("SPY", "QQQ"))
    section = spec_for("factor_exposures").report(
        PortfolioResult.objects.get(portfolio_id=pid, kind="factor_exposures").payload
    )
    [table] = [t for t in section.tables if t.title == "Fit flags"]
    assert any("VIX" in str(cell) for row in table.rows for cell in row)
    answer = tool_execute(name="get_factor_exposures", arguments={}, context=ToolContext(user=user, portfolio_id=pid))
    assert {f["code"] for f in answer["data"]["flags"]} >= {"extreme_beta", "volatility_index"}

    # --- leverage both ways, recomputed from the stored per-position metrics -----------------------------
    overview = client.get(f"/api/v1/analytics/portfolios/{pid}/overview").json()
    equity = overview["equity_balance"]
    metrics = list(PositionMetrics.objects.filter(portfolio_id=pid, as_of=analytics_demo.run.as_of))
    positions = {p.pk: p for p in Position.objects.filter(portfolio_id=pid)}
    gross = sum(abs(m.market_value) for m in metrics)
    by_underlying: dict[str, float] = defaultdict(float)
    shares: dict[str, float] = defaultdict(float)
    for m in metrics:
        position = positions[m.position_id]
        by_underlying[position.price_symbol] += m.delta_exposure
        shares[position.price_symbol] += float(position.quantity) * (m.delta * 100 if position.is_option else 1.0)
    delta_gross = sum(abs(v) for v in by_underlying.values())
    assert overview["leverage"] == overview["gross_leverage"] == pytest.approx(gross / equity, abs=1e-4)
    assert overview["delta_adjusted_leverage"] == pytest.approx(delta_gross / equity, abs=1e-4)
    assert overview["exposures"]["delta_adjusted_gross"] == pytest.approx(delta_gross, abs=0.05)
    assert 1.2 <= overview["gross_leverage"] <= 3.0  # the stated demo bound
    stored = PortfolioResult.objects.get(portfolio_id=pid, kind="overview").payload["by_underlying"]
    greeks = PortfolioResult.objects.get(portfolio_id=pid, kind="greeks").payload["by_underlying"]
    for symbol, total in shares.items():
        assert stored[symbol]["share_delta"] == pytest.approx(total, abs=1e-3), symbol
        assert stored[symbol]["dollar_delta"] == pytest.approx(by_underlying[symbol], abs=0.05), symbol
        if symbol in greeks:
            assert greeks[symbol]["share_delta"] == pytest.approx(total, abs=1e-3), symbol

    # --- VaR: contributions at 95 % and 99 % sum to the figures; the quantile convention is stated -------
    var = client.get(f"/api/v1/analytics/portfolios/{pid}/var").json()
    data, contributions = var["data"], var["data"]["contributions"]
    assert "no interpolation" in data["quantile_convention"]
    assert var["provenance"]["inputs"]["tail_sizes"] == {"0.95": 13, "0.99": 3}
    slack = 0.006 * len(contributions)  # each contribution is rounded to the cent
    for level in ("95", "99"):
        for method, key in (("historical", f"historical_var_{level}"), ("parametric", f"parametric_var_{level}")):
            total = sum(c[key] for c in contributions)
            assert total == pytest.approx(data[method][f"var_{level}"], abs=slack), key
        es = sum(c[f"historical_es_{level}"] for c in contributions)
        assert es == pytest.approx(data["historical"][f"es_{level}"], abs=slack)

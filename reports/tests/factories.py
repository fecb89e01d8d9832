"""Hand-made stored analytics, each payload of its kind's declared type (``analytics.results.<kind>``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from analytics.models import PortfolioResult, PortfolioSnapshot, PositionMetrics
from portfolios.models import AssetClass, Portfolio, Position, Tag

AS_OF = dt.date(2026, 11, 20)
FACTORS = ["market", "value", "growth", "momentum", "quality", "size", "low_volatility", "interest_rate"]
PROVENANCE: dict[str, Any] = {"as_of": AS_OF, "lookback_days": 252, "data_source": "simulated"}


def positions_create(portfolio: Portfolio) -> dict[str, Position]:
    """A long stock, a short stock and a long call, with tags."""
    tech = Tag.objects.create(user=portfolio.user, name="Tech")
    hedge = Tag.objects.create(user=portfolio.user, name="Hedge")
    common = {"portfolio": portfolio, "entry_date": dt.date(2026, 1, 5)}
    aapl = Position.objects.create(
        symbol="AAPL", position_type="LONG", quantity=Decimal("100"), entry_price=Decimal("150"), **common
    )
    xom = Position.objects.create(
        symbol="XOM", position_type="SHORT", quantity=Decimal("-50"), entry_price=Decimal("110"), **common
    )
    call = Position.objects.create(
        symbol="SPY261218C00600000",
        position_type="LC",
        asset_class=AssetClass.OPTION,
        quantity=Decimal("2"),
        entry_price=Decimal("12.5"),
        underlying_symbol="SPY",
        strike=Decimal("600"),
        expiration=dt.date(2026, 12, 18),
        multiplier=Decimal("100"),
        **common,
    )
    aapl.tags.set([tech])
    call.tags.set([tech, hedge])
    return {"AAPL": aapl, "XOM": xom, "CALL": call}


def _betas(market: float) -> dict[str, float]:
    return {f: (market if f == "market" else round(0.01 * (i + 1) * market, 6)) for i, f in enumerate(FACTORS)}


def metrics_create(portfolio: Portfolio, positions: dict[str, Position]) -> dict[str, PositionMetrics]:
    rows = {
        "AAPL": {
            "price": 187.43000000000001,
            "market_value": 18743.0,
            "unrealised_pnl": 3743.0000000000005,
            "position_delta": 100.0,
            "dollar_delta": 18743.0,
            "factor_betas": _betas(1.1234567890123),
        },
        "XOM": {
            "price": 101.1,
            "market_value": -5055.0,
            "unrealised_pnl": 444.99999999999994,
            "position_delta": -50.0,
            "dollar_delta": -5055.0,
            "factor_betas": _betas(0.71),
        },
        "CALL": {
            "price": 15.2,
            "market_value": 3040.0,
            "unrealised_pnl": 540.0,
            "position_delta": 123.45678,
            "position_gamma": 0.8123,
            "position_theta": -25.5,
            "position_vega": 110.25,
            "dollar_delta": 73456.789,
            "implied_vol": 0.18,
            "implied_vol_source": "option_quote",
            "factor_betas": _betas(1.0),
        },
    }
    created = {}
    for key, values in rows.items():
        created[key] = PositionMetrics.objects.create(
            position=positions[key], portfolio=portfolio, method="bsm+factor_betas", **PROVENANCE, **values
        )
    return created


def overview_payload() -> dict[str, Any]:
    return {
        "equity_balance": 100000.0,
        "market_value": 16728.0,
        "long_exposure": 21783.0,
        "short_exposure": -5055.0,
        "gross_exposure": 26838.0,
        "net_exposure": 16728.0,
        "delta_adjusted_exposure": 87144.789,
        "options_exposure": 3040.0,
        "stock_exposure": 13688.0,
        "cash": 83272.0,
        "leverage": 0.26838,
        "cost_basis": 12000.0,
        "unrealised_pnl": 4728.0,
        "position_count": 3,
        "counts_by_type": {"LONG": 1, "SHORT": 1, "LC": 1},
        "by_tag": {"Tech": {"market_value": 21783.0, "gross": 21783.0, "count": 2}},
        "by_underlying": {},
        "expired_options": [],
        "missing_prices": [],
    }


def stress_payload() -> dict[str, Any]:
    def scenario(sid: str, name: str, pnl: float) -> dict[str, Any]:
        return {
            "id": sid,
            "name": name,
            "category": "historical",
            "severity": "severe",
            "shocks": {"market": -0.2},
            "implied_vol_shift": 0.1,
            "direct_pnl": pnl * 0.9,
            "conditioned_pnl": pnl,
            "direct_pct": pnl * 0.9 / 100000,
            "conditioned_pct": pnl / 100000,
            "factor_shocks_direct": {"market": -0.2},
            "factor_shocks_conditioned": {"market": -0.2, "value": 0.01},
            "by_factor": {"market": pnl},
            "direct_pnl_by_position": [],
            "conditioned_pnl_by_position": [],
        }

    scenarios = [
        scenario("covid_crash", "COVID crash 2020", -23456.789),
        scenario("gfc_2008", "Global financial crisis", -31234.5678),
        scenario("rate_cut", "Surprise rate cut", 4321.1),
    ]
    worst = scenarios[1]
    return {
        "positions": [],
        "scenarios": scenarios,
        "worst": {k: worst[k] for k in ("id", "name", "conditioned_pnl", "conditioned_pct")},
        "losses_exceed_equity": [],
    }


def payloads() -> dict[str, dict[str, Any]]:
    """Every kind stored as a result except market_risk (left out to exercise the "not computed" path)."""
    return {
        "overview": overview_payload(),
        "greeks": {
            "totals": {
                "delta": 173.45678,
                "gamma": 0.8123,
                "theta": -25.5,
                "vega": 110.25,
                "rho": 12.0,
                "dollar_delta": 87144.789,
                "dollar_gamma": 1234.5,
                "stock_share_delta": 50.0,
            },
            "positions": [],
        },
        "factor_exposures": {
            "factors": FACTORS,
            "portfolio_betas": {f: 0.1 + 0.2 * (i + 1) for i, f in enumerate(FACTORS)},
            "dollar_exposures": {f: 1000.123 * (i + 1) for i, f in enumerate(FACTORS)},
            "beta_basis": "equity_balance",
            "basis_value": 100000.0,
            "market_beta_univariate": 0.9876543210987,
            "condition_number": 3.21,
            "positions": [],
            "quality_flags": {"AAPL": "ok", "XOM": "limited"},
            "excluded": [],
        },
        "stress_test": stress_payload(),
        "correlations": {
            "symbols": ["AAPL", "SPY", "XOM"],
            "matrix": [[1.0, 0.61, -0.2], [0.61, 1.0, 0.1], [-0.2, 0.1, 1.0]],
            "window_days": 90,
            "min_weight": 0.01,
            "cluster_threshold": 0.7,
            "clusters": [{"name": "Cluster 1", "symbols": ["AAPL", "SPY"], "average_correlation": 0.61}],
            "average_abs_correlation": 0.30333333333333334,
            "diversification_score": 0.69666,
            "effective_positions": 2.4,
            "excluded": [],
        },
        "var": {
            "horizon_days": 1,
            "historical": {"var_95": 1234.56, "es_95": 1500.1, "var_99": 2000.2, "es_99": 2500.3, "observations": 252},
            "parametric": {"var_95": 1200.0, "es_95": 1480.0, "var_99": 1900.0, "es_99": 2300.0},
            "contributions": [
                {
                    "position_id": "x",
                    "symbol": "AAPL",
                    "historical_var_99": 1500.0,
                    "historical_es_99": 1800.0,
                    "parametric_var_99": 1400.0,
                }
            ],
            "monte_carlo": {
                "var_95": 1210.0,
                "es_95": 1490.0,
                "var_99": 1910.0,
                "es_99": 2310.0,
                "paths": 10000,
                "distribution": "student_t",
                "dof": 5.0,
                "seed": 7,
                "bootstrap_replicates": 200,
                "simulation_error": [
                    {
                        "confidence": 0.95,
                        "var_low": 1190.0,
                        "var_high": 1230.0,
                        "var_se": 10.0,
                        "es_low": 1460.0,
                        "es_high": 1520.0,
                        "es_se": 15.0,
                    },
                    {
                        "confidence": 0.99,
                        "var_low": 1850.0,
                        "var_high": 1970.0,
                        "var_se": 30.0,
                        "es_low": 2240.0,
                        "es_high": 2380.0,
                        "es_se": 35.0,
                    },
                ],
            },
        },
        "risk_decomposition": {
            "covariance_estimator": "ewma",
            "basis_name": "equity_balance",
            "basis": 100000.0,
            "total_vol": 25000.0,
            "total_vol_pct": 0.25,
            "factor_vol": 20000.0,
            "factor_vol_pct": 0.2,
            "specific_vol": 15000.0,
            "specific_vol_pct": 0.15,
            "factor_share": 0.64,
            "specific_contribution": 9000.0,
            "factors": [
                {
                    "factor": f,
                    "exposure": 1000.0,
                    "factor_vol": 0.2,
                    "contribution": 16000.0 if i == 0 else 0.0,
                    "contribution_pct": 0.64 if i == 0 else 0.0,
                }
                for i, f in enumerate(FACTORS)
            ],
            "positions": [
                {
                    "position_id": "x",
                    "symbol": "AAPL",
                    "delta_exposure": 60000.0,
                    "marginal": 0.3,
                    "component": 18000.0,
                    "component_factor": 12000.0,
                    "component_specific": 6000.0,
                    "component_pct": 0.72,
                },
                {
                    "position_id": "y",
                    "symbol": "XOM",
                    "delta_exposure": -20000.0,
                    "marginal": -0.35,
                    "component": 7000.0,
                    "component_factor": 4000.0,
                    "component_specific": 3000.0,
                    "component_pct": 0.28,
                },
            ],
        },
        "tracking_error": {
            "benchmark_symbol": "SPY",
            "covariance_estimator": "ewma",
            "basis_name": "equity_balance",
            "basis": 100000.0,
            "tracking_error": 0.08,
            "tracking_error_usd": 8000.0,
            "factor_te": 0.06,
            "specific_te": 0.052915,
            "specific_contribution": 0.035,
            "factors": [
                {
                    "factor": f,
                    "portfolio_beta": 0.9 if i == 0 else 0.1,
                    "benchmark_beta": 1.0 if i == 0 else 0.0,
                    "active_beta": -0.1 if i == 0 else 0.1,
                    "contribution": 0.045 if i == 0 else 0.0,
                    "contribution_pct": 0.5625 if i == 0 else 0.0,
                }
                for i, f in enumerate(FACTORS)
            ],
        },
        "backtest": {
            "horizon_days": 1,
            "window_days": 250,
            "observations": 3,
            "var_days": 4,
            "unmatched_days": 1,
            "first_pnl_date": "2026-11-17",
            "last_pnl_date": "2026-11-19",
            "pnl_convention": "actual P&L of the next session's snapshot",
            "exception_convention": "an exception is a next-session loss strictly greater than the VaR",
            "zone_convention": "Basel traffic light",
            "methods": [
                {
                    "method": "historical",
                    "levels": [
                        {
                            "confidence": 0.99,
                            "observations": 3,
                            "exceptions": 1,
                            "expected_exceptions": 0.03,
                            "exception_rate": 0.333333,
                            "kupiec_lr": 4.925,
                            "kupiec_p_value": 0.026478,
                            "christoffersen_lr": 0.0,
                            "christoffersen_p_value": 1.0,
                            "conditional_coverage_lr": 4.925,
                            "conditional_coverage_p_value": 0.085,
                            "n00": 1,
                            "n01": 1,
                            "n10": 0,
                            "n11": 0,
                            "zone": "yellow",
                            "zone_observations": 3,
                            "zone_exceptions": 1,
                            "exception_dates": ["2026-11-19"],
                        }
                    ],
                }
            ],
            "series": {
                "var_dates": ["2026-11-14", "2026-11-17", "2026-11-18"],
                "pnl_dates": ["2026-11-17", "2026-11-18", "2026-11-19"],
                "pnl": [120.0, -80.0, -3000.0],
                "var": {"historical_99": [2380.0, 2380.0, 2380.0]},
            },
        },
        "liquidity": {
            "participation_rate": 0.2,
            "adv_window_days": 20,
            "gross_value": 26838.0,
            "horizons": [
                {"days": 1, "share": 0.75, "value": 20128.5},
                {"days": 5, "share": 0.81, "value": 21738.78},
                {"days": 20, "share": 0.81, "value": 21738.78},
            ],
            "max_days_to_liquidate": 2.5,
            "no_volume_count": 1,
            "no_volume_share": 0.188349,
            "option_convention": "options: |contracts x multiplier x delta| underlying shares",
            "positions": [
                {
                    "position_id": "z",
                    "symbol": "XOM",
                    "volume_symbol": "XOM",
                    "shares": 50.0,
                    "adv_shares": None,
                    "volume_days": 0,
                    "days_to_liquidate": None,
                    "gross_value": 5055.0,
                    "flag": "no_volume",
                },
                {
                    "position_id": "x",
                    "symbol": "AAPL",
                    "volume_symbol": "AAPL",
                    "shares": 100.0,
                    "adv_shares": 200.0,
                    "volume_days": 20,
                    "days_to_liquidate": 2.5,
                    "gross_value": 21783.0,
                    "flag": "",
                },
            ],
        },
        "limits": {"status": "OK", "breaches": 0, "warnings": 0, "no_data": 0, "limits": []},
    }


METHODS = {
    "overview": "aggregation",
    "greeks": "black_scholes_merton",
    "factor_exposures": "ols_spreads_over_market",
    "stress_test": "factor_conditional_repricing",
    "correlations": "pearson_log_returns",
    "var": "historical_and_parametric",
    "risk_decomposition": "factor_model_euler",
    "tracking_error": "factor_model_active",
    "liquidity": "days to liquidate at a share of the 20-day average daily volume",
    "backtest": "stored 1-day VaR vs next-session actual P&L",
    "limits": "each limit's figure against its warning and hard levels",
}


def results_create(portfolio: Portfolio, *, kinds: list[str] | None = None) -> dict[str, PortfolioResult]:
    created = {}
    for kind, payload in payloads().items():
        if kinds is not None and kind not in kinds:
            continue
        created[kind] = PortfolioResult.objects.create(
            portfolio=portfolio,
            kind=kind,
            payload=payload,
            method=METHODS[kind],
            inputs={"symbols": ["AAPL", "XOM", "SPY"]},
            **PROVENANCE,
        )
    return created


def snapshot_create(portfolio: Portfolio) -> PortfolioSnapshot:
    return PortfolioSnapshot.objects.create(
        portfolio=portfolio,
        method="end_of_day",
        total_value=16728.0,
        long_exposure=21783.0,
        short_exposure=-5055.0,
        gross_exposure=26838.0,
        net_exposure=16728.0,
        delta_adjusted_exposure=87144.789,
        cash=83272.0,
        equity=101234.5,
        daily_pnl=1234.5,
        daily_return=0.012345,
        cumulative_pnl=1234.5,
        portfolio_delta=173.45678,
        portfolio_gamma=0.8123,
        portfolio_theta=-25.5,
        portfolio_vega=110.25,
        position_count=3,
        **PROVENANCE,
    )


def analytics_create(portfolio: Portfolio) -> dict[str, Any]:
    positions = positions_create(portfolio)
    return {
        "positions": positions,
        "metrics": metrics_create(portfolio, positions),
        "results": results_create(portfolio),
        "snapshot": snapshot_create(portfolio),
    }

"""Hand-made stored analytics, each payload of its kind's declared type (analytics/results/), for agent tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from analytics.models import PortfolioResult, PortfolioSnapshot, PositionMetrics
from portfolios.models import AssetClass, Portfolio, Position, PositionType, Tag

AS_OF = dt.date(2026, 11, 20)


def positions_make(portfolio: Portfolio, *, tag_name: str = "Core") -> list[Position]:
    """Three positions: long AAPL, short XOM, a long NVDA call; AAPL is tagged ``tag_name``."""
    tag = Tag.objects.create(user=portfolio.user, name=tag_name)
    aapl = Position.objects.create(
        portfolio=portfolio, symbol="AAPL", position_type=PositionType.LONG, quantity=Decimal(100),
        entry_price=Decimal(150), entry_date=dt.date(2026, 1, 5),
    )  # fmt: skip
    aapl.tags.add(tag)
    xom = Position.objects.create(
        portfolio=portfolio, symbol="XOM", position_type=PositionType.SHORT, quantity=Decimal(-50),
        entry_price=Decimal(110), entry_date=dt.date(2026, 2, 5),
    )  # fmt: skip
    call = Position.objects.create(
        portfolio=portfolio, symbol="NVDA270115C00200000", position_type=PositionType.LC, quantity=Decimal(2),
        entry_price=Decimal(12), entry_date=dt.date(2026, 3, 5), underlying_symbol="NVDA", strike=Decimal(200),
        expiration=dt.date(2027, 1, 15), multiplier=Decimal(100), asset_class=AssetClass.OPTION,
    )  # fmt: skip
    return [aapl, xom, call]


def _provenance(**extra: Any) -> dict[str, Any]:
    return {"as_of": AS_OF, "method": "test", "lookback_days": 252, "data_source": "simulated", **extra}


def results_make(portfolio: Portfolio, *, scale: float = 1.0) -> dict[str, Any]:
    """Every result kind, a snapshot and position metrics; money figures multiplied by ``scale``."""
    aapl, xom, call = positions_make(portfolio, tag_name=f"Core {scale}")
    s = scale
    overview = {
        "equity_balance": 100000.0 * s, "market_value": 21000.0 * s, "long_exposure": 27500.0 * s,
        "short_exposure": -6500.0 * s, "gross_exposure": 34000.0 * s, "net_exposure": 21000.0 * s,
        "delta_adjusted_exposure": 25250.0 * s, "options_exposure": 2500.0 * s, "stock_exposure": 18500.0 * s,
        "cash": 79000.0 * s, "leverage": 0.34, "cost_basis": 17900.0 * s, "unrealised_pnl": 3100.0 * s,
        "position_count": 3, "counts_by_type": {"LONG": 1, "SHORT": 1, "LC": 1},
        "by_tag": {f"Core {scale}": {"market_value": 25000.0 * s, "gross": 25000.0 * s, "count": 1}},
        "by_underlying": {
            "AAPL": {"market_value": 25000.0 * s, "delta_exposure": 25000.0 * s, "count": 1},
            "XOM": {"market_value": -6500.0 * s, "delta_exposure": -6500.0 * s, "count": 1},
            "NVDA": {"market_value": 2500.0 * s, "delta_exposure": 6750.0 * s, "count": 1},
        },
        "expired_options": [], "missing_prices": [],
    }  # fmt: skip
    greeks = {
        "totals": {"delta": 135.0, "gamma": 2.4, "theta": -11.5, "vega": 48.2, "rho": 20.1,
                   "dollar_delta": 6750.0 * s, "dollar_gamma": 610.0 * s, "stock_share_delta": 50.0},
        "positions": [{
            "position_id": str(call.id), "symbol": call.symbol, "underlying": "NVDA", "position_type": "LC",
            "quantity": 2, "strike": 200.0, "expiration": "2027-01-15", "expired": False, "spot": 50.0,
            "years_to_expiry": 0.15, "implied_vol": 0.45, "implied_vol_source": "realised_vol", "rate": 0.045,
            "div_yield": 0.0, "delta": 0.675, "gamma": 0.012, "theta": -0.0575, "vega": 0.241, "rho": 0.1,
            "position_delta": 135.0, "position_gamma": 2.4, "position_theta": -11.5, "position_vega": 48.2,
            "position_rho": 20.1, "dollar_delta": 6750.0 * s, "dollar_gamma": 610.0 * s,
        }],
    }  # fmt: skip
    factors = ["market", "value", "growth", "momentum", "quality", "size", "low_volatility", "interest_rate"]
    betas = dict(zip(factors, [1.12, -0.21, 0.35, 0.08, 0.05, -0.12, -0.3, -0.04], strict=True))
    factor_exposure = {
        "factors": factors, "portfolio_betas": betas,
        "dollar_exposures": {f: b * 100000.0 * s for f, b in betas.items()},
        "beta_basis": "equity_balance", "basis_value": 100000.0 * s, "market_beta_univariate": 1.05,
        "condition_number": 4.2,
        "positions": [{"position_id": str(aapl.id), "symbol": "AAPL", "price_symbol": "AAPL",
                       "delta_exposure": 25000.0 * s, "betas": betas, "exposures": {"market": 28000.0 * s},
                       "quality": "ok"}],
        "quality_flags": {}, "excluded": [],
    }  # fmt: skip
    stress = {
        "positions": [{"position_id": str(aapl.id), "symbol": "AAPL"}],
        "scenarios": [
            {"id": "covid_crash", "name": "COVID crash (Mar 2020)", "category": "historical", "severity": "severe",
             "shocks": {"market": -0.34}, "implied_vol_shift": 0.3, "direct_pnl": -9000.0 * s,
             "conditioned_pnl": -9850.0 * s, "direct_pct": -0.09, "conditioned_pct": -0.0985,
             "factor_shocks_direct": {}, "factor_shocks_conditioned": {}, "by_factor": {"market": -9500.0 * s},
             "direct_pnl_by_position": [-8500.0 * s], "conditioned_pnl_by_position": [-8800.0 * s]},
            {"id": "rates_up_100", "name": "Rates +100bp", "category": "rates", "severity": "moderate",
             "shocks": {"interest_rate": 0.01}, "implied_vol_shift": 0.0, "direct_pnl": -700.0 * s,
             "conditioned_pnl": -1200.0 * s, "direct_pct": -0.007, "conditioned_pct": -0.012,
             "factor_shocks_direct": {}, "factor_shocks_conditioned": {}, "by_factor": {},
             "direct_pnl_by_position": [0.0], "conditioned_pnl_by_position": [0.0]},
        ],
        "worst": {"id": "covid_crash", "name": "COVID crash (Mar 2020)", "conditioned_pnl": -9850.0 * s,
                  "conditioned_pct": -0.0985},
        "losses_exceed_equity": [],
    }  # fmt: skip
    market = {
        "positions": [{"position_id": str(aapl.id), "symbol": "AAPL"}],
        "scenarios": [
            {"id": "market_down_10", "name": "Market -10%", "shock": -0.10, "pnl": -2900.0 * s,
             "pnl_pct_of_equity": -0.029, "pnl_by_position": [-2900.0 * s]},
            {"id": "market_up_10", "name": "Market +10%", "shock": 0.10, "pnl": 2750.0 * s,
             "pnl_pct_of_equity": 0.0275, "pnl_by_position": [2750.0 * s]},
        ],
        "beta": "univariate market beta (252d)",
    }  # fmt: skip
    correlations = {
        "symbols": ["AAPL", "NVDA", "XOM"], "matrix": [[1.0, 0.72, 0.1], [0.72, 1.0, 0.05], [0.1, 0.05, 1.0]],
        "window_days": 90, "min_weight": 0.01, "cluster_threshold": 0.7,
        "clusters": [{"name": "Cluster 1", "symbols": ["AAPL", "NVDA"], "average_correlation": 0.72}],
        "average_abs_correlation": 0.29, "diversification_score": 0.71, "effective_positions": 2.4, "excluded": [],
    }  # fmt: skip
    var = {
        "horizon_days": 1,
        "historical": {"var_95": 1450.0 * s, "es_95": 2010.0 * s, "var_99": 2380.0 * s, "es_99": 2900.0 * s,
                       "observations": 250},
        "parametric": {"var_95": 1500.0 * s, "es_95": 1880.0 * s, "var_99": 2120.0 * s, "es_99": 2430.0 * s},
        "contributions": [
            {"position_id": str(aapl.id), "symbol": "AAPL", "historical_var_99": 1900.0 * s,
             "historical_es_99": 2300.0 * s, "parametric_var_99": 1700.0 * s},
            {"position_id": str(xom.id), "symbol": "XOM", "historical_var_99": -300.0 * s,
             "historical_es_99": -350.0 * s, "parametric_var_99": -250.0 * s},
        ],
    }  # fmt: skip
    liquidity = {
        "participation_rate": 0.2, "adv_window_days": 20, "gross_value": 34000.0 * s,
        "horizons": [{"days": 1, "share": 0.8, "value": 27200.0 * s}, {"days": 5, "share": 0.9, "value": 30600.0 * s},
                     {"days": 20, "share": 0.9, "value": 30600.0 * s}],
        "max_days_to_liquidate": 1.5, "no_volume_count": 1, "no_volume_share": 0.1,
        "option_convention": "options: |contracts x multiplier x delta| underlying shares",
        "positions": [
            {"position_id": str(xom.id), "symbol": "XOM", "volume_symbol": "XOM", "shares": 50.0, "adv_shares": None,
             "volume_days": 0, "days_to_liquidate": None, "gross_value": 6500.0 * s, "flag": "no_volume"},
            {"position_id": str(aapl.id), "symbol": "AAPL", "volume_symbol": "AAPL", "shares": 100.0,
             "adv_shares": 400.0, "volume_days": 20, "days_to_liquidate": 1.5, "gross_value": 25000.0 * s, "flag": ""},
        ],
    }  # fmt: skip
    backtest = {
            "horizon_days": 1, "window_days": 250, "observations": 3, "var_days": 4, "unmatched_days": 1,
            "first_pnl_date": "2026-11-17", "last_pnl_date": "2026-11-19",
            "pnl_convention": "actual P&L of the next session's snapshot",
            "exception_convention": "an exception is a next-session loss strictly greater than the VaR",
            "zone_convention": "Basel traffic light",
            "methods": [{"method": "historical", "levels": [{
                "confidence": 0.99, "observations": 3, "exceptions": 1, "expected_exceptions": 0.03,
                "exception_rate": 0.333333, "kupiec_lr": 4.925, "kupiec_p_value": 0.026478, "christoffersen_lr": 0.0,
                "christoffersen_p_value": 1.0, "conditional_coverage_lr": 4.925, "conditional_coverage_p_value": 0.085,
                "n00": 1, "n01": 1, "n10": 0, "n11": 0, "zone": "yellow", "zone_observations": 3, "zone_exceptions": 1,
                "exception_dates": ["2026-11-19"]}]}],
            "series": {"var_dates": ["2026-11-14", "2026-11-17", "2026-11-18"],
                       "pnl_dates": ["2026-11-17", "2026-11-18", "2026-11-19"],
                       "pnl": [120.0, -80.0, -3000.0], "var": {"historical_99": [2380.0, 2380.0, 2380.0]}},
        }  # fmt: skip
    payloads = {
        "overview": overview, "greeks": greeks, "factor_exposures": factor_exposure, "stress_test": stress,
        "market_risk": market, "correlations": correlations, "var": var, "liquidity": liquidity,
        "backtest": backtest,
    }  # fmt: skip
    for kind, payload in payloads.items():
        PortfolioResult.objects.create(portfolio=portfolio, kind=kind, payload=payload, **_provenance())
    PortfolioSnapshot.objects.create(
        portfolio=portfolio, total_value=21000.0 * s, long_exposure=27500.0 * s, short_exposure=-6500.0 * s,
        gross_exposure=34000.0 * s, net_exposure=21000.0 * s, cash=79000.0 * s, equity=103100.0 * s,
        daily_pnl=420.0 * s, daily_return=0.0041, cumulative_pnl=3100.0 * s, position_count=3, **_provenance(),
    )  # fmt: skip
    for position, price, value in ((aapl, 250.0, 25000.0), (xom, 130.0, -6500.0), (call, 12.5, 2500.0)):
        PositionMetrics.objects.create(
            position=position, portfolio=portfolio, price=price, market_value=value * s,
            unrealised_pnl=(value - float(position.quantity * position.entry_price * position.multiplier)) * s,
            delta_exposure=(6750.0 if position is call else value) * s, **_provenance(),
        )  # fmt: skip
    return {"payloads": payloads, "positions": [aapl, xom, call]}

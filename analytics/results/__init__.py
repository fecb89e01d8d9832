"""The result kinds of the analytics: one module per kind, each registering its :class:`ResultSpec`.

Importing this package registers the built-in kinds, in step order:

- ``overview`` — value, exposures, cash, leverage, P&L, totals by tag and underlying
- ``greeks`` — Black–Scholes–Merton Greeks per option and their totals
- ``factor_exposures`` — betas and dollar exposures to the 7 factors and rates
- ``market_risk`` — P&L for market moves of ±5/10/20%
- ``stress_test`` — the stress catalog, direct and factor-conditioned
- ``snapshots`` — the end-of-day snapshot history
- ``correlations`` — correlations, clusters, diversification
- ``var`` — historical and parametric VaR and expected shortfall
- ``risk_decomposition`` — predicted volatility: factor and specific, Euler per factor and position
- ``tracking_error`` — ex-ante tracking error, active betas and contributions against the benchmark
- ``liquidity`` — days to liquidate at a share of the 20-day ADV, the liquidity profile
- ``backtest`` — stored VaR against the next session's P&L: Kupiec, Christoffersen, Basel zones
- ``limits`` — each risk limit's value and status (OK / WARN / BREACH), alerts on a change

``base`` defines the spec (read its docstring to add a kind), ``registry`` holds the registered
kinds, ``presentation`` the report section types, ``common`` the helpers kinds share and
``tooling`` the shapes of the agent's answers.
"""

from __future__ import annotations

import importlib

from analytics.results.base import AgentTool, MetricColumns, Need, ResultSpec
from analytics.results.registry import canonical_name, register, spec_for, specs, unregister

BUILT_IN = (
    "overview",
    "greeks",
    "factor_exposures",
    "market_risk",
    "stress_test",
    "snapshots",
    "correlations",
    "var",
    "risk_decomposition",
    "tracking_error",
    "liquidity",
    "backtest",
    "limits",  # last: it judges the payloads of the kinds before it (keep it after any kind a limit reads)
)
for _module in BUILT_IN:  # each module registers its kind; a kind's dependencies come before it
    importlib.import_module(f"analytics.results.{_module}")

__all__ = [
    "AgentTool",
    "MetricColumns",
    "Need",
    "ResultSpec",
    "canonical_name",
    "register",
    "spec_for",
    "specs",
    "unregister",
]

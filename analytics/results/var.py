"""``var``: 1-day value at risk and expected shortfall at 95% and 99%, historical and parametric.

Historical: today's positions revalued under each of the last 252 days' returns and implied-vol
changes (stocks × the day's return of their symbol; options fully repriced at spot × (1 + r) and at
today's implied vol × that day's vol change σ_t/σ_{t−1} from the stored quotes — the contract's own,
else the mean of its underlying's other contracts, else none; a volatility index's options on the
index's own forward model); VaR/ES are the loss quantile and the mean loss beyond it.

Quantile convention (``QUANTILE_CONVENTION``, stated in every payload): with S scenarios sorted from
worst to best portfolio P&L, the tail is the k = ceil(S × (1 − c)) worst (k = 13 at 95 % and 3 at 99 %
of 252 days); VaR is the loss of the k-th worst scenario — an order statistic, **no interpolation**
between scenarios — and ES the mean loss of the k worst. Per-position contributions at 95 % and
99 % sum to the portfolio figures: ES exactly by the tail scenarios' mean; VaR by a kernel average
of the scenarios ranked around the k-th, rescaled to the VaR (``analytics.engines.var``).

Parametric: normal, from the factor covariance of the dollar factor exposures plus each symbol's
specific variance (Euler contributions). All figures are positive USD losses.

Monte Carlo (``monte_carlo``, ``analytics.engines.monte_carlo``): ``MONTE_CARLO_PATHS`` (10,000) seeded
paths of factor returns from the day's factor covariance plus each symbol's specific shock, normal
or Student-t (``MONTE_CARLO_DISTRIBUTION``), every option repriced on every path (from a grid of spot moves,
within a millionth of the spot per share of full repricing: ``monte_carlo.option_change_paths``); VaR/ES by
the historical quantile convention over the paths, per-position contributions, and the simulation
error as a Poisson-bootstrap 95 % interval and standard error of each figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np
import pandas as pd
from django.conf import settings

from analytics.engines import monte_carlo, var
from analytics.engines.book import PositionBook
from analytics.results.base import AgentTool, Need, ResultSpec
from analytics.results.common import rounded, rounded_list
from analytics.results.presentation import ReportSection, Table, money, pct, text
from analytics.results.registry import register
from analytics.results.tooling import truncate
from analytics.services import compute

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

LOOKBACK_DAYS = 252
CONFIDENCES = (0.95, 0.99)
QUANTILE_CONVENTION = (
    "historical: the k = ceil(S x (1 - c)) worst of S daily scenarios form the tail; VaR = loss of the k-th worst "
    "(an order statistic, no interpolation), ES = mean loss of the k worst; parametric: normal, zero mean"
)
MAX_CONTRIBUTIONS = 50


class VarFigures(TypedDict):
    """VaR and expected shortfall (positive USD losses) at 95% and 99%."""

    var_95: float | None
    es_95: float | None
    var_99: float | None
    es_99: float | None


class HistoricalVar(VarFigures):
    observations: int


class SimulationError(TypedDict):
    """The Monte Carlo figures' simulation error at one confidence: Poisson-bootstrap 95% interval and
    standard error (USD)."""

    confidence: float
    var_low: float | None
    var_high: float | None
    var_se: float | None
    es_low: float | None
    es_high: float | None
    es_se: float | None


class MonteCarloVar(VarFigures):
    """Monte Carlo VaR/ES (positive USD losses) and how they were simulated.

    distribution: normal or student_t (factor and specific shocks, same covariance).
    dof: Student-t degrees of freedom (null for normal).
    seed: The simulation's seed (same seed, same figures).
    """

    paths: int
    distribution: str
    dof: float | None
    seed: int
    bootstrap_replicates: int
    simulation_error: list[SimulationError]


class VarContribution(TypedDict):
    """One position's share of the 95% and 99% figures (each column sums to its portfolio figure)."""

    position_id: str
    symbol: str
    historical_var_99: float | None
    historical_es_99: float | None
    parametric_var_99: float | None
    historical_var_95: NotRequired[float | None]  # absent from results stored before they were added
    historical_es_95: NotRequired[float | None]
    parametric_var_95: NotRequired[float | None]
    monte_carlo_var_95: NotRequired[float | None]  # absent from results stored before Monte Carlo
    monte_carlo_es_95: NotRequired[float | None]
    monte_carlo_var_99: NotRequired[float | None]
    monte_carlo_es_99: NotRequired[float | None]


class VarPayload(TypedDict):
    """quantile_convention: How the historical quantile is taken (order statistic, no interpolation)."""

    horizon_days: int
    quantile_convention: NotRequired[str]
    historical: HistoricalVar
    parametric: VarFigures
    monte_carlo: NotRequired[MonteCarloVar]  # absent from results stored before it was added
    contributions: list[VarContribution]


@dataclass(frozen=True)
class VarPrepared:
    """A chunk's shared work: historical P&L (days × positions, USD) and where each position's Monte Carlo P&L
    comes from (``monte_carlo.PositionPaths``: its symbol's simulated return row × market value, or its
    contract's repriced row × quantity × multiplier — each row made once per day and instrument, kept in the
    stage's ``monte_carlo_draws`` across chunks of a run and what-ifs of a process)."""

    historical: np.ndarray
    paths: monte_carlo.PositionPaths


def monte_carlo_settings() -> dict[str, Any]:
    """The simulation's settings (``MONTE_CARLO_*``)."""
    distribution = settings.MONTE_CARLO_DISTRIBUTION
    return {
        "paths": int(settings.MONTE_CARLO_PATHS),
        "distribution": distribution,
        "dof": float(settings.MONTE_CARLO_DOF) if distribution == "student_t" else None,
        "seed": int(settings.MONTE_CARLO_SEED),
    }


class Var(ResultSpec[VarPayload, VarPrepared | None]):
    name = "var"
    title = "Value at risk"
    payload_type = VarPayload
    depends_on = ("greeks", "factor_exposures")
    needs = frozenset({Need.FACTOR_MODEL})
    method = (
        "historical simulation (options revalued), parametric (factor covariance) and Monte Carlo (factor model, "
        "options repriced on a grid of spot moves, within 1e-6 × spot)"
    )
    lookback_days = LOOKBACK_DAYS
    summary = "Value at risk and expected shortfall"
    description = (
        "1-day historical, parametric and Monte Carlo VaR/ES at 95% and 99% (positive USD losses), per position, "
        "with the Monte Carlo simulation error."
    )
    tool = AgentTool(
        description=(
            "One-day Value at Risk and expected shortfall at 95% and 99% (historical, parametric and Monte Carlo with "
            "its simulation error; positive USD losses, also as % of equity), the quantile convention, and the "
            "positions contributing most to the 99% historical VaR with their 95% and 99% contributions."
        ),
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_CONTRIBUTIONS, "default": 10}},
        limits={"rows": MAX_CONTRIBUTIONS},
    )

    def prepare(self, chunk: ChunkContext) -> VarPrepared | None:
        """Every position of the chunk revalued under each historical day, once: P&L (days × positions), USD
        (a missing return counts as 0, no move); and where each position's Monte Carlo P&L comes from."""
        if chunk.stage is None:
            return None
        market = chunk.market
        book = compute.position_book(chunk.positions, chunk.state, market.rate, market.div_yield)
        price_symbols = chunk.positions["price_symbol"].astype(str).to_numpy()
        symbols, column = np.unique(price_symbols, return_inverse=True)
        _, contract = np.unique(chunk.positions["symbol"].astype(str).to_numpy(), return_inverse=True)
        returns = chunk.stage.returns.iloc[-LOOKBACK_DAYS:]
        # Identical positions (same terms, contract and price symbol) get identical P&L: revalued once.
        # Each historical day moves implied vols too, by that day's stored vol change (a day without the
        # contract's own quotes takes its portfolio's other contracts on the underlying: the ratios are taken
        # over every option row, then picked), so identical options of two portfolios are revalued apart.
        vol_ratio = compute.implied_vol_ratios(  # T × the chunk's option rows
            market=market, positions=chunk.positions, dates=returns.index, options_only=True
        )
        owner = pd.factorize(chunk.positions["portfolio_id"].to_numpy())[0]  # a code per portfolio, no text per row
        historical_ids, historical_first = book.identical_rows(column, contract, np.where(book.is_option, owner, -1))
        # Each price symbol's returns made usable once (a tenth of the rows' columns), then a column per revalued row.
        symbol_returns = returns.reindex(columns=symbols).to_numpy(dtype=float)
        symbol_returns = np.where(np.isfinite(symbol_returns), symbol_returns, 0.0)
        # The revalued rows' options (an expired one is not revalued as an option), as columns of the ratios, which
        # cover every option row of the chunk in order.
        option_rows = np.flatnonzero(chunk.positions["is_option"].to_numpy(dtype=bool))
        revalued_options = historical_first[book.is_option[historical_first]]
        pnl = var.historical_position_pnl(
            returns=symbol_returns[:, column[historical_first]],
            book=book.take(historical_first),
            option_vol_ratio=vol_ratio[:, np.searchsorted(option_rows, revalued_options)],
        )
        pnl[~np.isfinite(pnl)] = 0.0  # its own array: cleaned where it is
        return VarPrepared(
            historical=pnl[:, historical_ids],
            paths=self.monte_carlo_paths(chunk, book, price_symbols, symbols.tolist()),
        )

    def monte_carlo_paths(
        self, chunk: ChunkContext, book: PositionBook, price_symbols: np.ndarray, symbols: list[str]
    ) -> monte_carlo.PositionPaths:
        """Each position's Monte Carlo P&L source: the simulated return rows of the chunk's price symbols and the
        repriced rows of its options, from the day's cache (``monte_carlo.PathCache``) or made and kept there."""
        assert chunk.stage is not None
        mc = monte_carlo_settings()
        cache = monte_carlo.path_cache(chunk.stage.monte_carlo_draws)
        rows, keys = monte_carlo.symbol_return_paths(
            symbols=symbols,
            betas=chunk.stage.betas_for(symbols),
            residual_vol=chunk.stage.fit.residual_vol.reindex(symbols).to_numpy(dtype=float),
            factor_cov=chunk.stage.factor_cov_matrix,
            paths=mc["paths"],
            distribution=mc["distribution"],
            dof=mc["dof"] or 5.0,
            seed=mc["seed"],
            cache=cache,
        )
        return monte_carlo.position_paths(
            book=book,
            price_symbols=price_symbols.tolist(),
            symbol_rows=dict(zip(symbols, rows, strict=True)),
            symbol_keys=dict(zip(symbols, keys, strict=True)),
            paths=mc["paths"],
            cache=cache,
        )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: VarPrepared | None) -> VarPayload:
        stage, positions, state = chunk.stage, part.positions, part.state
        assert stage is not None and prepared is not None  # the runner skips it without the factor model
        scenario_pnl = prepared.historical[:, part.rows]
        historical = {c: var.historical_var(scenario_pnl, confidence=c) for c in CONFIDENCES}
        betas = state["beta_matrix"]
        delta_exposure = np.nan_to_num(np.asarray(state["delta_exposure"], dtype=float))
        usable = np.all(np.isfinite(betas), axis=1)
        exposure_matrix = np.where(usable[:, None], delta_exposure[:, None] * np.nan_to_num(betas), 0.0)
        residual = np.asarray(state["residual_vol"], dtype=float)
        # Positions on one symbol share its idiosyncratic shock (a stock and its hedging put offset).
        specific = var.specific_covariance(
            dollar_exposure=delta_exposure,
            residual_vol=np.where(np.isfinite(residual), residual, 0.0),
            group=positions["symbol_code"],
        )
        parametric = {
            c: var.parametric_var(
                exposures=exposure_matrix, factor_cov=stage.factor_cov_matrix, specific_var=specific, confidence=c
            )
            for c in CONFIDENCES
        }
        mc_settings = monte_carlo_settings()
        mc_pnl, mc_total = prepared.paths.pnl_and_total(part.rows)  # positions × paths, and each path's total
        order = monte_carlo.worst_paths(mc_total, confidences=CONFIDENCES)  # ranked once for both
        simulated = monte_carlo.path_tail_figures(mc_pnl, confidences=CONFIDENCES, total=mc_total, order=order)
        errors = monte_carlo.bootstrap_intervals(
            mc_total, confidences=CONFIDENCES, seed=mc_settings["seed"], order=order
        )
        mc_var = {c: rounded_list(simulated[c].component_var) for c in CONFIDENCES}
        mc_es = {c: rounded_list(simulated[c].component_es) for c in CONFIDENCES}
        historical_var = {c: rounded_list(historical[c].component_var) for c in CONFIDENCES}
        historical_es = {c: rounded_list(historical[c].component_es) for c in CONFIDENCES}
        parametric_var = {c: rounded_list(parametric[c].component_var) for c in CONFIDENCES}
        contributions: list[VarContribution] = [
            {
                "position_id": pid,
                "symbol": sym,
                "historical_var_99": hv99,
                "historical_es_99": he99,
                "parametric_var_99": pv99,
                "historical_var_95": hv95,
                "historical_es_95": he95,
                "parametric_var_95": pv95,
                "monte_carlo_var_95": mv95,
                "monte_carlo_es_95": me95,
                "monte_carlo_var_99": mv99,
                "monte_carlo_es_99": me99,
            }
            for pid, sym, hv99, he99, pv99, hv95, he95, pv95, mv95, me95, mv99, me99 in zip(
                positions["position_key"].tolist(),
                positions["symbol"].tolist(),
                historical_var[0.99],
                historical_es[0.99],
                parametric_var[0.99],
                historical_var[0.95],
                historical_es[0.95],
                parametric_var[0.95],
                mc_var[0.95],
                mc_es[0.95],
                mc_var[0.99],
                mc_es[0.99],
                strict=True,
            )
        ]
        return {
            "horizon_days": 1,
            "quantile_convention": QUANTILE_CONVENTION,
            "historical": {
                "var_95": rounded(historical[0.95].var),
                "es_95": rounded(historical[0.95].es),
                "var_99": rounded(historical[0.99].var),
                "es_99": rounded(historical[0.99].es),
                "observations": int(scenario_pnl.shape[0]),
            },
            "parametric": {
                "var_95": rounded(parametric[0.95].var),
                "es_95": rounded(parametric[0.95].es),
                "var_99": rounded(parametric[0.99].var),
                "es_99": rounded(parametric[0.99].es),
            },
            "monte_carlo": {
                "var_95": rounded(simulated[0.95].var),
                "es_95": rounded(simulated[0.95].es),
                "var_99": rounded(simulated[0.99].var),
                "es_99": rounded(simulated[0.99].es),
                "paths": int(mc_settings["paths"]),
                "distribution": mc_settings["distribution"],
                "dof": mc_settings["dof"],
                "seed": mc_settings["seed"],
                "bootstrap_replicates": monte_carlo.BOOTSTRAP_REPLICATES,
                "simulation_error": [
                    {
                        "confidence": c,
                        "var_low": rounded(errors[c].var_low),
                        "var_high": rounded(errors[c].var_high),
                        "var_se": rounded(errors[c].var_se),
                        "es_low": rounded(errors[c].es_low),
                        "es_high": rounded(errors[c].es_high),
                        "es_se": rounded(errors[c].es_se),
                    }
                    for c in CONFIDENCES
                ],
            },
            "contributions": contributions,
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: VarPrepared | None) -> dict[str, Any]:
        scenarios = LOOKBACK_DAYS if prepared is None else int(prepared.historical.shape[0])
        stage = chunk.stage
        return {
            "monte_carlo": monte_carlo_settings(),
            "covariance_estimator": stage.covariance_estimator if stage is not None else "equal_weighted",
            "confidences": list(CONFIDENCES),
            "quantile_convention": QUANTILE_CONVENTION,
            "tail_sizes": {str(c): var.tail_size(scenarios, c) for c in CONFIDENCES},
            "vol_changes": "each day's implied-vol ratio from stored quotes (contract, else underlying mean, else 1)",
        }

    def tool_data(
        self, payload: VarPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        contributions = sorted(payload["contributions"], key=lambda c: -(c["historical_var_99"] or 0.0))
        kept, marker = truncate(contributions, int(args.get("limit", 10)))
        equity = float(portfolio.equity_balance) if portfolio.equity_balance is not None else None
        historical = payload["historical"]
        figures = {"var_95": historical["var_95"], "es_95": historical["es_95"], "var_99": historical["var_99"]}
        figures["es_99"] = historical["es_99"]
        as_pct = {k: v / equity for k, v in figures.items() if v is not None and equity}
        data = {
            "horizon_days": payload["horizon_days"],
            "quantile_convention": payload.get("quantile_convention", QUANTILE_CONVENTION),
            "historical": historical,
            "parametric": payload["parametric"],
            "monte_carlo": {k: v for k, v in payload.get("monte_carlo", {}).items() if k != "simulation_error"},
            "monte_carlo_simulation_error": payload.get("monte_carlo", {}).get("simulation_error", []),
            "historical_pct_of_equity": as_pct,
            "equity_balance": equity,
            "contributions": kept,
        }
        return data, marker

    def report(self, payload: VarPayload) -> ReportSection:
        historical, parametric = payload["historical"], payload["parametric"]
        section = ReportSection(
            facts=[
                ("Horizon", (text(payload["horizon_days"]), " day(s)")),
                ("Historical observations", text(historical["observations"])),
                ("Quantile convention", text(payload.get("quantile_convention", QUANTILE_CONVENTION))),
            ],
            tables=[
                Table(
                    ["Method", "VaR 95%", "ES 95%", "VaR 99%", "ES 99%"],
                    [
                        ["Historical", *(money(historical[k]) for k in ("var_95", "es_95", "var_99", "es_99"))],  # type: ignore[literal-required]
                        ["Parametric", *(money(parametric[k]) for k in ("var_95", "es_95", "var_99", "es_99"))],  # type: ignore[literal-required]
                    ],
                )
            ],
        )
        simulated = payload.get("monte_carlo")
        if simulated is not None:
            figures = [money(simulated[k]) for k in ("var_95", "es_95", "var_99", "es_99")]  # type: ignore[literal-required]
            section.tables[0] = Table(
                section.tables[0].headers,
                [*section.tables[0].rows, [f"Monte Carlo ({simulated['paths']:,} paths)", *figures]],
            )
            shocks = simulated["distribution"] + (f", {simulated['dof']:g} dof" if simulated["dof"] else "")
            section.facts.append(("Monte Carlo shocks", text(shocks)))
            section.tables.append(
                Table(
                    ["Confidence", "VaR", "VaR 95% interval", "VaR s.e.", "ES", "ES 95% interval", "ES s.e."],
                    [
                        [
                            pct(e["confidence"], 0),
                            money(simulated["var_95" if e["confidence"] == 0.95 else "var_99"]),
                            (money(e["var_low"]), " – ", money(e["var_high"])),
                            money(e["var_se"]),
                            money(simulated["es_95" if e["confidence"] == 0.95 else "es_99"]),
                            (money(e["es_low"]), " – ", money(e["es_high"])),
                            money(e["es_se"]),
                        ]
                        for e in simulated["simulation_error"]
                    ],
                    title="Monte Carlo simulation error (Poisson bootstrap)",
                )
            )
        contributions = sorted(payload["contributions"], key=lambda c: -(c["historical_var_99"] or 0.0))[:10]
        if contributions:
            rows = [
                [
                    text(c["symbol"]),
                    money(c.get("historical_var_95")),
                    money(c.get("historical_es_95")),
                    money(c["historical_var_99"]),
                    money(c["historical_es_99"]),
                    money(c["parametric_var_99"]),
                ]
                for c in contributions
            ]
            headers = ["Symbol", "Hist. VaR 95%", "Hist. ES 95%", "Hist. VaR 99%", "Hist. ES 99%", "Param. VaR 99%"]
            section.tables.append(Table(headers, rows, title="Largest contributions"))
        return section


SPEC = register(Var())

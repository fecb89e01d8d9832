"""``factor_exposures``: the portfolio's betas and dollar exposures to the 7 factors and rates.

Each position's dollar exposure to a factor = its delta exposure × the beta of its price symbol
(the underlying for options) from the day's factor model: styles are spreads over SPY, rates are
TLT's return. Portfolio betas are the dollar exposures per unit of the basis — the equity balance
when set, else the gross exposure. Betas are never capped; a position without a usable beta is
left out of the sums and listed in ``excluded``.

Fit flags, per position (``flags``: codes) and for the portfolio (``flags``: code, message, symbols):

- ``extreme_beta`` — a factor beta (or the univariate market beta) with |β| > 3: flagged, never capped;
- ``limited_history`` / ``insufficient_history`` / ``no_data`` — fewer than 252 / 60 / no observations;
- ``low_r_squared`` — the factors explain less than 10 % of the symbol's daily variance (R² < 0.10):
  its betas say little and most of its risk is specific;
- ``volatility_index`` — a volatility index (VIX): its linear betas are shown, but scenarios, stress
  and VaR move it by its own model (``analytics.engines.volatility_index``), never by these betas;
- ``collinear_factors`` (portfolio only) — the day's factor matrix has a condition number above 30.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

import numpy as np

from analytics.results.base import AgentTool, MetricColumns, Need, ResultSpec
from analytics.results.common import rounded, rounded_list
from analytics.results.presentation import Bar, BarChart, ReportSection, Table, finite, money, num, text
from analytics.results.registry import register
from analytics.results.tooling import abs_key, truncate
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES, VOLATILITY_INDICES

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_FACTOR_POSITIONS = 50
EXTREME_BETA = 3.0
LOW_R_SQUARED = 0.10
COLLINEAR_CONDITION = 30.0
FLAG_MESSAGES = {
    "extreme_beta": "|beta| > 3 on some factor: flagged, never capped; linear moves of this size are unreliable",
    "limited_history": "fewer than 252 daily observations: betas less reliable",
    "insufficient_history": "fewer than 60 daily observations: no betas",
    "no_data": "no price history: no betas",
    "low_r_squared": "the factors explain less than 10% of its daily variance (R² < 0.10)",
    "volatility_index": "a volatility index: its linear betas are shown, but scenarios, stress and VaR move it "
    "by its own model (log-level sensitivity to the market, stated vol shifts), not by these betas",
    "collinear_factors": "the factor return matrix is ill-conditioned (condition number > 30): betas unstable",
}


class FactorPosition(TypedDict):
    """One position's betas (of its price symbol) and dollar exposures.

    quality: ok (≥252 observations), limited (60–251), insufficient (<60) or no_data.
    flags: Fit flags of its price symbol: extreme_beta, limited_history, insufficient_history, no_data,
        low_r_squared, volatility_index (see the portfolio's flags for what each means).
    """

    position_id: str
    symbol: str
    price_symbol: str
    delta_exposure: float | None
    betas: dict[str, float | None]
    exposures: dict[str, float]
    quality: str
    flags: NotRequired[list[str]]  # absent from results stored before it was added


class FitFlag(TypedDict):
    """A fit flag of the portfolio: what it means and the price symbols it applies to."""

    code: str
    message: str
    symbols: list[str]


class FactorExposuresPayload(TypedDict):
    """Betas per unit of ``basis_value`` and dollar exposures (USD) per factor.

    beta_basis: equity_balance when the portfolio has one, else gross_exposure.
    market_beta_univariate: Σ delta exposure × univariate beta to SPY, per unit of the basis.
    condition_number: Of the day's factor return matrix (large = collinear factors).
    quality_flags: Price symbols whose betas are not of quality ok.
    excluded: Price symbols left out of the sums (no usable beta or exposure).
    flags: Every fit flag of the portfolio's price symbols (|beta| > 3, short history, low R²,
        volatility index) and of the factor matrix (collinear factors), each with its symbols.
    """

    factors: list[str]
    portfolio_betas: dict[str, float | None]
    dollar_exposures: dict[str, float | None]
    beta_basis: Literal["equity_balance", "gross_exposure"]
    basis_value: float | None
    market_beta_univariate: float | None
    condition_number: float | None
    positions: list[FactorPosition]
    quality_flags: dict[str, str]
    excluded: list[str]
    flags: NotRequired[list[FitFlag]]


SymbolFlags = dict[str, list[str]]  # each flagged price symbol's fit flag codes


class FactorExposures(ResultSpec[FactorExposuresPayload, SymbolFlags | None]):
    name = "factor_exposures"
    title = "Factor exposures"
    payload_type = FactorExposuresPayload
    aliases = ("factors", "factor_exposure")
    depends_on = ("overview", "greeks")
    needs = frozenset({Need.FACTOR_MODEL})
    method = "OLS factor betas (styles as spreads over SPY, rates = TLT) × delta exposure"
    lookback_days = FACTOR_LOOKBACK_DAYS
    summary = "Portfolio and per-position factor betas and dollar exposures"
    description = "Betas to the 7 style factors and rates, and dollar exposures, of the portfolio and each position."
    legacy_paths = ("data/portfolios/{portfolio_id}/factor_exposures",)
    tool = AgentTool(
        description=(
            "Portfolio factor betas (market, value, growth, momentum, quality, size, low volatility, interest rate), "
            "dollar exposure per factor, the beta basis, condition number, fit flags (|beta| > 3, short history, low "
            "R², volatility index, collinear factors) with their symbols, and optionally the "
            "positions with the largest exposures."
        ),
        properties={
            "include_positions": {"type": "boolean", "default": False},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FACTOR_POSITIONS, "default": 10},
        },
        limits={"rows": MAX_FACTOR_POSITIONS},
    )

    def prepare(self, chunk: ChunkContext) -> SymbolFlags | None:
        """The fit flags of every price symbol of the chunk (from the day's factor model), once per chunk."""
        if chunk.stage is None:
            return None
        return _symbol_flags(chunk.stage, sorted(set(chunk.positions["price_symbol"].astype(str).tolist())))

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: SymbolFlags | None) -> FactorExposuresPayload:
        stage, state, positions, info = chunk.stage, part.state, part.positions, part.info
        assert stage is not None  # the runner skips kinds needing the factor model without one
        betas = state["beta_matrix"]
        delta_exposure = np.asarray(state["delta_exposure"], dtype=float)
        usable = np.isfinite(delta_exposure) & np.all(np.isfinite(betas), axis=1)
        exposure_matrix = np.where(usable[:, None], delta_exposure[:, None] * betas, 0.0)
        dollar = exposure_matrix.sum(axis=0)
        market_value = np.asarray(state["market_value"], dtype=float)
        gross = float(np.nansum(np.abs(np.where(np.isfinite(market_value), market_value, 0.0))))
        basis_name: Literal["equity_balance", "gross_exposure"]
        if info.equity_balance:
            basis_name, basis = "equity_balance", info.equity_balance
        else:
            basis_name, basis = "gross_exposure", gross
        market_beta = np.asarray(state["market_beta"], dtype=float)
        univariate = float(np.nansum(np.where(usable, delta_exposure * market_beta, 0.0))) / basis if basis else None
        held = sorted(set(positions["price_symbol"].tolist()))
        chunk_flags = prepared if prepared is not None else _symbol_flags(stage, held)
        symbol_flags = {symbol: chunk_flags[symbol] for symbol in held if symbol in chunk_flags}
        beta_rows = np.round(betas, 4).tolist()
        exposure_rows = np.round(exposure_matrix, 2).tolist()
        rows: list[FactorPosition] = [
            {
                "position_id": position_id,
                "symbol": symbol,
                "price_symbol": price_symbol,
                "delta_exposure": delta,
                "betas": {f: (b if math.isfinite(b) else None) for f, b in zip(FACTOR_NAMES, beta_row, strict=True)},
                "exposures": dict(zip(FACTOR_NAMES, exposure_row, strict=True)) if ok else {},
                "quality": quality,
                "flags": symbol_flags.get(price_symbol, []),
            }
            for position_id, symbol, price_symbol, delta, beta_row, exposure_row, ok, quality in zip(
                positions["position_key"].tolist(),
                positions["symbol"].tolist(),
                positions["price_symbol"].tolist(),
                rounded_list(delta_exposure),
                beta_rows,
                exposure_rows,
                usable.tolist(),
                state["beta_quality"].tolist(),
                strict=True,
            )
        ]
        return {
            "factors": list(FACTOR_NAMES),
            "portfolio_betas": {
                f: rounded(d / basis, 4) if basis else None for f, d in zip(FACTOR_NAMES, dollar, strict=True)
            },
            "dollar_exposures": {f: rounded(d) for f, d in zip(FACTOR_NAMES, dollar, strict=True)},
            "beta_basis": basis_name,
            "basis_value": rounded(basis),
            "market_beta_univariate": rounded(univariate, 4),
            "condition_number": rounded(stage.condition_number, 3),
            "positions": rows,
            "quality_flags": {r["price_symbol"]: r["quality"] for r in rows if r["quality"] != "ok"},
            "excluded": sorted({r["price_symbol"] for r, ok in zip(rows, usable, strict=True) if not ok}),
            "flags": _portfolio_flags(symbol_flags, stage.condition_number),
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: SymbolFlags | None) -> dict[str, Any]:
        assert chunk.stage is not None
        return {"condition_number": chunk.stage.condition_number, "observations": chunk.stage.n_observations}

    def metric_columns(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: FactorExposuresPayload, prepared: SymbolFlags | None
    ) -> MetricColumns:
        return {
            "position_id": part.positions["position_key"].tolist(),
            "factor_betas": [row["betas"] for row in payload["positions"]],
            "factor_exposures": [row["exposures"] for row in payload["positions"]],
        }

    def tool_data(
        self, payload: FactorExposuresPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data: dict[str, Any] = {
            "factors": payload["factors"],
            "portfolio_betas": payload["portfolio_betas"],
            "dollar_exposures": payload["dollar_exposures"],
            "beta_basis": payload["beta_basis"],
            "basis_value": payload["basis_value"],
            "market_beta_univariate": payload["market_beta_univariate"],
            "condition_number": payload["condition_number"],
            "quality_flags": payload["quality_flags"],
            "flags": payload.get("flags", []),
        }
        marker: dict[str, Any] = {"truncated": False}
        if args.get("include_positions"):
            positions = sorted(payload["positions"], key=abs_key("delta_exposure"))
            data["positions"], marker = truncate(positions, int(args.get("limit", 10)))
        return data, marker

    def report(self, payload: FactorExposuresPayload) -> ReportSection:
        betas, dollars = payload["portfolio_betas"], payload["dollar_exposures"]
        factors = payload["factors"] or list(betas)
        section = ReportSection(
            facts=[
                ("Beta basis", (text(payload["beta_basis"]), " (", money(payload["basis_value"]), ")")),
                ("Market beta (univariate)", num(payload["market_beta_univariate"])),
                ("Factor matrix condition number", num(payload["condition_number"], decimals=1)),
            ],
            tables=[
                Table(
                    ["Factor", "Portfolio beta", "Dollar exposure"],
                    [[f, num(betas.get(f)), money(dollars.get(f))] for f in factors],
                )
            ],
        )
        fit_flags = payload.get("flags") or []
        if fit_flags:
            section.tables.append(
                Table(
                    ["Flag", "Symbols", "Meaning"],
                    [[text(f["code"]), text(", ".join(f["symbols"])), text(f["message"])] for f in fit_flags],
                    title="Fit flags",
                )
            )
        flags = {s: q for s, q in payload["quality_flags"].items() if q != "ok"}
        if flags:
            section.note = "Betas with limited history: " + ", ".join(f"{s} ({q})" for s, q in sorted(flags.items()))
        bars = [
            Bar(str(factor), value, "neutral" if value >= 0 else "negative")
            for factor in factors
            if (value := finite(betas.get(factor))) is not None
        ]
        if bars:
            section.charts.append(BarChart(key="factor-betas", title="Portfolio factor betas", bars=bars))
        return section


def _symbol_flags(stage: Any, symbols: list[str]) -> dict[str, list[str]]:
    """The fit flags of each price symbol (module doc), from the day's factor model."""
    fit = stage.fit
    betas = fit.betas.reindex(index=symbols, columns=list(FACTOR_NAMES)).to_numpy(dtype=float)
    univariate = stage.univariate_beta.reindex(symbols).to_numpy(dtype=float)
    r_squared = getattr(fit, "r_squared", None)
    r2 = r_squared.reindex(symbols).to_numpy(dtype=float) if r_squared is not None else np.full(len(symbols), np.nan)
    quality = fit.quality.reindex(symbols).fillna("no_data").tolist()
    with np.errstate(invalid="ignore"):
        extreme = (np.abs(np.nan_to_num(betas)) > EXTREME_BETA).any(axis=1) | (np.abs(univariate) > EXTREME_BETA)
        low_r2 = r2 < LOW_R_SQUARED
    out: dict[str, list[str]] = {}
    history = {"limited": "limited_history", "insufficient": "insufficient_history", "no_data": "no_data"}
    for k, symbol in enumerate(symbols):
        codes = []
        if extreme[k]:
            codes.append("extreme_beta")
        if quality[k] in history:
            codes.append(history[quality[k]])
        if low_r2[k]:
            codes.append("low_r_squared")
        if symbol in VOLATILITY_INDICES:
            codes.append("volatility_index")
        if codes:
            out[symbol] = codes
    return out


def _portfolio_flags(symbol_flags: dict[str, list[str]], condition_number: float) -> list[FitFlag]:
    """One entry per flag code with the symbols carrying it, and the factor matrix's own flag."""
    flags: list[FitFlag] = []
    for code in FLAG_MESSAGES:
        symbols = sorted(s for s, codes in symbol_flags.items() if code in codes)
        if symbols:
            flags.append({"code": code, "message": FLAG_MESSAGES[code], "symbols": symbols})
    if math.isfinite(condition_number) and condition_number > COLLINEAR_CONDITION:
        message = f"{FLAG_MESSAGES['collinear_factors']} (condition number {condition_number:.1f})"
        flags.append({"code": "collinear_factors", "message": message, "symbols": []})
    return flags


SPEC = register(FactorExposures())

"""``correlations``: how the portfolio's holdings move together over the last 90 sessions.

Pearson correlations of daily log returns (pairwise complete, at least 20 common days) between the
price symbols holding at least 1% of gross exposure (the largest 60 at most); clusters of symbols
correlated above 0.7; the average |correlation|, a diversification score and the effective number
of positions (inverse Herfindahl of the gross weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd

from analytics.engines import correlations
from analytics.results.base import AgentTool, ResultSpec
from analytics.results.common import rounded, rounded_list
from analytics.results.presentation import Heatmap, ReportSection, Table, finite, num, text
from analytics.results.registry import register
from analytics.results.tooling import truncate

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

WINDOW_DAYS = 90
MIN_WEIGHT = 0.01  # positions below 1% of gross exposure are left out of the matrix
MAX_SYMBOLS = 60  # the largest 60 by gross exposure at most
CLUSTER_THRESHOLD = 0.7
MAX_MATRIX_SYMBOLS = 25
MAX_PAIRS = 25


class Cluster(TypedDict):
    """Symbols correlated above the threshold, named by a shared tag, their sector or their symbols."""

    name: str
    symbols: list[str]
    average_correlation: float | None


class ExcludedSymbol(TypedDict):
    symbol: str
    reason: str


class CorrelationsPayload(TypedDict):
    """Correlations of ``symbols`` (``matrix`` rows and columns in that order, null where too few common days).

    diversification_score: 1 − the gross-weighted average correlation.
    effective_positions: Inverse Herfindahl index of the gross weights.
    """

    symbols: list[str]
    matrix: list[list[float | None]]
    window_days: int
    min_weight: float
    cluster_threshold: float
    clusters: list[Cluster]
    average_abs_correlation: float | None
    diversification_score: float | None
    effective_positions: float | None
    excluded: list[ExcludedSymbol]


@dataclass(frozen=True)
class CorrelationWindow:
    """The last 90 daily log returns of every symbol of a chunk with at least 30 prices in the window."""

    returns: np.ndarray  # T × S
    column: dict[str, int]

    def matrix(self, symbols: list[str]) -> pd.DataFrame:
        """Pairwise-complete Pearson matrix of ``symbols`` (each must be in the window)."""
        values = self.returns[:, [self.column[s] for s in symbols]]
        return pd.DataFrame(correlations.pairwise_pearson(values, min_periods=20), index=symbols, columns=symbols)


class Correlations(ResultSpec[CorrelationsPayload, CorrelationWindow]):
    name = "correlations"
    title = "Correlations"
    payload_type = CorrelationsPayload
    depends_on = ("overview",)
    method = "Pearson on daily log returns"
    lookback_days = WINDOW_DAYS
    summary = "Correlation matrix, clusters and diversification"
    description = "Return correlations of the portfolio's symbols over the window in provenance."
    tool = AgentTool(
        description=(
            "Correlations between the portfolio's holdings: summary (average |correlation|, diversification score, "
            "effective number of positions), clusters of co-moving symbols, the most correlated pairs and a capped "
            "matrix (optionally for chosen symbols)."
        ),
        properties={
            "symbols": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": MAX_MATRIX_SYMBOLS},
            "max_symbols": {"type": "integer", "minimum": 2, "maximum": MAX_MATRIX_SYMBOLS, "default": 10},
            "pairs": {"type": "integer", "minimum": 1, "maximum": MAX_PAIRS, "default": 5},
        },
        limits={"symbols": MAX_MATRIX_SYMBOLS, "pairs": MAX_PAIRS},
    )

    def prepare(self, chunk: ChunkContext) -> CorrelationWindow:
        """Log returns of the window, once per chunk; each portfolio then correlates only its own symbols
        (60 × 60 from matrix products: cheaper than one universe-wide matrix)."""
        held = sorted(set(chunk.positions["price_symbol"]) & set(chunk.market.prices.columns))
        recent = chunk.market.prices[held].iloc[-WINDOW_DAYS - 1 :]
        counts = recent.count()
        usable = counts[counts >= 30].index.tolist()
        returns = correlations.log_returns(recent[usable]).to_numpy(dtype=float)
        return CorrelationWindow(returns=returns, column={s: k for k, s in enumerate(usable)})

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: CorrelationWindow) -> CorrelationsPayload:
        positions, state, window = part.positions, part.state, prepared
        gross_by_symbol: dict[str, float] = {}
        for symbol, exposure in zip(
            positions["price_symbol"].tolist(),
            np.abs(np.nan_to_num(np.asarray(state["delta_exposure"], dtype=float))).tolist(),
            strict=True,
        ):
            gross_by_symbol[symbol] = gross_by_symbol.get(symbol, 0.0) + exposure
        # Largest gross exposure first; ties by symbol (stable sort over the sorted names).
        ranked = sorted(sorted(gross_by_symbol), key=lambda s: -gross_by_symbol[s])
        total = float(sum(gross_by_symbol.values()))
        weights = {s: gross_by_symbol[s] / total if total else gross_by_symbol[s] for s in ranked}
        excluded: list[ExcludedSymbol] = []
        keep: list[str] = []
        for symbol in ranked:
            if weights[symbol] < MIN_WEIGHT:
                excluded.append({"symbol": symbol, "reason": f"below {MIN_WEIGHT:.0%} of gross exposure"})
            elif len(keep) >= MAX_SYMBOLS:
                excluded.append({"symbol": symbol, "reason": f"beyond the largest {MAX_SYMBOLS}"})
            elif symbol not in window.column:
                excluded.append({"symbol": symbol, "reason": "fewer than 30 prices in the window"})
            else:
                keep.append(symbol)
        matrix = window.matrix(keep) if keep else pd.DataFrame()
        values = matrix.to_numpy(dtype=float)
        w = np.array([weights[s] for s in keep], dtype=float)
        clusters: list[Cluster] = []
        tag_sets: dict[str, set[str]] = {symbol: set() for symbol in keep}
        for symbol, tags in zip(positions["price_symbol"], positions["tags"], strict=True):
            if symbol in tag_sets:
                tag_sets[symbol].update(tags)
        index = {symbol: k for k, symbol in enumerate(keep)}
        sectors = chunk.market.sectors
        for members in correlations.correlation_clusters(matrix, threshold=CLUSTER_THRESHOLD) if keep else []:
            shared = set.intersection(*(tag_sets[m] for m in members))
            member_sectors = {sectors.get(m, "") for m in members}
            if shared:
                name = sorted(shared)[0]
            elif len(member_sectors) == 1 and "" not in member_sectors:
                name = member_sectors.pop()
            else:
                name = " / ".join(members[:3]) + (" …" if len(members) > 3 else "")
            at = [index[m] for m in members]
            sub = values[np.ix_(at, at)]
            off = sub[~np.eye(len(members), dtype=bool)]
            clusters.append({"name": name, "symbols": members, "average_correlation": rounded(off.mean(), 4)})
        flat = rounded_list(values.ravel(), 4)
        n = len(keep)
        return {
            "symbols": keep,
            "matrix": [flat[i * n : (i + 1) * n] for i in range(n)],
            "window_days": WINDOW_DAYS,
            "min_weight": MIN_WEIGHT,
            "cluster_threshold": CLUSTER_THRESHOLD,
            "clusters": clusters,
            "average_abs_correlation": rounded(correlations.average_abs_correlation(matrix), 4) if n > 1 else None,
            "diversification_score": rounded(correlations.diversification_score(matrix, w), 4) if n > 1 else None,
            "effective_positions": rounded(correlations.effective_positions(list(weights.values())), 3)
            if total
            else None,
            "excluded": excluded,
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: CorrelationWindow) -> dict[str, Any]:
        return {"min_weight": MIN_WEIGHT, "cluster_threshold": CLUSTER_THRESHOLD}

    def tool_data(
        self, payload: CorrelationsPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        symbols, matrix = payload["symbols"], payload["matrix"]
        pairs = [
            {"a": symbols[i], "b": symbols[j], "correlation": matrix[i][j]}
            for i in range(len(symbols))
            for j in range(i + 1, len(symbols))
            if matrix[i][j] is not None
        ]
        pairs.sort(key=lambda p: -(p["correlation"] or 0.0))
        top_pairs, pair_marker = truncate(pairs, int(args.get("pairs", 5)))
        wanted = [s.upper() for s in args.get("symbols") or []]
        chosen = [s for s in symbols if s.upper() in wanted] if wanted else symbols
        chosen_kept, matrix_marker = truncate(chosen, int(args.get("max_symbols", 10)))
        index = {s: i for i, s in enumerate(symbols)}
        sub = [[matrix[index[a]][index[b]] for b in chosen_kept] for a in chosen_kept]
        data = {
            "window_days": payload["window_days"],
            "average_abs_correlation": payload["average_abs_correlation"],
            "diversification_score": payload["diversification_score"],
            "effective_positions": payload["effective_positions"],
            "clusters": payload["clusters"],
            "top_pairs": top_pairs,
            "matrix": {"symbols": chosen_kept, "values": sub},
            "unknown_symbols": [s for s in wanted if s not in {x.upper() for x in symbols}],
            "excluded": payload["excluded"],
            "symbol_count": len(symbols),
        }
        truncated = pair_marker["truncated"] or matrix_marker["truncated"]
        return data, {"truncated": truncated, "matrix_total": matrix_marker["total"]}

    def report(self, payload: CorrelationsPayload) -> ReportSection:
        section = ReportSection(
            facts=[
                ("Window", (text(payload["window_days"]), " trading days")),
                ("Symbols", text(len(payload["symbols"]))),
                ("Average |correlation|", num(payload["average_abs_correlation"])),
                ("Diversification score", num(payload["diversification_score"])),
                ("Effective positions", num(payload["effective_positions"], decimals=1)),
            ]
        )
        if payload["clusters"]:
            rows = [
                [text(c["name"]), ", ".join(c["symbols"]), num(c["average_correlation"])] for c in payload["clusters"]
            ]
            section.tables.append(Table(["Cluster", "Symbols", "Average correlation"], rows, title="Clusters"))
        if payload["excluded"]:
            section.note = "Excluded: " + ", ".join(f"{e['symbol']} ({e['reason']})" for e in payload["excluded"])
        symbols, matrix = [str(s) for s in payload["symbols"]], payload["matrix"]
        if len(symbols) >= 2 and len(matrix) == len(symbols) and all(len(row) == len(symbols) for row in matrix):
            cells = [[finite(value) for value in row] for row in matrix]
            section.charts.append(Heatmap(key="correlations", title="Correlation matrix", labels=symbols, matrix=cells))
        return section


SPEC = register(Correlations())

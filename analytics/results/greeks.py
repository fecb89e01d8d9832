"""``greeks``: Black–Scholes–Merton Greeks of every option, per share and per position, and their totals.

Per-share Greeks (``delta`` … ``rho``): theta per calendar day, vega per vol point, rho per 1% of
rate. Position Greeks multiply by signed quantity × multiplier; dollar delta = delta × quantity ×
multiplier × spot. Each row carries the inputs that produced it (spot, strike, years to expiry,
implied vol and its source, rate, dividend yield). Expired options are listed, not priced; an option
on its expiration day has its intrinsic value and delta 1 / −1 / 0 by moneyness. A volatility-index
option (VIX) has the Greeks of Black-76 on the index's forward (``engines.volatility_index``): delta
and gamma per index point of the spot index.

Share deltas only add up within one underlying: ``by_underlying`` gives, per underlying, the share
delta (stock held + the options' delta × contracts × multiplier), the dollar delta, gamma and dollar
gamma, and the options' theta, vega and rho. The portfolio ``totals`` add only what is in dollars
(dollar delta, dollar gamma, theta, vega, rho); ``totals.delta``, ``totals.gamma`` and
``totals.stock_share_delta`` add shares of different underlyings and are **deprecated** (kept for
compatibility; use ``by_underlying``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import numpy as np

from analytics.results.base import AgentTool, MetricColumns, Need, ResultSpec
from analytics.results.common import GREEK_NAMES, finite, metric_column, rounded, rounded_each, rounded_list
from analytics.results.presentation import ReportSection, Table, money, num, pct, quantity, text
from analytics.results.registry import register
from analytics.results.tooling import abs_key, truncate
from analytics.services import compute
from core.typed_serializers import IsoDate

if TYPE_CHECKING:
    from analytics.services.columns import Columns
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_GREEK_POSITIONS = 50


class GreekTotals(TypedDict):
    """Sums over the live options, in USD (theta per day, vega per vol point, rho per 1% of rate).

    delta: Deprecated: the options' share deltas added across different underlyings (not a risk
        figure); use by_underlying.
    gamma: Deprecated: the options' gamma in shares per $1 added across underlyings; use by_underlying.
    stock_share_delta: Deprecated: shares of stock held, added across underlyings; use by_underlying.
    """

    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    dollar_delta: float | None
    dollar_gamma: float | None
    stock_share_delta: float | None


class GreeksPosition(TypedDict):
    """One option: its Greeks per share and per position, and the inputs that produced them."""

    position_id: str
    symbol: str
    underlying: str
    position_type: str
    quantity: float
    strike: float | None
    expiration: IsoDate | None
    expired: bool
    spot: float | None
    years_to_expiry: float | None
    implied_vol: float | None
    implied_vol_source: str
    rate: float
    div_yield: float
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    position_delta: float | None
    position_gamma: float | None
    position_theta: float | None
    position_vega: float | None
    position_rho: float | None
    dollar_delta: float | None
    dollar_gamma: float | None


class UnderlyingGreeks(TypedDict):
    """The Greeks of one underlying's positions (its stock and its live options).

    share_delta: Shares of this underlying: stock held + Σ option delta × contracts × multiplier.
    stock_shares: Shares of stock held (delta 1 each).
    option_share_delta: Σ option delta × contracts × multiplier, in shares.
    dollar_delta: share_delta × spot (USD).
    gamma: Σ option gamma × contracts × multiplier: change of share_delta per $1 (per index point) of spot.
    dollar_gamma: P&L from gamma alone for a 1% move of the underlying (USD).
    theta: USD per calendar day. vega: USD per vol point. rho: USD per 1% of rate.
    """

    spot: float | None
    share_delta: float | None
    stock_shares: float | None
    option_share_delta: float | None
    dollar_delta: float | None
    gamma: float | None
    dollar_gamma: float | None
    theta: float | None
    vega: float | None
    rho: float | None
    options: int


class GreeksPayload(TypedDict):
    """by_underlying: Per-underlying share and dollar delta and the options' Greeks (absent before they were added)."""

    totals: GreekTotals
    positions: list[GreeksPosition]
    by_underlying: NotRequired[dict[str, UnderlyingGreeks]]


TOOL_POSITION_FIELDS = (
    "position_id", "symbol", "underlying", "position_type", "quantity", "strike", "expiration", "expired", "spot",
    "years_to_expiry", "implied_vol", "implied_vol_source", "delta", "position_delta", "position_gamma",
    "position_theta", "position_vega", "position_rho", "dollar_delta", "dollar_gamma",
)  # fmt: skip
METRIC_GREEKS = (*GREEK_NAMES, *(f"position_{n}" for n in GREEK_NAMES), "dollar_delta", "dollar_gamma")


class Greeks(ResultSpec[GreeksPayload, None]):
    name = "greeks"
    title = "Options Greeks"
    payload_type = GreeksPayload
    depends_on = ("overview",)
    needs = frozenset({Need.SYMBOL_STAGE})
    method = "Black-Scholes-Merton (analytic)"
    lookback_days = compute.REALISED_VOL_DAYS
    summary = "Portfolio and per-position Greeks with their inputs"
    description = (
        "Black–Scholes–Merton Greeks per option (per share) and per position, with spot, strike, years to expiry, "
        "implied vol and its source, rate and dividend yield of each row."
    )
    tool = AgentTool(
        description=(
            "Portfolio option Greeks (delta, gamma, theta per day, vega per vol point, rho per 1% rate, dollar delta "
            "and gamma) and the option positions with the largest dollar delta, with their pricing inputs."
        ),
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_GREEK_POSITIONS, "default": 10}},
        limits={"rows": MAX_GREEK_POSITIONS},
    )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> GreeksPayload:
        """Portfolio Greeks (sums over live options; stock shares in ``stock_share_delta``) and per-option rows."""
        positions, state = part.positions, part.state
        rate, div_yield = chunk.market.rate, chunk.market.div_yield
        options = np.asarray(positions["is_option"], dtype=bool)
        live = options & ~np.asarray(state["expired"], dtype=bool)

        def total(name: str, digits: int, mask: np.ndarray = live) -> float | None:
            return rounded(np.nansum(np.asarray(state[name], dtype=float)[mask]), digits)

        totals: GreekTotals = {
            "delta": total("position_delta", 4),
            "gamma": total("position_gamma", 6),
            "theta": total("position_theta", 2),
            "vega": total("position_vega", 2),
            "rho": total("position_rho", 2),
            "dollar_delta": total("dollar_delta", 2),
            "dollar_gamma": total("dollar_gamma", 2),
            "stock_share_delta": total("position_delta", 4, ~options),
        }
        idx = np.flatnonzero(options)
        by_underlying = _by_underlying(positions, state, live)

        def take(frame: Columns, name: str) -> list[Any]:
            return frame[name][idx].tolist()

        def col(frame: Columns, name: str, digits: int) -> list[float | None]:
            return rounded_list(np.asarray(frame[name], dtype=float)[idx], digits)

        strike = [finite(v) for v in take(positions, "strike")]
        spot, years, vol = col(state, "spot", 4), col(state, "years", 6), col(state, "vol", 6)
        per_share = {name: col(state, name, 8) for name in GREEK_NAMES}
        per_position = {name: col(state, f"position_{name}", 6) for name in GREEK_NAMES}
        dollar_delta, dollar_gamma = col(state, "dollar_delta", 2), col(state, "dollar_gamma", 2)
        rows: list[GreeksPosition] = [
            {
                "position_id": position_id,
                "symbol": symbol,
                "underlying": underlying,
                "position_type": position_type,
                "quantity": qty,
                "strike": strike[k],
                "expiration": expiration.isoformat() if expiration else None,
                "expired": bool(expired),
                "spot": spot[k],
                "years_to_expiry": years[k],
                "implied_vol": vol[k],
                "implied_vol_source": vol_source,
                "rate": rate,
                "div_yield": div_yield,
                "delta": per_share["delta"][k],
                "gamma": per_share["gamma"][k],
                "theta": per_share["theta"][k],
                "vega": per_share["vega"][k],
                "rho": per_share["rho"][k],
                "position_delta": per_position["delta"][k],
                "position_gamma": per_position["gamma"][k],
                "position_theta": per_position["theta"][k],
                "position_vega": per_position["vega"][k],
                "position_rho": per_position["rho"][k],
                "dollar_delta": dollar_delta[k],
                "dollar_gamma": dollar_gamma[k],
            }
            for k, (position_id, symbol, underlying, position_type, qty, expiration, expired, vol_source) in enumerate(
                zip(
                    take(positions, "position_key"),
                    take(positions, "symbol"),
                    take(positions, "price_symbol"),
                    take(positions, "position_type"),
                    take(positions, "quantity"),
                    take(positions, "expiration"),
                    take(state, "expired"),
                    take(state, "vol_source"),
                    strict=True,
                )
            )
        ]
        return {"totals": totals, "positions": rows, "by_underlying": by_underlying}

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: None) -> dict[str, Any]:
        return {
            "rate": chunk.market.rate,
            "div_yield": chunk.market.div_yield,
            "vol_fallback": "realised volatility of the underlying, 252 daily log returns",
        }

    def metric_columns(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: GreeksPayload, prepared: None
    ) -> MetricColumns:
        state, positions, market = part.state, part.positions, chunk.market
        vol, years, spot = metric_column(state, "vol"), metric_column(state, "years"), metric_column(state, "spot")
        strike = metric_column(positions, "strike")
        sources = state["vol_source"].tolist()
        return {
            "position_id": part.positions["position_key"].tolist(),
            "implied_vol": vol,
            "implied_vol_source": sources,
            "years_to_expiry": years,
            **{name: metric_column(state, name) for name in METRIC_GREEKS},
            "greeks_inputs": [
                {
                    "spot": spot[k],
                    "strike": strike[k],
                    "years_to_expiry": years[k],
                    "implied_vol": vol[k],
                    "implied_vol_source": sources[k],
                    "rate": market.rate,
                    "div_yield": market.div_yield,
                }
                if is_option
                else {}
                for k, is_option in enumerate(np.asarray(positions["is_option"], dtype=bool).tolist())
            ],
        }

    def tool_data(
        self, payload: GreeksPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        positions = sorted(payload["positions"], key=abs_key("dollar_delta"))
        kept, marker = truncate(positions, int(args.get("limit", 10)))
        rows = [{key: row[key] for key in TOOL_POSITION_FIELDS} for row in kept]
        underlyings = sorted(
            (payload.get("by_underlying") or {}).items(), key=lambda item: -abs(item[1]["dollar_delta"] or 0.0)
        )
        return {
            "totals": payload["totals"],
            "totals_note": "delta, gamma and stock_share_delta add shares of different underlyings (deprecated); "
            "by_underlying has the share and dollar delta of each underlying",
            "by_underlying": dict(underlyings[: int(args.get("limit", 10))]),
            "positions": rows,
        }, marker

    def report(self, payload: GreeksPayload) -> ReportSection:
        totals = payload["totals"]
        section = ReportSection(
            facts=[
                ("Theta ($/day)", money(totals["theta"], decimals=2)),
                ("Vega ($/vol point)", money(totals["vega"], decimals=2)),
                ("Rho ($/1% rate)", money(totals["rho"], decimals=2)),
                ("Dollar delta", money(totals["dollar_delta"])),
                ("Dollar gamma", money(totals["dollar_gamma"])),
            ]
        )
        underlyings = payload.get("by_underlying") or {}
        if underlyings:
            section.tables.append(
                Table(
                    ["Underlying", "Spot", "Share delta", "Dollar delta", "Gamma (shares/$1)", "Dollar gamma (1%)"],
                    [
                        [
                            text(symbol),
                            money(u["spot"], decimals=2),
                            num(u["share_delta"]),
                            money(u["dollar_delta"]),
                            num(u["gamma"], decimals=4),
                            money(u["dollar_gamma"]),
                        ]
                        for symbol, u in sorted(
                            underlyings.items(), key=lambda item: -abs(item[1]["dollar_delta"] or 0)
                        )
                    ],
                    title="By underlying (share deltas add up only within one underlying)",
                )
            )
        rows: list[list[Any]] = []
        for p in payload["positions"]:
            if p["expired"]:
                rows.append([text(p["symbol"]), text(p["position_type"]), quantity(p["quantity"]), *(["expired"] * 9)])
                continue
            rows.append(
                [
                    text(p["symbol"]),
                    text(p["position_type"]),
                    quantity(p["quantity"]),
                    money(p["strike"], decimals=2),
                    text(p["expiration"]),
                    money(p["spot"], decimals=2),
                    (pct(p["implied_vol"]), " (", text(p["implied_vol_source"]), ")"),
                    num(p["delta"], decimals=3),
                    num(p["position_delta"]),
                    num(p["position_gamma"], decimals=4),
                    money(p["position_theta"], decimals=2),
                    money(p["dollar_delta"]),
                ]
            )
        if rows:
            headers = ["Symbol", "Type", "Qty", "Strike", "Expiry", "Spot", "Implied vol (source)", "Delta/share"]
            section.tables.append(Table([*headers, "Position delta", "Position gamma", "Theta/day", "$ delta"], rows))
        return section


def _by_underlying(positions: Columns, state: Columns, live: np.ndarray) -> dict[str, UnderlyingGreeks]:
    """Per underlying: stock shares, the live options' share delta and Greeks, and the dollar figures."""
    options = np.asarray(positions["is_option"], dtype=bool)
    spot = np.asarray(state["spot"], dtype=float)
    stock = ~options & np.isfinite(spot)

    def column(name: str, mask: np.ndarray) -> np.ndarray:
        values = np.asarray(state[name], dtype=float)
        return np.where(mask & np.isfinite(values), values, 0.0)

    stock_shares = column("position_delta", stock)
    option_delta = column("position_delta", live)
    sums = {
        "gamma": column("position_gamma", live),
        "dollar_gamma": column("dollar_gamma", live),
        "theta": column("position_theta", live),
        "vega": column("position_vega", live),
        "rho": column("position_rho", live),
    }
    symbols = np.asarray(positions["price_symbol"], dtype=object)
    listed = stock | live
    if not listed.any():
        return {}
    # Each symbol's sums over all its rows (the masked-out ones hold 0), in row order, in one pass per column.
    names, group = np.unique(symbols.astype(str), return_inverse=True)
    group = group.reshape(-1)

    def by_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=names.size)

    # The symbols listed, in name order (``np.unique`` sorts the names, so group numbers follow it).
    listed_groups = np.unique(group[listed])
    stock_sum, option_sum = by_group(stock_shares)[listed_groups], by_group(option_delta)[listed_groups]
    sum_of = {name: by_group(values)[listed_groups] for name, values in sums.items()}
    counts = np.bincount(group, weights=live.astype(float), minlength=names.size).astype(int)[listed_groups]
    # Each symbol's first finite spot, NaN when it has none.
    finite_spot = np.flatnonzero(np.isfinite(spot))
    spot_groups, first = np.unique(group[finite_spot], return_index=True)
    first_spot = np.full(names.size, np.nan)
    first_spot[spot_groups] = spot[finite_spot[first]]
    price = first_spot[listed_groups]
    shares = stock_sum + option_sum
    columns = zip(
        names[listed_groups].tolist(),
        rounded_each(price, 4),
        rounded_each(shares, 4),
        rounded_each(stock_sum, 4),
        rounded_each(option_sum, 4),
        rounded_each(shares * price),
        rounded_each(sum_of["gamma"], 6),
        rounded_each(sum_of["dollar_gamma"]),
        rounded_each(sum_of["theta"]),
        rounded_each(sum_of["vega"]),
        rounded_each(sum_of["rho"]),
        counts.tolist(),
        strict=True,
    )
    out: dict[str, UnderlyingGreeks] = {
        str(name): {
            "spot": p,
            "share_delta": sd,
            "stock_shares": ss,
            "option_share_delta": os,
            "dollar_delta": dd,
            "gamma": g,
            "dollar_gamma": dg,
            "theta": th,
            "vega": v,
            "rho": r,
            "options": n,
        }
        for name, p, sd, ss, os, dd, g, dg, th, v, r, n in columns
    }
    return out


SPEC = register(Greeks())

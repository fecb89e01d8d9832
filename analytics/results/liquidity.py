"""``liquidity``: days to liquidate each position at a share of its 20-day average daily volume.

The volume is the stored bars' (``marketdata.PriceBar.volume``, shares) of the position's volume
symbol over the last 20 sessions on or before the day (``analytics.engines.liquidity``):

- a stock sells its share count;
- an **option** sells its share equivalent in the underlying, |contracts × multiplier × delta|,
  against the **underlying's** volume: the option contracts' own volumes are not stored (the quote
  table keeps open interest, not volume), and the delta-equivalent is the risk an unwind must trade.
  An expired option has nothing left to sell (0 days);
- positions on one symbol (a stock and its options) share that symbol's volume: each shows the
  group's days, Σ |shares| / (participation × ADV).

The participation rate is the ``LIQUIDITY_PARTICIPATION`` setting (default 0.20 = 20% of the ADV).
The liquidity profile is the share of the gross value (Σ |market value|) sold within 1, 5 and 20
days at that rate (a position of D days has min(1, h / D) of it sold by day h). A position whose
symbol has no volume (no bar in the window, or an ADV of 0: an index, a mutual fund, a provider
without volumes) is **flagged** ``no_volume``, listed, and counted as not liquidatable. A mutual
fund has no exchange volume but is redeemed at its next NAV: it takes ``NAV_REDEMPTION_DAYS`` (1) and is
flagged ``nav_redemption``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd

from analytics.engines import liquidity
from analytics.results.base import AgentTool, ResultSpec
from analytics.results.common import rounded, rounded_each
from analytics.results.presentation import ReportSection, Table, money, num, pct, text
from analytics.results.registry import register
from analytics.results.tooling import truncate

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

HORIZONS = liquidity.DEFAULT_HORIZONS
ADV_WINDOW = liquidity.ADV_WINDOW
# Calendar days of bars loaded to find the last 20 sessions (holidays included).
VOLUME_CALENDAR_DAYS = 45
MAX_POSITIONS = 60
NAV_REDEMPTION_DAYS = 1.0  # a mutual fund is redeemed at the next NAV, whatever its size
OPTION_CONVENTION = (
    "options: |contracts x multiplier x delta| underlying shares against the underlying's volume "
    "(option volumes are not stored); positions on one symbol share its volume"
)
METHOD = "days to liquidate at a share of the 20-day average daily volume"


class LiquidityHorizon(TypedDict):
    """days: Horizon in sessions. share: Decimal share of the gross value sold within it. value: That value (USD)."""

    days: int
    share: float | None
    value: float | None


class LiquidityPosition(TypedDict):
    """One position's liquidity.

    volume_symbol: The symbol whose volume it trades against (the underlying for an option).
    shares: Share equivalents to sell (a stock's shares; an option's |contracts × multiplier × delta|).
    adv_shares: Average daily volume of volume_symbol over the window (shares), null without bars.
    volume_days: Sessions with a stored bar in the window.
    days_to_liquidate: Sessions to sell its volume symbol's group at the participation rate; null with no volume.
    gross_value: |market value| (USD).
    flag: "no_volume" (not liquidatable), "nav_redemption" (a mutual fund: 1 day), "expired" (nothing to
        sell), "not_priced" (cannot be sized) or "" when sized from its volume.
    """

    position_id: str
    symbol: str
    volume_symbol: str
    shares: float | None
    adv_shares: float | None
    volume_days: int
    days_to_liquidate: float | None
    gross_value: float | None
    flag: str


class LiquidityPayload(TypedDict):
    """Liquidity of the portfolio at ``participation_rate`` of each symbol's ADV.

    participation_rate: Share of the ADV sold per day (0.20 = 20%).
    adv_window_days: Sessions averaged for the ADV.
    gross_value: Σ |market value| of the positions (USD).
    horizons: Share of the gross value liquidatable within 1, 5 and 20 days.
    max_days_to_liquidate: Days until every position with volume is sold; null when none has volume.
    no_volume_count: Positions flagged for no volume (not liquidatable in the profile).
    no_volume_share: Their share of the gross value (decimal).
    option_convention: How options are sized against volume.
    positions: Every position, least liquid first (no volume first, then by days to liquidate).
    """

    participation_rate: float
    adv_window_days: int
    gross_value: float
    horizons: list[LiquidityHorizon]
    max_days_to_liquidate: float | None
    no_volume_count: int
    no_volume_share: float | None
    option_convention: str
    positions: list[LiquidityPosition]


@dataclass(frozen=True)
class VolumeTable:
    """The chunk's volume symbols' ADV (shares) and sessions averaged, and the window's last session."""

    adv: pd.Series
    sessions: pd.Series
    last_session: dt.date | None

    @cached_property
    def adv_by_symbol(self) -> dict[str, float]:
        """``adv`` as a dict (a portfolio's lookups without a pandas reindex each)."""
        return dict(zip(self.adv.index.astype(str), self.adv.to_numpy(dtype=float).tolist(), strict=True))

    @cached_property
    def sessions_by_symbol(self) -> dict[str, int]:
        return dict(zip(self.sessions.index.astype(str), self.sessions.to_numpy(dtype=int).tolist(), strict=True))


def participation_rate() -> float:
    """The ``LIQUIDITY_PARTICIPATION`` setting (validated at start-up), default 20%."""
    from django.conf import settings

    return float(getattr(settings, "LIQUIDITY_PARTICIPATION", liquidity.DEFAULT_PARTICIPATION))


class Liquidity(ResultSpec[LiquidityPayload, VolumeTable]):
    name = "liquidity"
    title = "Liquidity"
    payload_type = LiquidityPayload
    depends_on = ("overview", "greeks")
    method = METHOD
    lookback_days = ADV_WINDOW
    summary = "Days to liquidate and the liquidity profile"
    description = (
        "Days to liquidate each position at a share (LIQUIDITY_PARTICIPATION, default 20%) of its 20-day average "
        "daily volume; the share of the gross value liquidatable in 1, 5 and 20 days; positions with no volume flagged."
    )
    tool = AgentTool(
        description=(
            "Liquidity: days to liquidate each position at a participation rate (default 20%) of its 20-day average "
            "daily volume (options as delta-equivalent underlying shares), the share of the portfolio's gross value "
            "liquidatable within 1, 5 and 20 days, and the positions flagged for having no volume. Positions are "
            "listed least liquid first."
        ),
        properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_POSITIONS, "default": 10}},
        limits={"rows": MAX_POSITIONS},
    )

    def prepare(self, chunk: ChunkContext) -> VolumeTable:
        """Each volume symbol's ADV over the last ``ADV_WINDOW`` sessions on or before the day: one query."""
        from marketdata.selectors import daily_volumes

        as_of = chunk.market.as_of
        symbols = sorted(set(chunk.positions["price_symbol"].tolist())) if len(chunk.positions) else []
        start = as_of - dt.timedelta(days=VOLUME_CALENDAR_DAYS)
        volumes = chunk.read(
            ("daily_volumes", tuple(symbols), start, as_of),
            lambda: daily_volumes(symbols=symbols, start=start, end=as_of),
        )
        volumes = volumes.reindex(columns=symbols)
        adv, sessions = liquidity.average_daily_volume(volumes.to_numpy(dtype=float), window=ADV_WINDOW)
        last = volumes.index[-1].date() if len(volumes.index) else None
        return VolumeTable(
            adv=pd.Series(adv, index=symbols, dtype=float),
            sessions=pd.Series(sessions, index=symbols, dtype=int),
            last_session=last,
        )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: VolumeTable) -> LiquidityPayload:
        positions, state = part.positions, part.state
        rate = participation_rate()
        volume_symbol = [str(s) for s in positions["price_symbol"].tolist()]
        expired = np.asarray(state["expired"], dtype=bool)
        share_delta = np.asarray(state["position_delta"], dtype=float)
        shares = np.where(expired, 0.0, np.abs(share_delta))
        market_value = np.asarray(state["market_value"], dtype=float)
        gross = np.where(expired, 0.0, np.abs(market_value))
        adv_of, sessions_of = prepared.adv_by_symbol, prepared.sessions_by_symbol
        adv = np.array([adv_of.get(s, np.nan) for s in volume_symbol], dtype=float)
        sessions = np.array([sessions_of.get(s, 0) for s in volume_symbol], dtype=int)
        days = liquidity.liquidation_days(shares=shares, adv=adv, group=volume_symbol, participation=rate)
        # An expired option has nothing to sell; one without a price cannot be sized (not liquid either).
        not_priced = ~expired & ~np.isfinite(share_delta)
        days = np.where(expired, 0.0, np.where(not_priced, np.nan, days))
        fund = (np.asarray(positions["asset_class"], dtype=object) == "mutual_fund") & ~expired & ~not_priced
        days = np.where(fund, NAV_REDEMPTION_DAYS, days)
        profile = liquidity.liquidity_profile(gross_value=gross, days=days, horizons=HORIZONS)
        total = float(np.nansum(gross))
        no_volume = ~expired & ~not_priced & ~np.isfinite(days)
        flags = np.select(
            [expired, not_priced, fund, no_volume], ["expired", "not_priced", "nav_redemption", "no_volume"], ""
        )
        rows: list[LiquidityPosition] = [
            {
                "position_id": pid,
                "symbol": sym,
                "volume_symbol": volume,
                "shares": held,
                "adv_shares": average,
                "volume_days": count,
                "days_to_liquidate": needed,
                "gross_value": value,
                "flag": flag,
            }
            for pid, sym, volume, held, average, count, needed, value, flag in zip(
                positions["position_key"].tolist(),
                positions["symbol"].tolist(),
                volume_symbol,
                rounded_each(shares, 2),
                rounded_each(adv, 0),
                sessions.tolist(),
                rounded_each(days, 4),
                rounded_each(gross, 2),
                flags.astype(str).tolist(),
                strict=True,
            )
        ]
        liquid_days = days[np.isfinite(days)]
        return {
            "participation_rate": rate,
            "adv_window_days": ADV_WINDOW,
            "gross_value": round(total, 2),
            "horizons": [
                {"days": h, "share": rounded(s, 6), "value": rounded(s * total, 2)}
                for h, s in zip(HORIZONS, profile, strict=True)
            ],
            "max_days_to_liquidate": rounded(float(liquid_days.max()), 4) if liquid_days.size else None,
            "no_volume_count": int(no_volume.sum()),
            "no_volume_share": rounded(float(gross[no_volume].sum()) / total, 6) if total > 0 else None,
            "option_convention": OPTION_CONVENTION,
            "positions": least_liquid_first(rows),
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: VolumeTable) -> dict[str, Any]:
        return {
            "participation_rate": participation_rate(),
            "adv_window_days": ADV_WINDOW,
            "volume_through": prepared.last_session.isoformat() if prepared.last_session else None,
            "horizons_days": list(HORIZONS),
            "option_convention": OPTION_CONVENTION,
        }

    def tool_data(
        self, payload: LiquidityPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        kept, marker = truncate(least_liquid_first(payload["positions"]), int(args.get("limit", 10)))
        data = {key: value for key, value in payload.items() if key != "positions"}
        data["positions"] = kept
        return data, marker

    def report(self, payload: LiquidityPayload) -> ReportSection:
        facts: list[tuple[str, Any]] = [
            ("Participation rate", (pct(payload["participation_rate"], 0), " of the 20-day ADV")),
            ("Gross value", money(payload["gross_value"])),
            ("Days to liquidate everything with volume", num(payload["max_days_to_liquidate"], 1)),
            (
                "Positions without volume",
                (text(payload["no_volume_count"]), " (", pct(payload["no_volume_share"]), ")"),
            ),
        ]
        profile = Table(
            ["Within", "Share of gross", "Value"],
            [[f"{h['days']} day(s)", pct(h["share"]), money(h["value"])] for h in payload["horizons"]],
            title="Liquidity profile",
        )
        slowest = least_liquid_first(payload["positions"])[:10]
        positions = Table(
            ["Symbol", "Volume symbol", "Shares", "ADV", "Days", "Gross value", "Flag"],
            [
                [
                    text(p["symbol"]),
                    text(p["volume_symbol"]),
                    num(p["shares"], 0),
                    num(p["adv_shares"], 0),
                    num(p["days_to_liquidate"], 2),
                    money(p["gross_value"]),
                    text(p["flag"] or "-"),
                ]
                for p in slowest
            ],
            title="Least liquid positions",
        )
        return ReportSection(
            facts=facts,
            tables=[profile, positions],
            note=payload["option_convention"][:1].upper() + payload["option_convention"][1:] + ".",
        )


def least_liquid_first(positions: list[LiquidityPosition]) -> list[LiquidityPosition]:
    """Flagged no-volume positions first, then by days to liquidate, longest first."""

    def key(p: LiquidityPosition) -> tuple[int, float]:
        if p["flag"] == "no_volume":
            return (0, -(p["gross_value"] or 0.0))
        return (1, -(p["days_to_liquidate"] or 0.0))

    return sorted(positions, key=key)


SPEC = register(Liquidity())

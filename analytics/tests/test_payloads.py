"""Every kind's payload, built from a small hand-made book, is of its declared type.

The book: a long stock, a short stock, a long call and a short put on SPY, and an expired call, on
300 sessions of generated prices — no batch, no stored prices. Each kind's ``prepare`` and
``build`` run on it; the payload must have exactly the keys its ``TypedDict`` declares, with values
of the declared types (``typed_dict_errors``), and validate against the DRF serializer derived from
the same declaration. The report section, the agent's view and the metric columns are built from
it too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analytics.models import PortfolioResult, PositionMetrics
from analytics.results import registry
from analytics.results.presentation import ReportSection
from analytics.services import compute
from analytics.services.inputs import POSITION_COLUMNS, MarketInputs, PortfolioInfo
from analytics.services.steps import ChunkContext
from core.typed_serializers import typed_dict_errors, typed_dict_serializer
from marketdata.factors import FACTOR_SYMBOLS
from portfolios.models import Portfolio

AS_OF = dt.date(2026, 11, 20)
SYMBOLS = ("AAPL", "XOM")


def _market() -> MarketInputs:
    """300 business days of prices for the factor proxies and two stocks (seeded, positive)."""
    days = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=300)
    rng = np.random.default_rng(7)
    market = rng.normal(0.0004, 0.01, len(days))
    columns = {}
    for k, symbol in enumerate([*FACTOR_SYMBOLS, *SYMBOLS]):
        beta = 1.0 if symbol != "TLT" else -0.2
        returns = beta * market + rng.normal(0.0, 0.004 + 0.001 * k, len(days))
        columns[symbol] = 100.0 * np.exp(np.cumsum(returns))
    prices = pd.DataFrame(columns, index=days)
    return MarketInputs(
        as_of=AS_OF,
        prices=prices,
        spot=prices.iloc[-1],
        spot_date=pd.Series(days[-1], index=prices.columns),
        data_source="simulated",
        option_quotes={},
        rate=0.045,
        sectors={"AAPL": "Technology", "XOM": "Energy"},
    )


def _positions(portfolio_id: uuid.UUID) -> pd.DataFrame:
    def row(symbol: str, kind: str, quantity: float, **option: Any) -> tuple[Any, ...]:
        is_option = kind in ("LC", "LP", "SC", "SP")
        return (
            uuid.uuid4(),
            portfolio_id,
            symbol,
            option.get("underlying", symbol),
            kind,
            "OPTION" if is_option else "EQUITY",
            is_option,
            kind in ("LC", "SC"),
            quantity,
            100.0 if is_option else 1.0,
            option.get("entry", 90.0),
            dt.date(2026, 3, 2),
            option.get("strike", np.nan),
            option.get("expiration"),
            option.get("tags", []),
            None,  # exit_date: open
            np.nan,  # exit_price
        )

    rows = [
        row("AAPL", "LONG", 100.0, tags=["Core"]),
        row("XOM", "SHORT", -50.0),
        row("SPY261218C00100000", "LC", 2.0, underlying="SPY", strike=100.0, expiration=dt.date(2026, 12, 18)),
        row("SPY261218P00095000", "SP", -3.0, underlying="SPY", strike=95.0, expiration=dt.date(2026, 12, 18)),
        row("SPY261120C00090000", "LC", 1.0, underlying="SPY", strike=90.0, expiration=AS_OF, tags=["Core"]),
        row("SPY261119P00110000", "LP", 1.0, underlying="SPY", strike=110.0, expiration=dt.date(2026, 11, 19)),
    ]
    return pd.DataFrame.from_records(rows, columns=list(POSITION_COLUMNS))


@pytest.fixture
def chunk(db) -> ChunkContext:
    """One portfolio's chunk, as the batch builds it (the stress catalog comes from the migrations)."""
    info = PortfolioInfo(id=uuid.uuid4(), name="Small book", equity_balance=100_000.0)
    market = _market()
    stage = compute.symbol_stage_compute(market=market)
    positions = _positions(info.id)
    state = compute.position_state_compute(positions=positions, market=market, stage=stage)
    return ChunkContext.build(
        run=None,  # nothing is stored
        market=market,
        stage=stage,
        positions=positions,
        state=state,
        portfolios={info.id: info},
        writer=None,
    )


@pytest.mark.parametrize("name", registry.names())
def test_each_kind_builds_a_payload_of_its_declared_type(chunk: ChunkContext, name: str) -> None:
    spec = registry.spec_for(name)
    part = next(iter(chunk.slices.values()))

    prepared = spec.prepare(chunk)
    payload = spec.build(chunk, part, prepared)

    assert typed_dict_errors(spec.payload_type, payload) == []
    serializer = typed_dict_serializer(spec.payload_type)(data=payload)
    assert serializer.is_valid(), serializer.errors
    assert isinstance(spec.report(payload), ReportSection)
    rows = spec.rows(chunk, part, payload, prepared)
    assert len(rows) == 1 and rows[0]["method"] == spec.method
    # The column's limit, which SQLite does not enforce and PostgreSQL does (a longer method fails every write).
    assert len(spec.method) <= PortfolioResult._meta.get_field("method").max_length
    metrics = spec.metric_columns(chunk, part, payload, prepared)
    if metrics is not None:
        fields = {f.attname for f in PositionMetrics._meta.concrete_fields}
        assert set(metrics) <= fields and len(metrics["position_id"]) == len(part.positions)
        assert {len(values) for values in metrics.values()} == {len(part.positions)}


@pytest.mark.parametrize("name", [s.name for s in registry.specs() if s.tool is not None])
def test_each_kinds_agent_view_reads_its_payload(chunk: ChunkContext, name: str) -> None:
    spec = registry.spec_for(name)
    part = next(iter(chunk.slices.values()))
    payload = spec.build(chunk, part, spec.prepare(chunk))
    data, extra = spec.tool_data(payload, {}, Portfolio(name="Small book", equity_balance=100_000))
    assert isinstance(data, dict) and isinstance(extra, dict)


def test_the_small_book_is_valued_as_expected(chunk: ChunkContext) -> None:
    """Spot checks of the book itself, so that the type checks above run on meaningful numbers."""
    part = next(iter(chunk.slices.values()))
    overview = registry.spec_for("overview").build(chunk, part, None)
    spot = chunk.market.spot
    assert overview["position_count"] == 6
    # Expired the day before: listed, not valued. Expiring on the as-of date: worth its intrinsic value.
    assert overview["expired_options"] == ["SPY261119P00110000"]
    assert overview["stock_exposure"] == pytest.approx(100 * spot["AAPL"] + 50 * spot["XOM"], abs=0.01)
    assert overview["by_tag"]["Core"]["count"] == 2
    greeks = registry.spec_for("greeks").build(chunk, part, None)
    assert [row["symbol"] for row in greeks["positions"]][:2] == ["SPY261218C00100000", "SPY261218P00095000"]
    expiring = next(row for row in greeks["positions"] if row["symbol"] == "SPY261120C00090000")
    assert not expiring["expired"] and expiring["years_to_expiry"] == 0.0
    assert expiring["delta"] == (1.0 if spot["SPY"] > 90.0 else 0.0) and expiring["gamma"] == 0.0
    values = dict(zip(part.positions["symbol"].tolist(), part.state["market_value"].tolist(), strict=True))
    assert values["SPY261120C00090000"] == pytest.approx(max(spot["SPY"] - 90.0, 0.0) * 100, abs=1e-9)
    assert greeks["totals"]["stock_share_delta"] == 50.0


def test_a_missing_beta_is_null_in_the_factor_exposures_and_the_others_are_rounded(chunk: ChunkContext) -> None:
    """Each position's betas rounded to 4 places; a beta the fit could not give (NaN) is null, the row's other betas
    are kept, and the position has no dollar exposures."""
    from analytics.results.factor_exposures import SPEC as factor_exposures
    from marketdata.factors import FACTOR_NAMES

    part = next(iter(chunk.slices.values()))
    betas = part.state["beta_matrix"]
    betas[1, 2] = np.nan  # the second position's third factor
    payload = factor_exposures.build(chunk, part, factor_exposures.prepare(chunk))
    rows = payload["positions"]
    for row, row_betas in zip(rows, betas, strict=True):
        expected = [None if np.isnan(b) else float(np.round(b, 4)) for b in row_betas]
        assert row["betas"] == dict(zip(FACTOR_NAMES, expected, strict=True))
    assert rows[1]["betas"][FACTOR_NAMES[2]] is None and rows[1]["exposures"] == {}
    assert all(isinstance(v, float) for v in rows[0]["betas"].values())

"""What-if end to end: the API over the real batch's stored stage, checked against the stored results and
against a full batch run of the portfolio with the trade really made."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F
from rest_framework.test import APIClient

from analytics.models import PortfolioResult, WhatIfScenario
from analytics.services.batch import batch_run, portfolio_steps
from analytics.services.book import book_fingerprint
from analytics.services.columns import Columns
from analytics.services.inputs import portfolio_info, positions_frame
from analytics.services.limits import limit_create
from analytics.services.whatif import day_inputs_clear, reads_kept, stored_before, what_if_kinds, what_if_model
from conftest import ANALYTICS_AS_OF
from core.testing import assert_error, login
from marketdata.occ import occ_symbol
from marketdata.services import prices_sync
from portfolios.models import Portfolio, Position
from portfolios.services import position_create

INDIVIDUAL = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"  # demo_individual's portfolio
HEDGE_EMAIL = "demo_hedgefundstyle@sigmasight.com"
EXPIRY = dt.date(2027, 1, 15)


def demo_client(email: str = "demo_individual@sigmasight.com") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(email, 'demo12345')['access_token']}")
    return client


def what_if(client: APIClient, portfolio_id: str, trades: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post(
        f"/api/v1/analytics/portfolios/{portfolio_id}/what_if", {"trades": trades, **extra}, format="json"
    )


def stored_payloads(portfolio_id: str) -> dict[str, Any]:
    rows = PortfolioResult.objects.filter(portfolio_id=portfolio_id, as_of=ANALYTICS_AS_OF)
    return {r.kind: r.payload for r in rows}


def close_enough(a: Any, b: Any, tolerance: float = 0.01) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), abs_tol=tolerance)


def test_an_empty_trade_list_answers_the_stored_results_unchanged(analytics_demo) -> None:
    answer = what_if(demo_client(HEDGE_EMAIL), portfolio_of(HEDGE_EMAIL), [])
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["as_of"] == ANALYTICS_AS_OF.isoformat() and body["stored"] is False
    assert body["not_computed"] == {}
    stored = stored_payloads(portfolio_of(HEDGE_EMAIL))
    kinds = [spec.name for spec in what_if_kinds()]
    assert set(body["kinds"]) == set(kinds) and "snapshots" not in kinds
    for kind in kinds:
        # The stored JSON and the what-if's JSON are the same document, before and after.
        assert body["kinds"][kind]["after"] == json.loads(json.dumps(stored[kind])), kind
        assert body["kinds"][kind]["before"] == body["kinds"][kind]["after"], kind
    for label, figure in body["summary"].items():
        assert figure["change"] in (0, None), label
    assert WhatIfScenario.objects.count() == 0


def portfolio_of(email: str) -> str:
    return str(Portfolio.objects.get(user__email=email).pk)


# The headline figures a trade must reproduce against a real batch run (USD within a cent; ratios 1e-6).
def compare_with_batch(summary: dict[str, Any], portfolio_id: str) -> None:
    stored = stored_payloads(portfolio_id)
    overview, greeks, factors, var = stored["overview"], stored["greeks"], stored["factor_exposures"], stored["var"]
    expected = {
        "market_value": overview["market_value"],
        "cash": overview["cash"],
        "gross_exposure": overview["gross_exposure"],
        "net_exposure": overview["net_exposure"],
        "delta_adjusted_exposure": overview["delta_adjusted_exposure"],
        "unrealised_pnl": overview["unrealised_pnl"],
        "greeks.dollar_delta": greeks["totals"]["dollar_delta"],
        "greeks.vega": greeks["totals"]["vega"],
        "var.historical.var_99": var["historical"]["var_99"],
        "var.historical.es_95": var["historical"]["es_95"],
        "var.parametric.var_99": var["parametric"]["var_99"],
        "stress.worst_pnl": stored["stress_test"]["worst"]["conditioned_pnl"],
        **{f"factor_dollars.{f}": v for f, v in factors["dollar_exposures"].items()},
    }
    for label, value in expected.items():
        assert close_enough(summary[label]["after"], value), (label, summary[label], value)
    for ratio in ("gross_leverage", "delta_adjusted_leverage"):
        assert close_enough(summary[ratio]["after"], overview[ratio], 1e-6), ratio
    for name, beta in factors["portfolio_betas"].items():
        assert close_enough(summary[f"beta.{name}"]["after"], beta, 1e-6), name


def test_a_trade_gives_the_figures_of_a_batch_run_with_that_position_added(analytics_demo) -> None:
    client = demo_client()
    trades = [
        {"action": "add", "symbol": "META", "quantity": 40},  # held elsewhere: the stored stage knows it
        {
            "action": "add",
            "underlying": "SPY",
            "strike": 600,
            "expiration": "2027-01-15",
            "option_type": "put",
            "quantity": 5,
        },
        {"action": "reduce", "symbol": "AAPL", "quantity": 35},
        {"action": "close", "symbol": "TSLA"},
    ]
    answer = what_if(client, INDIVIDUAL, trades)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["not_computed"] == {}
    meta_price, put_price = body["trades"][0]["trade_price"], body["trades"][1]["trade_price"]
    assert body["trades"][0]["price_source"] == "close" and body["trades"][1]["price_source"] == "bsm_model"
    # At the marks, cash pays for what is bought and equity is unchanged.
    paid = sum(t["quantity_change"] * t["multiplier"] * t["trade_price"] for t in body["trades"])
    assert body["summary"]["cash"]["change"] == pytest.approx(-paid, abs=0.02)
    assert body["summary"]["equity"]["change"] == 0
    assert [t["quantity_change"] for t in body["trades"][:3]] == [40, 5, -35]
    assert body["summary"]["position_count"]["change"] == 1  # +META +put −TSLA
    assert len(body["worst_stress"]) == 5
    assert [s["after"] for s in body["worst_stress"]] == sorted(s["after"] for s in body["worst_stress"])

    # Now make the same trades for real and run the batch for the portfolio on the same day.
    # Entry prices are stored with at most 6 decimals (the positions' number bounds): the marks rounded so.
    portfolio = Portfolio.objects.get(pk=INDIVIDUAL)
    position_create(portfolio=portfolio, symbol="META", position_type="LONG", quantity=Decimal(40),
                    entry_price=Decimal(str(round(meta_price, 6))), entry_date=ANALYTICS_AS_OF)  # fmt: skip
    position_create(
        portfolio=portfolio,
        symbol=occ_symbol(underlying="SPY", expiration=EXPIRY, is_call=False, strike=600),
        underlying_symbol="SPY",
        position_type="LP",
        asset_class="option",
        quantity=Decimal(5),
        multiplier=Decimal(100),
        strike=Decimal(600),
        expiration=EXPIRY,
        entry_price=Decimal(str(round(put_price, 6))),
        entry_date=ANALYTICS_AS_OF,
    )
    Position.objects.filter(portfolio=portfolio, symbol="AAPL").update(quantity=F("quantity") - 35)
    Position.objects.filter(portfolio=portfolio, symbol="TSLA").delete()
    outcome = batch_run(as_of=ANALYTICS_AS_OF, portfolio_ids=[portfolio.pk], steps=list(portfolio_steps()))
    assert outcome.ok, outcome.run.error_summary
    compare_with_batch(body["summary"], INDIVIDUAL)


def test_a_symbol_the_stored_stage_does_not_know_gets_the_betas_a_batch_would_fit(analytics_demo) -> None:
    prices_sync(symbols=["XLE"], backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    body = what_if(demo_client(), INDIVIDUAL, [{"action": "add", "symbol": "xle", "quantity": 300}]).json()
    assert body["not_computed"] == {}
    portfolio = Portfolio.objects.get(pk=INDIVIDUAL)
    price = Decimal(str(round(body["trades"][0]["trade_price"], 6)))
    position_create(portfolio=portfolio, symbol="XLE", position_type="LONG", quantity=Decimal(300),
                    entry_price=price, entry_date=ANALYTICS_AS_OF)  # fmt: skip
    outcome = batch_run(as_of=ANALYTICS_AS_OF, portfolio_ids=[portfolio.pk], steps=list(portfolio_steps()))
    assert outcome.ok, outcome.run.error_summary
    compare_with_batch(body["summary"], INDIVIDUAL)


def test_closing_every_position_leaves_no_exposure_and_all_equity_in_cash(analytics_demo) -> None:
    email = HEDGE_EMAIL
    pid = portfolio_of(email)
    symbols = sorted(set(Position.objects.filter(portfolio_id=pid).values_list("symbol", flat=True)))
    body = what_if(demo_client(email), pid, [{"action": "close", "symbol": s} for s in symbols]).json()
    summary = body["summary"]
    for figure in ("market_value", "gross_exposure", "net_exposure", "delta_adjusted_exposure", "greeks.dollar_delta"):
        assert summary[figure]["after"] == 0, figure
    assert summary["position_count"]["after"] == 0
    assert summary["cash"]["after"] == pytest.approx(summary["equity"]["after"], abs=0.01)
    assert summary["equity"]["after"] == pytest.approx(3_200_000, abs=0.01)  # closed at the marks
    assert summary["var.historical.var_99"]["after"] in (0, None)


def test_an_option_by_occ_symbol_and_by_its_fields_are_the_same_trade(analytics_demo) -> None:
    client = demo_client()
    occ = occ_symbol(underlying="NVDA", expiration=EXPIRY, is_call=True, strike=950)
    by_symbol = what_if(client, INDIVIDUAL, [{"action": "add", "symbol": occ, "quantity": -3, "price": 41.5}]).json()
    by_fields = what_if(
        client,
        INDIVIDUAL,
        [
            {
                "action": "add",
                "underlying": "nvda",
                "strike": 950,
                "expiration": EXPIRY.isoformat(),
                "option_type": "call",
                "quantity": -3,
                "price": 41.5,
            }
        ],
    ).json()
    assert by_symbol["trades"][0]["instrument"] == by_fields["trades"][0]["instrument"] == occ
    assert by_symbol["summary"] == by_fields["summary"]
    assert by_symbol["worst_stress"] == by_fields["worst_stress"]
    # Written at 41.5 against the model's mark: equity moves by −3 × 100 × (mark − 41.5).
    mark = by_symbol["trades"][0]["mark"]
    assert by_symbol["summary"]["equity"]["change"] == pytest.approx(-300 * (mark - 41.5), abs=0.01)


@pytest.mark.parametrize(
    ("trades", "index", "field"),
    [
        ([{"action": "buy", "symbol": "AAPL", "quantity": 1}], 0, "action"),
        ([{"action": "add", "symbol": "AAPL", "quantity": 1}, {"action": "add", "symbol": "AAPL"}], 1, "quantity"),
        ([{"action": "add", "symbol": "NOPE", "quantity": 1}], 0, "symbol"),
        (
            [{"action": "add", "underlying": "SPY", "strike": 500, "option_type": "call", "quantity": 1}],
            0,
            "expiration",
        ),
        ([{"action": "add", "symbol": "SPY200117C00300000", "quantity": 1}], 0, "symbol"),  # expired
        ([{"action": "reduce", "symbol": "AAPL", "quantity": 1000}], 0, "quantity"),
        ([{"action": "close", "symbol": "NFLX"}], 0, "symbol"),  # not held here
        ([{"action": "add", "symbol": "AAPL", "quantity": 1, "colour": "red"}], 0, "colour"),
        ([{"action": "add", "symbol": "AAPL", "quantity": 1, "price": -2}], 0, "price"),
    ],
)
def test_an_invalid_trade_is_a_400_naming_the_trade_and_field(analytics_demo, trades, index, field) -> None:
    answer = what_if(demo_client(), INDIVIDUAL, trades)
    assert_error(answer, 400, "invalid")
    details = answer.json()["error"]["details"]
    assert (details["trade"], details["field"]) == (index, field), answer.json()
    assert answer.json()["error"]["message"].startswith(f"trades[{index}].{field}")


def test_what_if_and_its_scenarios_are_404_for_another_users_portfolio_and_401_anonymous(analytics_demo) -> None:
    other = portfolio_of(HEDGE_EMAIL)
    client = demo_client()
    assert_error(what_if(client, other, []), 404, "not_found")
    assert_error(client.get(f"/api/v1/analytics/portfolios/{other}/what_if/scenarios"), 404, "not_found")
    assert_error(what_if(APIClient(), INDIVIDUAL, []), 401, "not_authenticated")


def test_a_what_if_is_stored_only_when_saved_and_saved_scenarios_list_and_delete(analytics_demo) -> None:
    client = demo_client()
    trades = [{"action": "add", "symbol": "MSFT", "quantity": 10}]
    saved = what_if(client, INDIVIDUAL, trades, save_as="More MSFT")
    assert saved.status_code == 201 and saved.json()["stored"] is True
    again = what_if(client, INDIVIDUAL, trades, save_as="More MSFT")  # same name: replaced, not duplicated
    assert again.status_code == 201
    base = f"/api/v1/analytics/portfolios/{INDIVIDUAL}/what_if/scenarios"
    listed = client.get(base).json()["results"]
    assert [s["name"] for s in listed] == ["More MSFT"]
    detail = client.get(f"{base}/{listed[0]['id']}").json()
    assert detail["result"]["summary"] == again.json()["summary"]
    # Another user neither sees nor deletes it.
    hedge = demo_client(HEDGE_EMAIL)
    assert_error(hedge.delete(f"{base}/{listed[0]['id']}"), 404, "not_found")
    assert client.delete(f"{base}/{listed[0]['id']}").status_code == 204
    assert client.get(base).json()["results"] == []


def _book_now(portfolio_id: str) -> str:
    portfolio = Portfolio.objects.get(pk=portfolio_id)
    frame = positions_frame(portfolio_ids=[portfolio.pk], as_of=ANALYTICS_AS_OF)
    return book_fingerprint(positions=Columns.from_frame(frame), info=portfolio_info(portfolio))


def _stored_before(portfolio_id: str) -> dict[str, Any] | None:
    return stored_before(
        portfolio_id=Portfolio.objects.get(pk=portfolio_id).pk,
        day=ANALYTICS_AS_OF,
        fit_row=what_if_model(as_of=ANALYTICS_AS_OF),
        book=_book_now(portfolio_id),
    )


def _new_lots_named(body: dict[str, Any], before_ids: set[str]) -> str:
    """The answer's JSON with the fresh ids of the new lots replaced by their order of appearance."""
    text = json.dumps(body, sort_keys=True)
    new_ids = [c["position_id"] for c in body["kinds"]["var"]["after"]["contributions"]]
    for number, new_id in enumerate(i for i in new_ids if i not in before_ids):
        text = text.replace(new_id, f"new-lot-{number}")
    return text


def test_the_before_side_is_taken_from_the_stored_results_and_equals_computing_it(analytics_demo) -> None:
    client = demo_client(HEDGE_EMAIL)
    pid = portfolio_of(HEDGE_EMAIL)
    option = Position.objects.filter(portfolio_id=pid, position_type__in=["LC", "LP", "SC", "SP"]).first()
    assert option is not None
    trades = [
        {"action": "add", "symbol": "META", "quantity": 40},
        {"action": "add", "underlying": "SPY", "strike": 600, "expiration": "2027-01-15", "option_type": "put",
         "quantity": 5},
        {"action": "close", "symbol": option.symbol},
    ]  # fmt: skip
    assert _stored_before(pid) is not None  # the batch's results are current for the book: reused
    reused = what_if(client, pid, trades).json()
    assert reused["not_computed"] == {}
    stored = stored_payloads(pid)
    for kind in reused["kinds"]:
        assert reused["kinds"][kind]["before"] == json.loads(json.dumps(stored[kind])), kind

    # The same what-if once the stored fingerprints no longer match: both sides computed, the same answer.
    PortfolioResult.objects.filter(portfolio_id=pid, as_of=ANALYTICS_AS_OF).update(inputs={"book": "0" * 32})
    assert _stored_before(pid) is None
    computed = what_if(client, pid, trades).json()
    before_ids = {c["position_id"] for c in stored["var"]["contributions"]}
    assert _new_lots_named(computed, before_ids) == _new_lots_named(reused, before_ids)


def test_stored_results_are_not_reused_once_a_position_was_edited_after_the_batch(analytics_demo) -> None:
    assert _stored_before(INDIVIDUAL) is not None
    stored = stored_payloads(INDIVIDUAL)
    Position.objects.filter(portfolio_id=INDIVIDUAL, symbol="AAPL").update(quantity=F("quantity") - 35)
    assert _stored_before(INDIVIDUAL) is None
    body = what_if(demo_client(), INDIVIDUAL, []).json()
    assert body["not_computed"] == {}
    before = body["kinds"]["overview"]["before"]
    # The book as it is now, not the stored results: AAPL's 35 fewer shares are in the before side.
    assert before["market_value"] != stored["overview"]["market_value"]
    for kind in body["kinds"]:
        assert body["kinds"][kind]["before"] == body["kinds"][kind]["after"], kind
    # A batch run on the edited book makes its results current again.
    outcome = batch_run(as_of=ANALYTICS_AS_OF, portfolio_ids=[INDIVIDUAL], steps=list(portfolio_steps()))
    assert outcome.ok, outcome.run.error_summary
    assert _stored_before(INDIVIDUAL) is not None
    assert (
        what_if(demo_client(), INDIVIDUAL, []).json()["kinds"]["overview"]["before"]["market_value"]
        == before["market_value"]
    )


def test_an_equity_change_after_the_batch_also_makes_the_stored_results_stale(analytics_demo) -> None:
    assert _stored_before(INDIVIDUAL) is not None
    Portfolio.objects.filter(pk=INDIVIDUAL).update(equity_balance=Decimal("123456.78"))
    assert _stored_before(INDIVIDUAL) is None
    body = what_if(demo_client(), INDIVIDUAL, []).json()
    assert body["summary"]["equity"]["before"] == pytest.approx(123456.78)


# Outside a transaction (the change counter cannot be read inside one): the kept reads are used.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_what_if_keeps_its_reads_until_a_write_moves_the_change_counter(analytics_demo) -> None:
    day_inputs_clear()
    client = demo_client()  # the login writes (last login): before the first what-if
    trades = [
        {"action": "add", "symbol": "META", "quantity": 40},
        {"action": "reduce", "symbol": "AAPL", "quantity": 35},
    ]
    first = what_if(client, INDIVIDUAL, trades).json()
    kept = reads_kept()
    assert kept is not None
    assert {key[0] for key in kept} >= {
        "factor_model", "book", "daily_volumes", "backtest_history", "backtest_payload", "limits", "stress_catalog"
    }  # fmt: skip
    # Answered from the kept reads: the same answer (the stored before side included).
    second = what_if(client, INDIVIDUAL, trades).json()
    assert reads_kept() is kept
    before_ids = {c["position_id"] for c in first["kinds"]["var"]["before"]["contributions"]}
    assert _new_lots_named(second, before_ids) == _new_lots_named(first, before_ids)
    assert first["kinds"]["overview"]["before"] == stored_payloads(INDIVIDUAL)["overview"]

    # A limit added since is judged by the next what-if, before and after (the limits kind is never reused).
    limits_before = len((first["limits"]["after"] or {}).get("limits", []))
    limit_create(portfolio=Portfolio.objects.get(pk=INDIVIDUAL), metric="gross_leverage", warning_level=9.0)
    assert reads_kept() is not kept
    third = what_if(client, INDIVIDUAL, trades).json()
    assert len(third["limits"]["after"]["limits"]) == len(third["limits"]["before"]["limits"]) == limits_before + 1
    # An edited position: the before side is the book as it is now.
    Position.objects.filter(portfolio_id=INDIVIDUAL, symbol="TSLA").delete()
    fourth = what_if(client, INDIVIDUAL, []).json()
    assert fourth["summary"]["position_count"]["before"] == first["summary"]["position_count"]["before"] - 1

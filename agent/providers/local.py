"""The offline provider: picks tools from the question, calls them, and states their figures.

It does not generate language; it recognises the common questions (value and performance,
exposures, top positions, Greeks, factor betas, stress scenarios, market moves, correlations,
VaR, prices, data quality, the batch) by their words, calls the matching tools through the same
scoped executor as a language model would, and fills short sentences with the results, formatted
by :mod:`agent.formatting`. What it does not recognise it says plainly it cannot answer.
It never takes a portfolio id or any instruction from the question or from tool results.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.formatting import count, money, pct, ratio
from agent.providers.base import ChatRequest, Event, Provider, words

FACTOR_LABELS = {
    "market": "market",
    "value": "value",
    "growth": "growth",
    "momentum": "momentum",
    "quality": "quality",
    "size": "size",
    "low_volatility": "low volatility",
    "interest_rate": "interest rate",
}
NOT_TICKERS = {
    "I", "A", "VAR", "ES", "ETF", "ETFS", "NAV", "PNL", "USD", "P", "L", "OK", "CVAR", "VS", "US", "THE", "AND",
    "MY", "IS", "IT", "OF", "ON", "IN", "WHAT", "HOW", "TOP", "DO", "ME", "AM", "PM", "AI",
}  # fmt: skip


@dataclass(frozen=True)
class Intent:
    """A kind of question: the words that signal it, the tool calls it needs and how to answer."""

    name: str
    pattern: re.Pattern[str]
    calls: Callable[[str], list[tuple[str, dict[str, Any]]]]
    compose: Callable[[list[dict[str, Any]], str], str]


def _status_text(result: dict[str, Any]) -> str | None:
    """A sentence for a result that has no figures (not computed, no data, error), else None."""
    status = result.get("status")
    if status == "ok":
        return None
    if status in ("not_computed", "no_data"):
        return result.get("message", "That is not computed yet; run `python manage.py run_batch`.")
    error = result.get("error") or {}
    if error.get("code") == "not_found":
        return "I could not find that portfolio among yours."
    return f"I could not read that: {error.get('message', 'the tool failed')}"


def _as_of(result: dict[str, Any]) -> str:
    provenance = result.get("provenance") or {}
    source = provenance.get("data_source")
    text = f" (as of {provenance.get('as_of')}"
    text += f", {source} data)" if source else ")"
    if provenance.get("is_stale"):
        text += " — note: computed on stale prices"
    return text


# --- answers ---------------------------------------------------------------------------------


def _value(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    parts = [
        f"{result['portfolio']['name']}: equity (NAV) {money(d.get('equity_balance'))}, net market value of "
        f"positions {money(d.get('market_value'))}, cash {money(d.get('cash'))}{_as_of(result)}.",
        f"Unrealised P&L is {money(d.get('unrealised_pnl'))} on a cost basis of {money(d.get('cost_basis'))} "
        f"across {count(d.get('position_count'))} positions.",
    ]
    snapshot = result.get("snapshot")
    if snapshot:
        parts.append(
            f"On {snapshot['as_of']} the portfolio made {money(snapshot.get('daily_pnl'))} "
            f"({pct(snapshot.get('daily_return'))}); cumulative P&L is {money(snapshot.get('cumulative_pnl'))}."
        )
    else:
        parts.append("No daily snapshot is stored yet, so I have no daily P&L.")
    return " ".join(parts)


def _performance(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    parts = [
        f"From {d.get('start')} to {d.get('end')} ({count(d.get('observations'))} daily snapshot"
        f"{'' if d.get('observations') == 1 else 's'}) P&L was "
        f"{money(d.get('pnl'))}, a compounded return of {pct(d.get('compounded_return'))}."
    ]
    if d.get("best_day") and d.get("worst_day"):
        parts.append(
            f"Best day {d['best_day']['as_of']} ({pct(d['best_day']['daily_return'])}), worst day "
            f"{d['worst_day']['as_of']} ({pct(d['worst_day']['daily_return'])})."
        )
    latest = d.get("latest") or {}
    parts.append(
        f"Latest day {latest.get('as_of')}: {money(latest.get('daily_pnl'))} ({pct(latest.get('daily_return'))}); "
        f"cumulative P&L {money(latest.get('cumulative_pnl'))}."
    )
    return " ".join(parts)


def _exposures(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    text = (
        f"Exposures{_as_of(result)}: long {money(d.get('long_exposure'))}, short {money(d.get('short_exposure'))}, "
        f"gross {money(d.get('gross_exposure'))}, net {money(d.get('net_exposure'))}, delta-adjusted "
        f"{money(d.get('delta_adjusted_exposure'))}. Leverage (gross / equity) is {ratio(d.get('leverage'))}x; "
        f"stocks {money(d.get('stock_exposure'))}, options {money(d.get('options_exposure'))}."
    )
    if d.get("missing_prices"):
        text += f" Missing prices for {', '.join(d['missing_prices'])}, so these exclude them."
    return text


def _top_positions(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    rows = result["data"]["positions"]
    if not rows:
        return "There are no open positions matching that."
    if result["data"].get("metrics_as_of") is None:
        return "Position values are not computed yet; run `python manage.py run_batch`."
    items = []
    for index, row in enumerate(rows, start=1):
        weight = f", {pct(row['weight_of_equity'])} of equity" if row.get("weight_of_equity") is not None else ""
        items.append(f"{index}. {row['symbol']} ({row['position_type']}) {money(row['market_value'])}{weight}")
    head = f"Top {len(rows)} positions by absolute market value (as of {result['data']['metrics_as_of']}): "
    tail = f" ({result['total']} open positions in all.)" if result.get("truncated") else ""
    return head + "; ".join(items) + "." + tail


def _greeks(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    t = result["data"]["totals"]
    text = (
        f"Portfolio Greeks{_as_of(result)}: delta {ratio(t.get('delta'))} "
        f"(dollar delta {money(t.get('dollar_delta'))}), gamma {ratio(t.get('gamma'))} "
        f"(dollar gamma {money(t.get('dollar_gamma'))}), theta {ratio(t.get('theta'))} per day, "
        f"vega {ratio(t.get('vega'))} per vol point, rho {ratio(t.get('rho'))} per 1% rate."
    )
    options = [p for p in result["data"]["positions"] if not p.get("expired")][:3]
    if options:
        items = [
            f"{p['symbol']} {money(p.get('dollar_delta'))} "
            f"(IV {pct(p.get('implied_vol'))}, {p.get('implied_vol_source')})"
            for p in options
        ]
        text += " Largest option deltas: " + "; ".join(items) + "."
    return text


def _factors(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    betas = d.get("portfolio_betas") or {}
    dollars = d.get("dollar_exposures") or {}
    items = [f"{FACTOR_LABELS.get(f, f)} {ratio(b)} ({money(dollars.get(f))})" for f, b in betas.items()]
    text = f"Factor betas{_as_of(result)}, on {d.get('beta_basis', 'equity')}: " + ", ".join(items) + "."
    text += f" Factor-matrix condition number {ratio(d.get('condition_number'), 1)}."
    flags = d.get("quality_flags") or {}
    if flags:
        text += f" {len(flags)} symbols have limited or insufficient history: {', '.join(sorted(flags)[:8])}."
    return text


def _stress(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    worst = d.get("worst") or (d["scenarios"][0] if d["scenarios"] else None)
    if not worst:
        return "No stress scenario results are stored."
    text = (
        f"The worst stress scenario is {worst['name']}: {money(worst.get('conditioned_pnl'))} "
        f"({pct(worst.get('conditioned_pct'))} of equity){_as_of(result)}."
    )
    others = [s for s in d["scenarios"] if s.get("id") != worst.get("id")][:2]
    if others:
        text += " Next: " + "; ".join(
            f"{s['name']} {money(s.get('conditioned_pnl'))} ({pct(s.get('conditioned_pct'))})" for s in others
        ) + "."  # fmt: skip
    if d.get("losses_exceed_equity"):
        text += f" Losses exceed equity in: {', '.join(d['losses_exceed_equity'])}."
    return text


def _market(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    scenarios = result["data"]["scenarios"]
    asked = _asked_move(question)
    if asked is not None:
        # The move the question names comes first; the others follow for context.
        scenarios = sorted(scenarios, key=lambda s: abs((s.get("shock") or 0.0) - asked) > 1e-9)
    items = [f"{s['name']} {money(s.get('pnl'))} ({pct(s.get('pnl_pct_of_equity'))})" for s in scenarios]
    return f"P&L under market moves{_as_of(result)}: " + "; ".join(items) + "."


def _asked_move(question: str) -> float | None:
    """The market move a question names, as a decimal: "falls 10%" → -0.10, "up 5%" → 0.05."""
    match = re.search(r"(\d{1,2}(?:\.\d+)?)\s*%", question)
    if not match:
        return None
    size = float(match.group(1)) / 100.0
    down = re.search(r"fall|drop|down|decline|crash|lose|sell|-\s*\d", question, re.IGNORECASE)
    return -size if down else size


def _correlations(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    text = (
        f"Over {d.get('window_days')} days{_as_of(result)} the average absolute correlation between holdings is "
        f"{ratio(d.get('average_abs_correlation'))}, diversification score {ratio(d.get('diversification_score'))}, "
        f"effective number of positions {ratio(d.get('effective_positions'), 1)}."
    )
    if d.get("top_pairs"):
        text += " Most correlated pairs: " + "; ".join(
            f"{p['a']}–{p['b']} {ratio(p['correlation'])}" for p in d["top_pairs"][:3]
        ) + "."  # fmt: skip
    clusters = d.get("clusters") or []
    if clusters:
        text += " Clusters: " + "; ".join(
            f"{c['name']} ({', '.join(c['symbols'][:6])}; average {ratio(c.get('average_correlation'))})"
            for c in clusters[:3]
        ) + "."  # fmt: skip
    return text


def _var(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    h = d.get("historical") or {}
    p = d.get("parametric") or {}
    share = d.get("historical_pct_of_equity") or {}
    text = (
        f"One-day 99% VaR (historical) is {money(h.get('var_99'))} ({pct(share.get('var_99'))} of equity), expected "
        f"shortfall {money(h.get('es_99'))}; 95% VaR {money(h.get('var_95'))}{_as_of(result)}. Parametric 99% VaR "
        f"{money(p.get('var_99'))}."
    )
    contributions = [c for c in d.get("contributions", []) if (c.get("historical_var_99") or 0) > 0][:3]
    if contributions:
        text += " Largest contributors: " + ", ".join(
            f"{c['symbol']} {money(c['historical_var_99'])}" for c in contributions
        ) + "."  # fmt: skip
    return text


def _price_history(results: list[dict[str, Any]], question: str) -> str:
    texts = []
    for result in results:
        if (text := _status_text(result)) is not None:
            texts.append(text)
            continue
        d = result["data"]
        texts.append(
            f"{d['symbol']} closed at {money(d['last_close'])} on {d['end']}; over {result['days_returned']} trading "
            f"days since {d['start']} it returned {pct(d['return'])} (low {money(d['low'])}, high {money(d['high'])}; "
            f"{', '.join(d['data_source'])} data)."
        )
    return " ".join(texts)


def _quotes(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    quotes = result["data"]["quotes"]
    items = [
        f"{q['symbol']} {money(q['close'])} ({q['date']}, {q['source']})" for q in quotes if q["close"] is not None
    ]
    text = "Latest closes: " + "; ".join(items) + "." if items else "I have no stored prices for those symbols."
    if result.get("note"):
        text += " " + result["note"]
    if result.get("truncated"):
        text += f" (Showing {result['returned']} of {result['total']} symbols.)"
    return text


def _factor_etfs(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    items = [
        f"{r['symbol']} ({FACTOR_LABELS.get(r['factor'], r['factor'])}) "
        f"{money(r['last_close'])}, {pct(r.get('return'))}"
        for r in d["proxies"]
        if r.get("last_close") is not None
    ]
    text = f"Factor ETFs, latest close and return over {d['days']} trading days: " + "; ".join(items) + "."
    if result.get("note"):
        text += " " + result["note"]
    return text


def _data_quality(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    parts = []
    parts.append(
        f"Missing prices: {', '.join(d['missing_prices']) or 'none'}."
        if d.get("missing_prices") is not None
        else "The exposures overview is not computed, so I cannot check prices."
    )
    if d.get("expired_options"):
        parts.append(f"Expired options (not priced): {', '.join(d['expired_options'])}.")
    flags = d.get("factor_quality_flags") or {}
    parts.append(
        f"{len(flags)} symbols have flagged factor-beta quality." if flags else "No factor-beta quality flags."
    )
    if d.get("not_computed"):
        parts.append(f"Not computed yet: {', '.join(d['not_computed'])}; run `python manage.py run_batch`.")
    parts.append(f"Stale results: {', '.join(d['stale'])}." if d.get("stale") else "No result is stale.")
    return " ".join(parts)


def _batch(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    d = result["data"]
    duration = f" in {ratio((d.get('duration_ms') or 0) / 1000, 1)} s" if d.get("duration_ms") is not None else ""
    text = f"The latest batch run for {d['as_of']} is {d['status']}{duration}."
    if d.get("failed_jobs"):
        text += f" Failed steps for this portfolio: {', '.join(d['failed_jobs'])}."
    return text


SCENARIO_WORDS: tuple[tuple[str, str], ...] = (
    (r"2008|financial crisis|\bgfc\b|lehman|great recession", "financial_crisis_2008"),
    (r"covid|pandemic|2020", "covid_crash_2020"),
    (r"dot-?com|tech bubble|\b2000\b", "dotcom_crash_2000"),
    (r"1987|black monday", "black_monday_1987"),
    (r"2022|rate shock|rates? (?:spike|rise|hike)", "rate_shock_2022"),
    (r"2018", "q4_2018_selloff"),
    (r"tariff|2025", "tariff_shock_2025"),
    (r"\bvix\b|vol(?:atility)? spike", "vix_spike_150"),
)
GROUP_SECTORS = {"tech": "Technology", "technology": "Technology", "energy": "Energy", "financials": "Financials",
                 "banks": "Financials", "healthcare": "Health Care", "health care": "Health Care"}  # fmt: skip


def named_scenario(question: str) -> str | None:
    """The catalog id of a scenario the question names ("2008", "covid", "dot-com"…), if any."""
    for pattern, scenario_id in SCENARIO_WORDS:
        if re.search(pattern, question, re.IGNORECASE):
            return scenario_id
    return None


def _named_stress(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    scenarios = result["data"].get("scenarios") or []
    if not scenarios:
        return "That scenario is not in the stress catalog."
    s = scenarios[0]
    text = (
        f"In the {s['name']} scenario the portfolio's P&L would be {money(s.get('conditioned_pnl'))} "
        f"({pct(s.get('conditioned_pct'))} of equity; {money(s.get('direct_pnl'))} from the shocked factors "
        f"alone){_as_of(result)}."
    )
    positions = (s.get("positions") or [])[:3]
    if positions:
        text += " Largest position P&Ls: " + "; ".join(
            f"{p.get('symbol')} {money(p.get('conditioned_pnl', p.get('pnl')))}" for p in positions
        ) + "."  # fmt: skip
    return text


def _concentration(overview: dict[str, Any]) -> str:
    d = overview["data"]
    underlyings = d.get("by_underlying") or {}
    gross = d.get("gross_exposure") or 0.0
    ranked = sorted(
        underlyings.items(), key=lambda kv: -abs(kv[1].get("dollar_delta", kv[1].get("delta_exposure")) or 0)
    )
    top = ranked[:3]
    if not top or not gross:
        return ""
    share = sum(abs(v.get("market_value") or 0.0) for _, v in top) / gross
    items = ", ".join(f"{k} {money(v.get('market_value'))}" for k, v in top)
    return f"Concentration: the three largest underlyings ({items}) are {pct(share)} of gross exposure."


def _risk_summary(results: list[dict[str, Any]], question: str) -> str:
    var, stress, overview = results
    for result in results:
        if (text := _status_text(result)) is not None:
            return text
    h = var["data"].get("historical") or {}
    contributions = [c for c in var["data"].get("contributions", []) if (c.get("historical_var_99") or 0) > 0][:3]
    drivers = ", ".join(f"{c['symbol']} {money(c['historical_var_99'])}" for c in contributions)
    worst = stress["data"].get("worst") or {}
    od = overview["data"]
    lines = [
        f"Your biggest risks{_as_of(var)}: the VaR drivers are {drivers or 'not available'} "
        f"(contributions to the one-day 99% VaR of {money(h.get('var_99'))}).",
        f"The worst stress scenario is {worst.get('name')}: {money(worst.get('conditioned_pnl'))} "
        f"({pct(worst.get('conditioned_pct'))} of equity).",
    ]
    concentration = _concentration(overview)
    if concentration:
        lines.append(concentration)
    lines.append(
        f"Leverage is {ratio(od.get('leverage'))}x gross of equity; net exposure {money(od.get('net_exposure'))}."
    )
    return " ".join(lines)


def _analysis(results: list[dict[str, Any]], question: str) -> str:
    var, stress, overview = results
    for result in results:
        if (text := _status_text(result)) is not None:
            return text
    h = var["data"].get("historical") or {}
    share = var["data"].get("historical_pct_of_equity") or {}
    worst = stress["data"].get("worst") or {}
    od = overview["data"]
    contributions = [c for c in var["data"].get("contributions", []) if (c.get("historical_var_99") or 0) > 0][:3]
    text = (
        f"Risk summary{_as_of(var)}: equity {money(od.get('equity_balance'))}, gross exposure "
        f"{money(od.get('gross_exposure'))} (leverage {ratio(od.get('leverage'))}x), "
        f"net {money(od.get('net_exposure'))}. "
        f"One-day 99% VaR {money(h.get('var_99'))} ({pct(share.get('var_99'))} of equity), driven by "
        f"{', '.join(c['symbol'] for c in contributions) or 'no single position'}. Worst stress scenario: "
        f"{worst.get('name')} at {money(worst.get('conditioned_pnl'))} ({pct(worst.get('conditioned_pct'))})."
    )
    concentration = _concentration(overview)
    return f"{text} {concentration}".strip()


DELTA_TO = (
    r"(?:delta|exposure|exposed)(?:\s+(?:am i|are we|do i have))?\s+(?:to|on|in|for)\s+"
    r"(?!(?:the|my|market|factors?|tech|rates?|interest|sectors?|styles?)\b)\$?([A-Za-z][A-Za-z.\-]{0,5})\b"
)


def asked_underlying(question: str) -> str | None:
    """The symbol of "delta to NVDA", "exposure to $aapl", "how much NVDA do I have"."""
    match = re.search(DELTA_TO, question, re.IGNORECASE)
    if match:
        return match.group(1).upper()
    found = tickers(question)
    return found[0] if found else None


def _delta_to(results: list[dict[str, Any]], question: str) -> str:
    result = results[0]
    if (text := _status_text(result)) is not None:
        return text
    symbol = asked_underlying(question) or ""
    row = (result["data"].get("by_underlying") or {}).get(symbol)
    if row is None:
        return f"You have no position in {symbol} or options on it{_as_of(result)}, so your delta to {symbol} is zero."
    shares = row.get("share_delta")
    return (
        f"Your delta to {symbol}{_as_of(result)}: {ratio(shares, 1)} share-equivalents (stock plus options), "
        f"{money(row.get('dollar_delta', row.get('delta_exposure')))} in dollars, across {count(row.get('count'))} "
        f"position{'' if row.get('count') == 1 else 's'} with a market value of {money(row.get('market_value'))}."
    )


HEDGE_GROUP = (
    r"hedge\s+(?:my|the|our)?\s*([a-z][a-z ]{1,20}?)(?:\s+(?:exposure|positions?|book|names|stocks))?\s*[?.!]*$"
)


def hedge_group(question: str) -> str:
    """The group a hedge question is about: "my tech" → "tech"; the whole book when none is named."""
    match = re.search(HEDGE_GROUP,
                      question.lower())  # fmt: skip
    group = (match.group(1).strip() if match else "").removesuffix(" exposure")
    return "" if group in ("", "portfolio", "risk", "book", "positions", "it") else group


def _in_group(row: dict[str, Any], group: str) -> bool:
    sector = GROUP_SECTORS.get(group, group).lower()
    tags = [t.lower() for t in row.get("tags") or []]
    return (row.get("sector") or "").lower() == sector or any(group in t for t in tags)


def _hedge(results: list[dict[str, Any]], question: str) -> str:
    positions, factors = results
    for result in results:
        if (text := _status_text(result)) is not None:
            return text
    group = hedge_group(question)
    rows = [r for r in positions["data"]["positions"] if not group or _in_group(r, group)]
    if not rows:
        return f"I find no positions in '{group}' (by sector or tag), so there is nothing to hedge there."
    ids = {str(r["position_id"]) for r in rows}
    market = sum(
        (p.get("exposures") or {}).get("market", 0.0) or 0.0
        for p in factors["data"].get("positions") or []
        if str(p.get("position_id")) in ids
    )
    exposure = sum(r.get("delta_exposure") or 0.0 for r in rows)
    label = f"your {group} positions" if group else "the portfolio"
    names = ", ".join(r["symbol"] for r in rows[:8]) + ("…" if len(rows) > 8 else "")
    side = "short" if market > 0 else "long"
    return (
        f"Exposure of {label} ({names}): {money(exposure)} delta-adjusted{_as_of(factors)}; its market-beta-weighted "
        f"exposure is {money(market)}. Illustration, not advice: {side} about {money(abs(market))} of the market "
        f"index (SPY) would neutralise that beta; sector-specific moves would remain unhedged."
    )


def _freshness(results: list[dict[str, Any]], question: str) -> str:
    batch, overview = results
    parts = []
    if (text := _status_text(batch)) is None:
        b = batch["data"]
        parts.append(
            f"The latest batch run, for {b['as_of']}, is {b['status']} ({b.get('data_source')} data); it finished at "
            f"{b.get('finished_at')}."
        )
    else:
        parts.append(text)
    if (text := _status_text(overview)) is None:
        provenance = overview.get("provenance") or {}
        stale = provenance.get("is_stale")
        reason = f" ({provenance.get('stale_reason')})" if provenance.get("stale_reason") else ""
        parts.append(
            f"Your analytics are as of {provenance.get('as_of')}"
            + (f" and stale{reason}." if stale else ", computed on current prices.")
        )
        missing = overview["data"].get("missing_prices") or []
        parts.append(f"Missing prices: {', '.join(missing)}." if missing else "No price is missing.")
    else:
        parts.append(text)
    return " ".join(parts)


DECLINE = re.compile(
    r"should i (?:buy|sell)|\bpredict|\bforecast|will .* (?:go up|go down|rise|fall)|\btax(?:es)?\b|\bweather\b|"
    r"\bcrypto|bitcoin|\blottery\b|password|\bjoke\b",
    re.IGNORECASE,
)


CAPABILITIES = (
    "I can answer from the stored analytics: portfolio value and performance, exposures and leverage, top "
    "positions, options Greeks, factor betas, the worst stress scenarios, market-move scenarios, correlations "
    "and clusters, VaR and expected shortfall, prices and quotes, factor ETF prices, data quality and the batch "
    "status. "
    'Try: "What is my biggest risk?", "Analyze my risk", "What is my delta to NVDA?", "How much would I '
    'lose in a 2008-style crash?", "Hedge my tech", "Is my data up to date?"'
)


def _top_n(question: str) -> int:
    match = re.search(r"\btop\s+(\d{1,2})\b", question)
    return max(1, min(int(match.group(1)), 20)) if match else 5


def _position_calls(question: str) -> list[tuple[str, dict[str, Any]]]:
    args: dict[str, Any] = {"limit": _top_n(question)}
    if re.search(r"\bshorts?\b", question):
        args["side"] = "short"
    elif re.search(r"\blongs?\b", question):
        args["side"] = "long"
    if re.search(r"\boptions?\b", question):
        args["options_only"] = True
    return [("list_positions", args)]


def tickers(question: str) -> list[str]:
    """Ticker-looking words (upper case in the original question, or $-prefixed)."""
    found = re.findall(r"\$([A-Za-z]{1,5})\b", question) + re.findall(r"\b([A-Z][A-Z0-9]{0,4}(?:\.[A-Z])?)\b", question)
    out: list[str] = []
    for token in found:
        token = token.upper()
        if token not in NOT_TICKERS and token not in out:
            out.append(token)
    return out


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


COMPOSITE: tuple[Intent, ...] = (
    Intent(
        "freshness",
        _r(
            r"up to date|up-to-date|\bfresh|\bcurrent\b.*data|data.*\bcurrent\b|last updated|when .*updated|"
            r"\bas of when"
        ),
        # Not get_data_quality: its market-data scan costs ~150 ms; the overview's provenance says enough.
        lambda q: [("get_batch_status", {}), ("get_overview", {})],
        _freshness,
    ),
    Intent(
        "hedge",
        _r(r"\bhedge|neutrali[sz]e"),
        lambda q: [
            ("list_positions", {"limit": 100}),
            ("get_factor_exposures", {"include_positions": True, "limit": 50}),
        ],
        _hedge,
    ),
    Intent(
        "delta_to",
        _r(DELTA_TO),
        lambda q: [("get_overview", {})],
        _delta_to,
    ),
    Intent(
        "named_stress",
        _r(r"2008|covid|pandemic|dot-?com|1987|black monday|2022|2018|tariff|\bgfc\b|lehman|financial crisis"),
        lambda q: [("get_stress_test", {"scenario": named_scenario(q) or ""})],
        _named_stress,
    ),
    Intent(
        "analysis",
        _r(
            r"analy[sz]e|risk (?:summary|overview|report|profile)|summar\w* (?:of )?(?:my )?risk|how risky|"
            r"overall risk|assess (?:my )?risk|risk check"
        ),
        lambda q: [("get_var", {"limit": 3}), ("get_stress_test", {"limit": 3}), ("get_overview", {})],
        _analysis,
    ),
    Intent(
        "risk_summary",
        _r(
            r"(?:biggest|largest|main|top|greatest|key|major|primary)\s+risks?|riskiest|where is my risk|"
            r"what(?:'s| is) driving (?:my )?risk|risk drivers?|what could hurt"
        ),
        lambda q: [("get_var", {"limit": 5}), ("get_stress_test", {"limit": 3}), ("get_overview", {})],
        _risk_summary,
    ),
)

INTENTS: tuple[Intent, ...] = (
    Intent("batch", _r(r"\bbatch\b|\blast run\b|\bjobs?\b"), lambda q: [("get_batch_status", {})], _batch),
    Intent(
        "data_quality",
        _r(r"data quality|missing (?:prices|data)|\bstale\b|quality flags?"),
        lambda q: [("get_data_quality", {})],
        _data_quality,
    ),
    Intent(
        "factor_etfs",
        _r(r"factor etfs?|etf prices|factor proxies|proxy etfs?"),
        lambda q: [("get_factor_etf_prices", {})],
        _factor_etfs,
    ),
    Intent(
        "var",
        _r(r"\bc?var\b|value at risk|expected shortfall|\btail risk\b|risk contribut"),
        lambda q: [("get_var", {})],
        _var,
    ),
    Intent(
        "stress",
        _r(r"\bstress|\bworst\b.*scenario|scenario.*\bworst\b|\bcrash|\bcrisis|\brecession"),
        lambda q: [("get_stress_test", {"limit": 5})],
        _stress,
    ),
    Intent(
        "market",
        _r(r"market (?:falls?|drops?|moves?|rises?|rallies|down|up)|market scenarios?|if the market|\bsell-?off"),
        lambda q: [("get_market_risk", {})],
        _market,
    ),
    Intent(
        "correlations",
        _r(r"correlat|\bclusters?\b|diversif|co-?move"),
        lambda q: [("get_correlations", {"pairs": 3})],
        _correlations,
    ),
    Intent(
        "greeks",
        _r(r"\bgreeks?\b|\bdelta\b|\bgamma\b|\btheta\b|\bvega\b|\brho\b|time decay"),
        lambda q: [("get_greeks", {"limit": 3})],
        _greeks,
    ),
    Intent(
        "factors",
        _r(r"\bfactors?\b|\bbetas?\b|style exposure|\bmomentum\b|\bgrowth\b tilt|\bvalue tilt"),
        lambda q: [("get_factor_exposures", {})],
        _factors,
    ),
    Intent(
        "top_positions",
        _r(r"\btop\b|\blargest\b|\bbiggest\b|\bpositions\b|\bholdings?\b|concentrat"),
        _position_calls,
        _top_positions,
    ),
    Intent(
        "exposures",
        _r(r"exposures?|\bleverage|\bgross\b|\bnet\b|\blong\b|\bshort\b|\bcash\b"),
        lambda q: [("get_overview", {})],
        _exposures,
    ),
    Intent(
        "performance",
        _r(r"\bperform|\breturns?\b|\bp&l\b|\bpnl\b|\bprofit|\bgain|\bloss(?:es)?\b|how (?:am i|did|is) .*doing|made"),
        lambda q: [("get_snapshots", {"days": 30})],
        _performance,
    ),
    Intent(
        "value",
        _r(r"\bvalue\b|\bworth\b|\bnav\b|\bequity\b|\boverview\b|\bsummary\b|\bsummari[sz]e\b|how big"),
        lambda q: [("get_overview", {})],
        _value,
    ),
    Intent(
        "price_history",
        _r(r"price history|\bhistory\b|\bchart\b|how has \S+ (?:moved|done|traded)|over the last \d+ days"),
        lambda q: [("get_price_history", {"symbol": s, "days": 30}) for s in tickers(q)[:3]],
        _price_history,
    ),
    Intent(
        "quotes",
        _r(r"\bquotes?\b|\bprices?\b|\btrading at\b|\blast close\b|\bclosed? at\b"),
        lambda q: [("get_quotes", {"symbols": tickers(q)[:20]} if tickers(q) else {})],
        _quotes,
    ),
)
# "value at risk" must not also answer "value"; a stress question about a crash is not "performance".
EXCLUSIVE = {"var": {"value", "factors"}, "stress": {"market", "performance"}, "factor_etfs": {"factors", "quotes"},
             "price_history": {"quotes"}, "top_positions": {"exposures"}, "data_quality": {"quotes"},
             "correlations": {"top_positions"}}  # fmt: skip
MAX_INTENTS = 3

MODE_NOTES = {
    "blue": {},
    "green": {
        "risk_summary": "VaR drivers are the positions that add most to a bad day's loss; a stress scenario replays "
        "a past or imagined shock on today's holdings.",
        "analysis": "Leverage above 1x means exposure larger than your own money; VaR is a normal bad day, the stress "
        "scenario a very bad one.",
        "delta_to": "Share-equivalents add the stock you hold and what your options behave like, per $1 move.",
        "hedge": "A hedge offsets a move; beta-weighting scales each position by how much it follows the market.",
        "named_stress": "This replays that episode's factor moves on today's positions.",
        "*": "Ask me to explain any of these terms.",
        "var": "VaR is the loss a normal day should not exceed with 99% confidence; expected shortfall is the "
        "average loss on the days beyond it.",
        "greeks": "Delta is how much the options move per $1 in the underlying; theta is what time costs per day.",
        "factors": "A beta of 1.0 to the market means the portfolio tends to move one-for-one with it.",
        "stress": "A stress test replays a historical or hypothetical shock on today's positions.",
        "correlations": "Lower correlations mean holdings offset each other more, which is diversification.",
        "exposures": "Gross adds longs and shorts; net subtracts shorts from longs.",
    },
    "violet": {
        "risk_summary": "Plan for the worst scenario, not the VaR: check that loss against your limit first.",
        "analysis": "Conservatively, size to survive the worst scenario with room to spare.",
        "hedge": "A beta hedge leaves sector and single-name risk in place; do not treat it as full protection.",
        "named_stress": "History rhymes: treat this loss as possible and check it against your loss limit.",
        "delta_to": "Concentrated delta to one name is single-stock risk; check it against your position limits.",
        "*": "Treat these figures as a floor for risk, not a ceiling.",
        "var": "VaR understates crisis losses; size positions to survive the stress scenarios too.",
        "stress": "Treat the worst scenario as plausible and check it against your loss limit.",
        "exposures": "Check leverage against your risk limit before adding exposure.",
        "greeks": "Short gamma and negative theta deserve attention ahead of large moves.",
    },
    "indigo": {
        "risk_summary": "Decide whether these drivers are the bets you mean to make; if not, trim them first.",
        "analysis": "The strategic question is whether the risk budget sits in your highest-conviction ideas.",
        "hedge": "Hedging the beta keeps the stock selection while removing the market call.",
        "named_stress": "Ask which positions you would still want to own through such an episode.",
        "*": "Weigh these figures against your strategy and conviction.",
        "factors": "Large style tilts are bets in themselves; decide whether they are intended.",
        "top_positions": "Concentration in the top names drives most of the risk; weigh it against conviction.",
        "correlations": "Clusters of highly correlated names behave as one position in a sell-off.",
    },
}


def result_provenance(result: dict[str, Any]) -> tuple[str, str] | None:
    """(as-of date, data source) of a tool result, from its provenance or its own dates."""
    if result.get("status") != "ok":
        return None
    provenance = result.get("provenance") or {}
    data = result.get("data") or {}
    as_of = provenance.get("as_of") or data.get("as_of") or data.get("metrics_as_of") or data.get("end")
    source = provenance.get("data_source") or data.get("data_source")
    if isinstance(source, list):
        source = ", ".join(str(s) for s in source)
    if not as_of:
        return None
    return str(as_of), str(source or "stored")


def provenance_line(results: list[dict[str, Any]]) -> str:
    """ "Source: …" naming every (as-of, data source) pair the answer's figures come from."""
    pairs = list(dict.fromkeys(p for r in results if (p := result_provenance(r)) is not None))
    if not pairs:
        return ""
    items = "; ".join(f"{source} data as of {as_of}" for as_of, source in pairs)
    simulated = (
        " Simulated prices are a demo model, not market quotes." if any("simulated" in s for _, s in pairs) else ""
    )
    return f"Source: {items}.{simulated}"


class LocalProvider(Provider):
    """Keyword intents → tool calls → sentences with the figures; streams in small chunks."""

    name = "local"
    model = "local-rules-v1"

    def answer_plan(self, question: str) -> list[Intent]:
        """The intents a question asks about, at most ``MAX_INTENTS``, exclusive ones removing their shadows."""
        if DECLINE.search(question):
            return []
        for intent in COMPOSITE:
            if intent.pattern.search(question):
                return [intent]
        matched = [intent for intent in INTENTS if intent.pattern.search(question)]
        names = {intent.name for intent in matched}
        shadowed = {s for name in names for s in EXCLUSIVE.get(name, set())}
        matched = [intent for intent in matched if intent.name not in shadowed]
        if {"value", "exposures"} <= {i.name for i in matched}:
            matched = [i for i in matched if i.name != "value"] + [i for i in matched if i.name == "value"]
        return matched[:MAX_INTENTS]

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        question = request.message.strip()
        intents = self.answer_plan(question)
        if re.fullmatch(r"(?i)\s*(help|what can you do\??|hi|hello)\s*", question):
            intents = []
        paragraphs: list[str] = []
        sources: list[dict[str, Any]] = []
        for number, intent in enumerate(intents):
            calls = intent.calls(question)
            if not calls:
                paragraphs.append("Tell me which symbol you mean (e.g. AAPL) and I will look it up.")
                continue
            results = []
            for index, (name, arguments) in enumerate(calls):
                call_id = f"local_{number}_{index}"
                yield {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}
                result = request.execute(name, arguments)
                yield {"type": "tool_result", "id": call_id, "name": name, "result": result}
                results.append(result)
            text = intent.compose(results, question)
            note = MODE_NOTES.get(request.mode, {}).get(intent.name) or MODE_NOTES.get(request.mode, {}).get("*")
            if note and all(r.get("status") == "ok" for r in results):
                text += " " + note
            paragraphs.append(text)
            sources.extend(results)
        if not paragraphs:
            lead = (
                "I can't answer that: I give no advice, predictions or answers beyond your portfolio's stored data. "
                if DECLINE.search(question)
                else "I can't answer that from the data I have. "
            )
            paragraphs.append(lead + CAPABILITIES)
        provenance = provenance_line(sources)
        if provenance:
            paragraphs.append(provenance)
        answer = "\n\n".join(paragraphs)
        for chunk in words(answer):
            yield {"type": "token", "text": chunk}
        yield {"type": "usage", "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    def health(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, "reachable": True, "detail": "offline rule-based answers"}

"""Benchmark: ``POST /api/v1/analytics/portfolios/{id}/what_if`` with 5 trades, API round trip on loopback.

Starts daphne on 127.0.0.1 (a free port) against the database DATABASE_URL names (PostgreSQL for the
recorded figures), logs in through ``POST /api/v1/auth/login``, and sends what-ifs of 5 trades (two stock
adds, a reduce, a close and an option by its fields) one at a time on a keep-alive connection, after a
warm-up: for each demo portfolio, and for a 500-position portfolio the script creates (idempotently) for a
bench user. The day's batch is run first when a portfolio's stored results are not current for its book (a
new bench portfolio): the what-if then takes its before side from them, as on any day after the batch.
Reports p50 / p95 / max per portfolio, daphne's CPU per request and the load average. Loopback only; daphne is
stopped at the end.

Usage (the database must hold the demo with the batch run, e.g. from ``manage.py demo --no-serve``):
    DATABASE_URL=postgres://... .venv/bin/python manage.py demo --no-serve
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_whatif.py [--requests 40]
Targets: p95 < 100 ms on the demo portfolios, < 300 ms on the 500-position portfolio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_api import HOST, cpu_seconds, free_port, request, start_daphne, stop_daphne  # noqa: E402

DEMO = {
    "demo_individual@sigmasight.com": "individual (16 positions)",
    "demo_hnw@sigmasight.com": "high net worth (17 positions)",
    "demo_hedgefundstyle@sigmasight.com": "hedge fund style (30 positions, 8 options)",
}
BENCH_EMAIL = "bench_whatif@sigmasight.com"
BENCH_PASSWORD = "bench-whatif-1"
LARGE_POSITIONS = 500


def trades_for(held: list[str], expiry: dt.date) -> list[dict]:
    """5 trades: two adds, a reduce and a close of held stocks, and a put by its fields."""
    return [
        {"action": "add", "symbol": "SPY", "quantity": 50},
        {"action": "add", "symbol": "QQQ", "quantity": -20, "price": 400},
        {"action": "reduce", "symbol": held[0], "quantity": 1},
        {"action": "close", "symbol": held[1]},
        {
            "action": "add",
            "underlying": "SPY",
            "strike": 500,
            "expiration": expiry.isoformat(),
            "option_type": "put",
            "quantity": 2,
        },
    ]


def large_portfolio_ensure() -> tuple[str, list[str]]:
    """A bench user's portfolio of 500 positions (stock lots and options on the demo's symbols), created once."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    django.setup()
    from analytics.selectors import factor_model_latest
    from marketdata.occ import occ_symbol
    from portfolios.models import Portfolio, Position, User
    from portfolios.services import portfolio_create, position_create

    user = User.objects.filter(email=BENCH_EMAIL).first() or User.objects.create_user(
        email=BENCH_EMAIL, password=BENCH_PASSWORD, full_name="What-if bench"
    )
    portfolio = Portfolio.objects.filter(user=user).first() or portfolio_create(
        user=user, name="What-if bench (500 positions)", equity_balance=Decimal("25000000")
    )
    symbols = sorted(
        set(Position.objects.exclude(position_type__in=["LC", "LP", "SC", "SP"]).values_list("symbol", flat=True))
    )
    fit = factor_model_latest()
    assert fit is not None, "run the batch first (manage.py demo --no-serve)"
    as_of = fit.as_of
    count = Position.objects.filter(portfolio=portfolio).count()
    n = count
    while n < LARGE_POSITIONS:
        symbol = symbols[n % len(symbols)]
        if n % 8 == 7:  # one position in 8 is an option on a stock
            expiry = as_of + dt.timedelta(days=30 + 7 * (n % 20))
            strike = Decimal(50 + 10 * (n % 40))
            is_call = n % 16 == 7
            contract = occ_symbol(underlying=symbol, expiration=expiry, is_call=is_call, strike=strike)
            position_create(
                portfolio=portfolio, symbol=contract, underlying_symbol=symbol, asset_class="option",
                position_type="LC" if is_call else "LP",
                quantity=Decimal(1 + n % 5), multiplier=Decimal(100), strike=strike, expiration=expiry,
                entry_price=Decimal("5"), entry_date=as_of - dt.timedelta(days=30),
            )  # fmt: skip
        else:
            short = n % 5 == 4
            position_create(
                portfolio=portfolio, symbol=symbol, position_type="SHORT" if short else "LONG",
                quantity=Decimal(-(10 + n % 50) if short else 10 + n % 50), entry_price=Decimal("100"),
                entry_date=as_of - dt.timedelta(days=60 + n % 100),
            )  # fmt: skip
        n += 1
    held = sorted(
        set(Position.objects.filter(portfolio=portfolio, position_type="LONG").values_list("symbol", flat=True))
    )
    current_results_ensure(as_of=as_of)
    return str(portfolio.pk), held


def current_results_ensure(*, as_of: dt.date) -> None:
    """Run the day's batch for every portfolio unless each one's stored results are current for its book (a
    what-if then takes its before side from them, as it does the day after a batch). A new bench portfolio, or
    results stored by code that did not record the book's fingerprint, make it run once."""
    from analytics.services.batch import batch_run, portfolio_steps
    from analytics.services.inputs import portfolio_info
    from analytics.services.whatif import book_load, what_if_model
    from portfolios.models import Portfolio

    fit = what_if_model(as_of=as_of)
    stale = [
        p.name
        for p in Portfolio.objects.order_by("name")
        if book_load(portfolio=portfolio_info(p), day=as_of, fit_row=fit)[1] is None
    ]
    if stale:
        print(f"running the batch of {as_of}: stored results not current for {', '.join(stale)}", flush=True)
        outcome = batch_run(as_of=as_of, steps=list(portfolio_steps()), trigger="bench")
        assert outcome.ok, outcome.run.error_summary


def held_of(port: int, token: str, pid: str) -> list[str]:
    status, body = request(port, "GET", f"/api/v1/data/portfolios/{pid}/positions?page_size=500", token=token)
    assert status == 200, body
    return sorted({p["symbol"] for p in json.loads(body)["results"] if p["position_type"] == "LONG"})


def measure(port: int, token: str, pid: str, trades: list[dict], *, requests: int, warmup: int) -> dict:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"trades": trades})
    latencies = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        conn.request("POST", f"/api/v1/analytics/portfolios/{pid}/what_if", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"what-if answered {response.status}: {data[:300]!r}")
        if i >= warmup:
            latencies.append(elapsed)
    conn.close()
    if not latencies:
        return {}
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[max(0, round(0.95 * len(latencies)) - 1)],
        "max_ms": latencies[-1],
        "bytes": len(data),
        "not_computed": json.loads(data)["not_computed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="Measured requests per portfolio (default 40).")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    large_pid, large_held = large_portfolio_ensure()
    from django.db import connection

    vendor = connection.vendor
    expiry = dt.date.today() + dt.timedelta(days=120)
    port = free_port()
    processes = start_daphne(port)
    try:
        rows = []
        load_before = os.getloadavg()
        for email, label in [*DEMO.items(), (BENCH_EMAIL, f"bench ({LARGE_POSITIONS} positions)")]:
            password = BENCH_PASSWORD if email == BENCH_EMAIL else "demo12345"
            status, body = request(port, "POST", "/api/v1/auth/login", {"email": email, "password": password})
            assert status == 200, body
            token = json.loads(body)["access_token"]
            status, body = request(port, "GET", "/api/v1/data/portfolios", token=token)
            pid = json.loads(body)["results"][0]["id"] if email != BENCH_EMAIL else large_pid
            held = large_held if email == BENCH_EMAIL else held_of(port, token, pid)
            trades = trades_for(held, expiry)
            measure(port, token, pid, trades, requests=0, warmup=args.warmup)
            cpu_before = cpu_seconds(processes)
            result = measure(port, token, pid, trades, requests=args.requests, warmup=0)
            # daphne's own CPU per request: what the request costs whatever else runs (PostgreSQL's work apart).
            result["cpu_ms"] = (cpu_seconds(processes) - cpu_before) * 1000 / args.requests
            rows.append((label, result))
            print(
                f"{label:45s} p50 {result['p50_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms  "
                f"max {result['max_ms']:7.1f} ms  daphne CPU {result['cpu_ms']:6.1f} ms/request  "
                f"({result['requests']} requests, {result['bytes']} bytes, "
                f"not computed: {result['not_computed'] or 'none'})",
                flush=True,
            )
        load_after = os.getloadavg()
    finally:
        stop_daphne(processes)
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}), database {vendor}; load average before "
        f"{' '.join(f'{v:.2f}' for v in load_before)}, after {' '.join(f'{v:.2f}' for v in load_after)}"
    )


if __name__ == "__main__":
    main()

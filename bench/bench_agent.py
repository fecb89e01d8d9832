"""Benchmark: the local agent on the evaluation set (first token, whole answer) and MCP tool calls over loopback.

Not a test. Runs ``agent.services.chat_run`` (the path all three transports share: validation,
conversation and message rows, tool calls through the scoped executor, answer composition,
streaming, the stored assistant message) for every standard question on each demo portfolio,
after one warm-up pass. First token = from the call to the first ``token`` event; whole answer =
to the ``done`` event (the assistant message is stored by then). Targets: first token < 200 ms and
whole answer < 1 s for every question. The questions are the evaluation set (``agent/evaluation.py``,
each asked about its own demo portfolio; ``--questions standard`` for the earlier 15 questions).

MCP: a daphne process serves the same database; the official SDK client (streamable HTTP, a personal
access token) calls the read-only tools in turn over loopback; each ``call_tool`` is timed at the
client, after a warm-up. Target: p95 < 50 ms.

    DATABASE_URL=sqlite:////tmp/bench_agent.sqlite3 .venv/bin/python bench/bench_agent.py [--rounds 5] [--no-record]

The script prepares the database itself when needed (migrate, seed_demo, 300 sessions of simulated
prices, the analytics batch). Appends the figures to BENCHMARKS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_agent.sqlite3")
os.environ["AGENT_PROVIDER"] = "local"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from agent.evaluation import eval_cases  # noqa: E402
from agent.services import chat_run  # noqa: E402
from analytics.models import PortfolioResult  # noqa: E402
from analytics.services.batch import batch_run, portfolio_steps  # noqa: E402
from marketdata.calendar import latest_completed_session  # noqa: E402
from marketdata.services import prices_sync  # noqa: E402
from portfolios.demo import demo_portfolio_id  # noqa: E402
from portfolios.models import Portfolio, Position  # noqa: E402

EMAILS = ("demo_individual@sigmasight.com", "demo_hnw@sigmasight.com", "demo_hedgefundstyle@sigmasight.com")
QUESTIONS = (
    "What is my portfolio worth?",
    "How did I perform?",
    "Show me my exposures and leverage",
    "What are my top 3 positions?",
    "What are my options Greeks?",
    "What are my factor betas?",
    "What is the worst stress scenario for me?",
    "What would happen if the market drops 10%?",
    "How correlated are my holdings?",
    "What is my value at risk?",
    "What is the last close of SPY?",
    "Show the price history of AAPL",
    "What are the factor ETF prices?",
    "Any data quality issues?",
    "Did the batch run?",
)
MCP_TARGET_P95_MS = 50.0
MCP_TOOLS: tuple[tuple[str, dict[str, object]], ...] = (
    ("get_var", {}),
    ("get_overview", {}),
    ("list_positions", {"limit": 10}),
    ("get_greeks", {}),
    ("get_stress_test", {"limit": 3}),
    ("list_portfolios", {}),
)
FIRST_TOKEN_TARGET_MS = 200.0
WHOLE_TARGET_MS = 1000.0


def prepare() -> None:
    call_command("migrate", verbosity=0)
    if Position.objects.count() != 63:
        call_command("seed_demo", verbosity=0)
    if not PortfolioResult.objects.exists():
        as_of = latest_completed_session()
        prices_sync(backfill_days=300, as_of=as_of, provider="simulated")
        batch_run(as_of=as_of, steps=list(portfolio_steps()), trigger="bench")


def ask(portfolio: Portfolio, question: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = None
    tools = 0
    for event in chat_run(user=portfolio.user, message=question, portfolio_id=portfolio.id):
        if event["type"] == "token" and first is None:
            first = time.perf_counter()
        elif event["type"] == "tool_call":
            tools += 1
        elif event["type"] == "error":
            raise RuntimeError(f"{question!r}: {event}")
    ended = time.perf_counter()
    return ((first or ended) - started) * 1000.0, (ended - started) * 1000.0, tools


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def mcp_bench(calls: int) -> list[float]:
    """Client-side milliseconds of ``calls`` MCP tool calls to a live daphne on this database."""
    import asyncio
    import socket
    import subprocess

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from agent.access import access_token_create
    from portfolios.models import User

    user = User.objects.get(email=EMAILS[1])
    _token, raw = access_token_create(user=user, name="bench")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env={**os.environ, "DEBUG": os.environ.get("DEBUG", "true")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        async def run() -> list[float]:
            timings: list[float] = []
            headers = {"Authorization": f"Bearer {raw}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client,
            ):
                for name, arguments in MCP_TOOLS * 3:  # warm-up
                    await client.call_tool(name, arguments)
                for index in range(calls):
                    name, arguments = MCP_TOOLS[index % len(MCP_TOOLS)]
                    started = time.perf_counter()
                    result = await client.call_tool(name, arguments)
                    timings.append((time.perf_counter() - started) * 1000.0)
                    if result.is_error:
                        raise RuntimeError(f"{name}: {result.structured_content}")
            return timings

        return asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", choices=["eval", "standard"], default="eval")
    parser.add_argument("--mcp-calls", type=int, default=300)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    prepare()
    portfolios = [Portfolio.objects.select_related("user").get(pk=demo_portfolio_id(e)) for e in EMAILS]
    if args.questions == "eval":
        by_email = {p.user.email: p for p in portfolios}
        asks = [(by_email[c.email], c.question) for c in eval_cases()]
    else:
        asks = [(p, q) for p in portfolios for q in QUESTIONS]
    for portfolio, question in asks:  # warm-up: imports, query plans, caches
        ask(portfolio, question)

    per_question: dict[str, list[tuple[float, float]]] = {q: [] for _, q in asks}
    for _ in range(args.rounds):
        for portfolio, question in asks:
            first, whole, _tools = ask(portfolio, question)
            per_question[question].append((first, whole))

    firsts = [f for values in per_question.values() for f, _ in values]
    wholes = [w for values in per_question.values() for _, w in values]
    worst = max(per_question, key=lambda q: max(w for _, w in per_question[q]))
    print(f"{'question':48} {'first p50':>10} {'first max':>10} {'whole p50':>10} {'whole max':>10}")
    for question, values in per_question.items():
        f = [v[0] for v in values]
        w = [v[1] for v in values]
        print(f"{question:48} {statistics.median(f):10.1f} {max(f):10.1f} {statistics.median(w):10.1f} {max(w):10.1f}")
    summary = (
        f"first token p50 {statistics.median(firsts):.1f} ms, p95 {percentile(firsts, 0.95):.1f} ms, "
        f"max {max(firsts):.1f} ms; whole answer p50 {statistics.median(wholes):.1f} ms, "
        f"p95 {percentile(wholes, 0.95):.1f} ms, max {max(wholes):.1f} ms"
    )
    met = max(firsts) < FIRST_TOKEN_TARGET_MS and max(wholes) < WHOLE_TARGET_MS
    print(summary)
    print("targets met" if met else "targets NOT met")
    mcp = mcp_bench(args.mcp_calls) if args.mcp_calls else []
    mcp_met = False
    if mcp:
        mcp_summary = (
            f"MCP call_tool p50 {statistics.median(mcp):.1f} ms, p95 {percentile(mcp, 0.95):.1f} ms, "
            f"max {max(mcp):.1f} ms over {len(mcp)} calls"
        )
        mcp_met = percentile(mcp, 0.95) < MCP_TARGET_P95_MS
        print(mcp_summary, "(target met)" if mcp_met else "(target NOT met)")

    if args.no_record:
        return
    load = os.getloadavg()[0]
    answers = len(firsts)
    lines = [
        "",
        "## Agent v2: evaluation set and MCP (`bench/bench_agent.py`)",
        "",
        f"Run {timezone.now():%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f}, Python {platform.python_version()}), database {connection.vendor}, "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}: {len(asks)} questions "
        f"({args.questions} set, over the {len(portfolios)} demo portfolios) × {args.rounds} rounds = {answers} "
        "answers through `chat_run` "
        "(validation, conversation and message rows, scoped tool calls, composition, streaming, stored answer), "
        "after a warm-up pass.",
        "",
        f"- first token: p50 {statistics.median(firsts):.1f} ms, p95 {percentile(firsts, 0.95):.1f} ms, "
        f"**max {max(firsts):.1f} ms** (target < {FIRST_TOKEN_TARGET_MS:.0f} ms)",
        f"- whole answer: p50 {statistics.median(wholes):.1f} ms, p95 {percentile(wholes, 0.95):.1f} ms, "
        f"**max {max(wholes):.1f} ms** (target < {WHOLE_TARGET_MS:.0f} ms); slowest question: {worst!r}",
        f"- status: {'targets met' if met else 'targets NOT met'}",
    ]
    if mcp:
        lines += [
            f"- MCP (official SDK client → daphne `/mcp` on loopback, personal access token, {len(MCP_TOOLS)} tools in "
            f"turn, after a warm-up): call_tool p50 {statistics.median(mcp):.1f} ms, "
            f"**p95 {percentile(mcp, 0.95):.1f} ms**, max {max(mcp):.1f} ms over {len(mcp)} calls "
            f"(target p95 < {MCP_TARGET_P95_MS:.0f} ms: {'met' if mcp_met else 'NOT met'})",
        ]
    lines += [
        "",
        f"Reproduce: `DATABASE_URL={os.environ['DATABASE_URL']} .venv/bin/python bench/bench_agent.py` "
        "(prepares the database when empty: migrate, seed_demo, 300 simulated sessions, batch).",
    ]
    with (ROOT / "BENCHMARKS.md").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

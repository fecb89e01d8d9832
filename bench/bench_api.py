"""Benchmark: the read endpoints the dashboard and the agent use, with a Bearer token, served by daphne.

Starts daphne on 127.0.0.1 (a free port) against the database that DATABASE_URL names, logs in as
a demo user through ``POST /api/v1/auth/login`` (the hedge fund by default: its 30 positions are the
largest answer), then for each endpoint warms up and loads it with ``wrk`` when it is installed (else
a small bounded Python load generator: threads with keep-alive ``http.client`` connections), one
endpoint after the other on the same daphne processes. Loopback only; daphne is stopped at the end.

The endpoints (``--endpoints all``, the default): the caller's portfolios, the portfolio, its
positions, and every registered result kind (``analytics.results.registry``: overview, Greeks, factor
exposures, market risk, stress, snapshots, correlations, VaR and whatever kinds are added).

Usage (the database must hold the demo with the batch run, e.g. from ``manage.py demo --no-serve``):
    DATABASE_URL=sqlite:////tmp/bench_api.db .venv/bin/python manage.py demo --no-serve
    DATABASE_URL=sqlite:////tmp/bench_api.db .venv/bin/python bench/bench_api.py [--duration 10]
        [--connections 16] [--threads 2] [--workers 2] [--endpoints all|positions,overview,…] [--python]
Targets: ≥ 500 requests/s, p99 < 50 ms, 0 errors (2 cores), every endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEMO_USERS = {  # demo login → its portfolio (deterministic ids: md5("<email>_portfolio"))
    "individual": ("demo_individual@sigmasight.com", "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"),
    "hedgefund": ("demo_hedgefundstyle@sigmasight.com", "fcd71196-e93e-f000-5a74-31a9eead3118"),
}
MAX_PYTHON_REQUESTS = 200_000  # the fallback generator stops at this count or at --duration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def start_daphne(port: int, *, workers: int = 1) -> list[subprocess.Popen]:
    """``workers`` daphne processes; with more than one, each on a socket of its own on the port, as
    ``manage.py serve`` runs them (``core.serve.listen``: the kernel spreads connections between them)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sigmasight.settings"}
    daphne = str(ROOT / ".venv" / "bin" / "daphne")
    listeners: list[socket.socket] = []
    if workers == 1:
        commands = [[daphne, "-b", HOST, "-p", str(port), "--verbosity", "0", "sigmasight.asgi:application"]]
        fds: list[tuple[int, ...]] = [()]
    else:
        sys.path.insert(0, str(ROOT))
        from core.serve import listen

        listeners = listen(host=HOST, port=port, count=workers)
        fds = [(listeners[i % len(listeners)].fileno(),) for i in range(workers)]
        commands = [[daphne, "--fd", str(fd[0]), "--verbosity", "0", "sigmasight.asgi:application"] for fd in fds]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        for command, pass_fds in zip(commands, fds, strict=True)
    ]
    for listener in listeners:
        listener.close()  # the children hold them now
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            stop_daphne(processes)
            raise SystemExit("daphne exited during start-up")
        try:
            status, _ = request(port, "GET", "/api/v1/ready-probe")
            if status == 404:  # Django answers: at least one worker is up; give the others a moment
                time.sleep(3 if workers > 1 else 0)
                return processes
        except OSError:
            pass
        time.sleep(0.3)
    stop_daphne(processes)
    raise SystemExit("daphne did not start within 60 s")


def stop_daphne(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def cpu_seconds(processes: list[subprocess.Popen]) -> float:
    """User + system CPU time of the daphne processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far, all cores (``/proc/stat``: everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, token: str, path: str, *, duration: int, connections: int, threads: int) -> dict:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        f"http://{HOST}:{port}{path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout

    def ms(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = {p: ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.M)}
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return {
        "tool": "wrk " + " ".join(command[1:5]),
        "requests": total,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": percentiles["50"],
        "p90_ms": percentiles["90"],
        "p99_ms": percentiles["99"],
        "errors": errors,
        "raw": output,
    }


def run_python(port: int, token: str, path: str, *, duration: int, connections: int) -> dict:
    """Closed-loop load: ``connections`` threads, each with one keep-alive connection."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    headers = {"Authorization": f"Bearer {token}"}

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop_at and len(latencies) + len(mine) < MAX_PYTHON_REQUESTS:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=10)
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.monotonic()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "tool": f"python http.client, {connections} threads",
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49],
        "p90_ms": cuts[89],
        "p99_ms": cuts[98],
        "errors": errors[0],
    }


def endpoints(portfolio_id: str) -> dict[str, str]:
    """Name → path of every read endpoint of one portfolio: the data API's, then one per registered kind."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    sys.path.insert(0, str(ROOT))  # this checkout's apps, whatever the virtual environment points at
    import django

    django.setup()
    from analytics.results import registry

    paths = {
        "portfolios": "/api/v1/data/portfolios",
        "portfolio": f"/api/v1/data/portfolios/{portfolio_id}",
        "positions": f"/api/v1/data/portfolios/{portfolio_id}/positions",
    }
    for spec in registry.specs():
        paths[spec.name] = f"/api/v1/analytics/portfolios/{portfolio_id}/{spec.name}"
    return paths


def measure(port: int, token: str, path: str, daphne: list[subprocess.Popen], args: argparse.Namespace) -> dict:
    """Warm up, then load one endpoint; the result with the server's CPU per request and the machine's load."""
    status, body = request(port, "GET", path, token=token)
    if status != 200:
        raise SystemExit(f"GET {path} is {status}, not 200 (has the batch run?): {body[:300]!r}")
    for _ in range(100):  # warm-up: imports, connections, caches
        request(port, "GET", path, token=token)
    load_before = os.getloadavg()
    cpu_before, machine_before, started = cpu_seconds(daphne), machine_cpu_seconds(), time.monotonic()
    if shutil.which("wrk") and not args.python:
        result = run_wrk(port, token, path, duration=args.duration, connections=args.connections, threads=args.threads)
    else:
        result = run_python(port, token, path, duration=args.duration, connections=args.connections)
    elapsed = time.monotonic() - started
    server_cpu = cpu_seconds(daphne) - cpu_before
    # Server CPU per request tells the capacity of an idle machine when others share this one.
    result["server_cpu_ms"] = server_cpu * 1000 / max(result["requests"], 1)
    # How busy the machine was, and how much of that was not daphne (the load generator, other work).
    result["machine_busy_pct"] = (machine_cpu_seconds() - machine_before) * 100 / elapsed / (os.cpu_count() or 1)
    result["daphne_pct"] = server_cpu * 100 / elapsed / (os.cpu_count() or 1)
    result["load_before"], result["load_after"] = load_before, os.getloadavg()
    result["bytes"] = len(body)
    result.pop("raw", None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds of load per endpoint (default 10).")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections (default 16).")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2).")
    parser.add_argument("--python", action="store_true", help="Use the Python load generator even if wrk exists.")
    parser.add_argument("--port", type=int, default=0, help="Port for daphne (default: a free one).")
    parser.add_argument("--workers", type=int, default=2, help="daphne processes sharing the socket (default 2).")
    parser.add_argument(
        "--user", choices=sorted(DEMO_USERS), default="hedgefund", help="Demo login (default hedgefund)."
    )
    parser.add_argument(
        "--endpoints", default="all", help="Comma-separated endpoint names, or 'all' (default): see the module doc."
    )
    args = parser.parse_args()

    email, portfolio_id = DEMO_USERS[args.user]
    paths = endpoints(portfolio_id)
    if args.endpoints != "all":
        unknown = set(args.endpoints.split(",")) - set(paths)
        if unknown:
            raise SystemExit(f"unknown endpoint(s) {sorted(unknown)}; known: {', '.join(paths)}")
        paths = {name: paths[name] for name in args.endpoints.split(",")}
    port = args.port or free_port()
    daphne = start_daphne(port, workers=args.workers)
    results: dict[str, dict] = {}
    try:
        status, body = request(port, "POST", "/api/v1/auth/login", {"email": email, "password": "demo12345"})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:200]!r}")
        token = json.loads(body)["access_token"]
        for name, path in paths.items():
            results[name] = measure(port, token, path, daphne, args)
            r = results[name]
            print(
                f"{name:<18} {r['rps']:>7.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"errors {r['errors']}  daphne CPU {r['server_cpu_ms']:.2f} ms/req  {r['bytes']:,} B  "
                f"load {r['load_before'][0]:.2f}→{r['load_after'][0]:.2f}",
                flush=True,
            )
    finally:
        stop_daphne(daphne)

    tool = next(iter(results.values()))["tool"] if results else ""
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}); {tool}, {args.duration} s per endpoint"
    )
    print(
        f"database: {os.environ.get('DATABASE_URL', '(default sqlite)')}; {args.workers} daphne process(es); "
        f"user {email}"
    )
    print(
        "| endpoint | req/s | p50 | p90 | p99 | errors | daphne CPU / request | bytes "
        "| CPUs busy (daphne) | load 1 min before → after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    met_all = True
    for name, r in results.items():
        met = r["rps"] >= 500 and r["p99_ms"] < 50 and r["errors"] == 0
        met_all &= met
        print(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
            f"{r['errors']} | {r['server_cpu_ms']:.2f} ms | {r['bytes']:,} | {r['machine_busy_pct']:.0f}% "
            f"({r['daphne_pct']:.0f}%) | {r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} |"
        )
    print("target (≥ 500 req/s, p99 < 50 ms, 0 errors) on every endpoint:", "met" if met_all else "NOT met")


if __name__ == "__main__":
    main()

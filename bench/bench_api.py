"""Benchmark: ``GET /api/v1/analytics/portfolios/{id}/overview`` with a Bearer token, served by daphne.

Starts daphne on 127.0.0.1 (a free port) against the database that DATABASE_URL names, logs in as
the demo individual investor through ``POST /api/v1/auth/login``, warms up, then loads the overview
endpoint with ``wrk`` when it is installed (else a small bounded Python load generator: threads
with keep-alive ``http.client`` connections). Loopback only; daphne is stopped at the end.

Usage (the database must hold the demo with the batch run, e.g. from ``manage.py demo --no-serve``):
    DATABASE_URL=sqlite:////tmp/bench_api.db .venv/bin/python manage.py demo --no-serve
    DATABASE_URL=sqlite:////tmp/bench_api.db .venv/bin/python bench/bench_api.py [--duration 15]
        [--connections 16] [--threads 2] [--python]
Targets: ≥ 500 requests/s, p99 < 50 ms, 0 errors (2 cores).
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEMO_PORTFOLIO_ID = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"
PATH = f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/overview"
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
    """``workers`` daphne processes; with more than one they share one listening socket (``--fd``),
    as a process manager would run them, and the kernel spreads connections between them."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sigmasight.settings"}
    daphne = str(ROOT / ".venv" / "bin" / "daphne")
    listener = None
    if workers == 1:
        commands = [[daphne, "-b", HOST, "-p", str(port), "--verbosity", "0", "sigmasight.asgi:application"]]
        pass_fds: tuple[int, ...] = ()
    else:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))
        listener.listen(1024)
        fd = listener.fileno()
        commands = [[daphne, "--fd", str(fd), "--verbosity", "0", "sigmasight.asgi:application"]] * workers
        pass_fds = (fd,)
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
        for command in commands
    ]
    if listener is not None:
        listener.close()  # the children hold it now
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


def run_wrk(port: int, token: str, *, duration: int, connections: int, threads: int) -> dict:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
        f"http://{HOST}:{port}{PATH}",
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


def run_python(port: int, token: str, *, duration: int, connections: int) -> dict:
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
                conn.request("GET", PATH, headers=headers)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load (default 15).")
    parser.add_argument("--connections", type=int, default=16, help="Concurrent connections (default 16).")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2).")
    parser.add_argument("--python", action="store_true", help="Use the Python load generator even if wrk exists.")
    parser.add_argument("--port", type=int, default=0, help="Port for daphne (default: a free one).")
    parser.add_argument("--workers", type=int, default=1, help="daphne processes sharing the socket (default 1).")
    args = parser.parse_args()

    port = args.port or free_port()
    daphne = start_daphne(port, workers=args.workers)
    try:
        status, body = request(
            port, "POST", "/api/v1/auth/login", {"email": "demo_individual@sigmasight.com", "password": "demo12345"}
        )
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:200]!r}")
        token = json.loads(body)["access_token"]
        status, body = request(port, "GET", PATH, token=token)
        if status != 200:
            raise SystemExit(f"overview is {status}, not 200 (has the batch run?): {body[:300]!r}")
        for _ in range(200):  # warm-up: imports, connection, caches
            request(port, "GET", PATH, token=token)

        load_before = os.getloadavg()
        cpu_before, machine_before, started = cpu_seconds(daphne), machine_cpu_seconds(), time.monotonic()
        if shutil.which("wrk") and not args.python:
            result = run_wrk(port, token, duration=args.duration, connections=args.connections, threads=args.threads)
        else:
            result = run_python(port, token, duration=args.duration, connections=args.connections)
        elapsed = time.monotonic() - started
        server_cpu = cpu_seconds(daphne) - cpu_before
        # Server CPU per request tells the capacity of an idle machine when others share this one.
        result["server_cpu_ms"] = server_cpu * 1000 / max(result["requests"], 1)
        # How busy the machine was, and how much of that was not daphne (the load generator, other work).
        result["machine_busy_pct"] = (machine_cpu_seconds() - machine_before) * 100 / elapsed / (os.cpu_count() or 1)
        result["daphne_pct"] = server_cpu * 100 / elapsed / (os.cpu_count() or 1)
        result["load_before"] = load_before
    finally:
        stop_daphne(daphne)

    print(result.pop("raw", ""))
    load_before, load_after = result["load_before"], os.getloadavg()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    print(
        f"load average before {' '.join(f'{v:.2f}' for v in load_before)}, after "
        f"{' '.join(f'{v:.2f}' for v in load_after)}; during the run the CPUs were {result['machine_busy_pct']:.0f}% "
        f"busy, daphne using {result['daphne_pct']:.0f}% of them"
    )
    print(
        f"database: {os.environ.get('DATABASE_URL', '(default sqlite)')}; {args.workers} daphne process(es); "
        f"endpoint GET {PATH}"
    )
    print(
        f"{result['tool']}: {result['requests']} requests, {result['rps']:.0f} req/s, "
        f"p50 {result['p50_ms']:.1f} ms, p90 {result['p90_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"errors {result['errors']}; daphne CPU {result['server_cpu_ms']:.1f} ms/request "
        f"(≈ {1000 / result['server_cpu_ms']:.0f} req/s per fully available core)"
    )
    met = result["rps"] >= 500 and result["p99_ms"] < 50 and result["errors"] == 0
    print("target (≥ 500 req/s, p99 < 50 ms, 0 errors):", "met" if met else "NOT met")


if __name__ == "__main__":
    main()

"""Benchmark: the hedge fund demo portfolio's dashboard page, served by daphne.

Starts one daphne process on 127.0.0.1 (a free port) against the database that DATABASE_URL names,
signs in through the login form at ``/`` (session cookie and CSRF, as a browser does), then:

1. server time: ``--requests`` sequential GETs of the dashboard after a warm-up; the server's own
   duration of each comes from its access log (``logs/access.log`` lines: method, path, status, ms),
   next to the client's round trip on loopback; p50 / p95 / max;
2. server CPU time: the same page rendered in this process through Django's test client, timed with
   ``time.process_time`` — the work per request whatever else the machine is doing (on a shared
   2-core machine at a load average of 8+ the wall times above are mostly waiting for a core);
3. page weight and paint: headless Chromium (Debian's ``chromium`` + ``chromium-driver``) loads the
   page ``--loads`` times with its cache disabled; page weight is the sum of the document's and every
   resource's transfer size (Resource Timing), first contentful paint from Paint Timing, and the
   largest contentful paint (the modern measure of the "first meaningful paint" Chromium retired).

Usage (the database must hold the demo with the batch run and snapshots, e.g. from
``manage.py demo --no-serve``):
    DATABASE_URL=sqlite:////tmp/bench_web.db .venv/bin/python manage.py demo --no-serve
    DATABASE_URL=sqlite:////tmp/bench_web.db .venv/bin/python bench/bench_web.py [--requests 300] [--loads 10]
Targets: server time p95 < 150 ms, page weight < 1 MB, first meaningful paint < 1 s (loopback).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
EMAIL = "demo_hedgefundstyle@sigmasight.com"
PASSWORD = "demo12345"
HEDGE_FUND_ID = "fcd71196-e93e-f000-5a74-31a9eead3118"  # md5("<email>_portfolio") as a UUID
PATH = f"/portfolios/{HEDGE_FUND_ID}/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_daphne(port: int, log_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sigmasight.settings", "LOG_DIR": str(log_dir)}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("daphne")), "-b", HOST, "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("daphne did not start")


def session_opener(base: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    """Sign in through the form: GET / for the CSRF cookie and token, POST the credentials."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": EMAIL, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base}/", data=form, headers={"Referer": f"{base}/"})
    landed = opener.open(request, timeout=10)
    if not landed.geturl().endswith("/portfolios/"):
        raise SystemExit(f"login failed: landed on {landed.geturl()}")
    return opener, jar


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def server_times(opener: urllib.request.OpenerDirector, base: str, log: Path, count: int) -> dict[str, list[float]]:
    for _ in range(20):  # warm-up: imports, connection, template cache
        opener.open(f"{base}{PATH}", timeout=10).read()
    mark = log.stat().st_size if log.exists() else 0
    client = []
    for _ in range(count):
        started = time.perf_counter()
        response = opener.open(f"{base}{PATH}", timeout=10)
        response.read()
        client.append((time.perf_counter() - started) * 1000)
        assert response.status == 200
    time.sleep(0.3)  # the log handler flushes per line; give the last one a moment
    with log.open() as handle:
        handle.seek(mark)
        pattern = re.compile(rf"GET {re.escape(PATH)} 200 ([0-9.]+)ms")
        server = [float(m.group(1)) for line in handle if (m := pattern.search(line))]
    return {"server": server, "client": client}


def cpu_times(count: int) -> list[float]:
    """CPU milliseconds per dashboard rendered in-process (test client, the same database and settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    sys.path.insert(0, str(ROOT))  # this checkout's apps, not an installed copy's
    import django

    django.setup()
    from django.test import Client

    from portfolios.models import User

    client = Client()
    client.force_login(User.objects.get(email=EMAIL))
    for _ in range(10):
        client.get(PATH)
    times = []
    for _ in range(count):
        started = time.process_time()
        response = client.get(PATH)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        times.append((time.process_time() - started) * 1000)
    return times


def browser_loads(base: str, jar: http.cookiejar.CookieJar, loads: int) -> list[dict[str, float]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    try:
        driver.get(f"{base}/favicon.ico")  # the cookie's origin, before setting it
        for cookie in jar:
            driver.add_cookie({"name": cookie.name, "value": cookie.value, "path": "/"})
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        results = []
        for _ in range(loads):
            driver.get("about:blank")
            driver.get(f"{base}{PATH}")
            metrics = driver.execute_async_script(
                """
                const done = arguments[arguments.length - 1];
                let lcp = 0;
                new PerformanceObserver((list) => {
                  for (const entry of list.getEntries()) lcp = Math.max(lcp, entry.startTime);
                }).observe({type: 'largest-contentful-paint', buffered: true});
                const finish = () => {
                  const nav = performance.getEntriesByType('navigation')[0];
                  const resources = performance.getEntriesByType('resource');
                  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                  done({
                    fcp: fcp ? fcp.startTime : -1,
                    lcp: lcp,
                    load: nav.loadEventEnd,
                    weight: nav.transferSize + resources.reduce((s, r) => s + r.transferSize, 0),
                    decoded: nav.decodedBodySize + resources.reduce((s, r) => s + r.decodedBodySize, 0),
                    requests: 1 + resources.length,
                  });
                };
                if (document.readyState === 'complete') setTimeout(finish, 300);
                else window.addEventListener('load', () => setTimeout(finish, 300));
                """
            )
            results.append(metrics)
        return results
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    base = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        process = start_daphne(port, log_dir)
        try:
            opener, jar = session_opener(base)
            times = server_times(opener, base, log_dir / "access.log", args.requests)
            loads = browser_loads(base, jar, args.loads) if shutil.which("chromedriver") else []
        finally:
            process.terminate()
            process.wait(timeout=10)
        os.environ["LOG_DIR"] = tmp
        cpu = cpu_times(min(args.requests, 100))
    server, client = times["server"], times["client"]
    print(f"host: {platform.node()} · {os.cpu_count()} cores · load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)').split('@')[-1]}")
    print(f"dashboard {PATH} · {len(server)} requests, one at a time, session cookie")
    print(
        f"  server time (access log): p50 {statistics.median(server):.1f} ms · p95 {percentile(server, 95):.1f} ms"
        f" · max {max(server):.1f} ms   (target p95 < 150 ms)"
    )
    print(
        f"  client round trip:        p50 {statistics.median(client):.1f} ms · p95 {percentile(client, 95):.1f} ms"
        f" · max {max(client):.1f} ms"
    )
    print(
        f"  server CPU per request (in-process): p50 {statistics.median(cpu):.1f} ms · p95 {percentile(cpu, 95):.1f} ms"
    )
    if loads:
        weight = max(m["weight"] for m in loads)
        decoded = max(m["decoded"] for m in loads)
        fcp = [m["fcp"] for m in loads]
        lcp = [m["lcp"] for m in loads]
        print(f"headless Chromium, cache disabled, {len(loads)} loads, {loads[0]['requests']} requests per load")
        print(f"  page weight: {weight / 1024:.0f} KiB transferred ({decoded / 1024:.0f} KiB decoded)  (target < 1 MB)")
        print(
            f"  first contentful paint: median {statistics.median(fcp):.0f} ms · max {max(fcp):.0f} ms;"
            f" largest contentful paint: median {statistics.median(lcp):.0f} ms · max {max(lcp):.0f} ms"
            "  (target < 1 s)"
        )
        print(f"  load event: median {statistics.median(m['load'] for m in loads):.0f} ms")
    else:
        print("headless Chromium not installed: page weight and paint not measured")


if __name__ == "__main__":
    main()

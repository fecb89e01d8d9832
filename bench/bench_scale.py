"""Scale-out benchmark of the daily batch: the inline run, then django-q2 clusters of W workers.

Runs on the PostgreSQL that DATABASE_URL names and the Redis that REDIS_URL names (the cluster's
broker); both are required, and the database should be one of its own (the day's results are truncated
between runs). Prints per run: wall time of ``batch_run`` over the portfolio steps, portfolios/s,
speed-up over inline, peak memory, and whether every stored row equals the inline run's. Nothing in it
depends on the machine: the same command runs on a 2-core VM or a 16-core server (``--workers``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sigmasight_scale REDIS_URL=redis://127.0.0.1:6379/4 \
        .venv/bin/python bench/bench_scale.py run --n 500 --workers 1,2

Subcommands (``run`` starts the other two in fresh processes, so that each batch's peak RSS is its own):

  run    --n N --workers 1,4,8,14   inline first, then the clusters from the largest W down (a time budget,
                                    --budget-s, skips the slowest last); a table at the end. --inline no
                                    (or SCALE_INLINE=no, through the kit's run.sh) times the clusters alone
  setup  --n N                      migrate, prices, N portfolios × 60 positions (bench_analytics' generator)
  batch  --mode inline|cluster      one timed batch_run over the portfolio steps
  serial --sizes 100,250,500        the driver's serial part alone: a cluster batch_run of the first N
                                    portfolios, stopped where it would queue its chunks (no cluster needed)

``--work DIR`` (default: a temporary folder) holds the setup's ids, the qcluster logs and each run's
digest. Between runs the day's results are truncated, so every run takes the same write path (COPY into
empty tables) and no row of an earlier run can stand in for a missing one. Adapted from the scale-out
kit in ``../shared/scale/``, which also starts its own PostgreSQL and Redis from pip wheels: on a machine with
neither, ``bash bench/scale_kit.sh`` builds the kit around this file (``.scalekit/``, git-ignored), and
``bash .scalekit/scale/run.sh 5000 1,4,8,14`` runs this benchmark there (Python 3.12 with numpy, pandas, scipy and
statsmodels installed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
T0 = float(os.environ.get("SCALE_START") or time.time())  # run.sh's start, so every process stamps alike
RUN_SECRET_KEY = secrets.token_urlsafe(50)
RESULT_TABLES = (
    "analytics_positionmetrics",
    "analytics_portfolioresult",
    "analytics_portfoliosnapshot",
    "analytics_symbolfactorbeta",
    "analytics_factormodelfit",
)


def say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    print(f"[{stamp} +{time.time() - T0:5.0f}s] {message}", flush=True)


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


# --------------------------------------------------------------------------- Django side


def django_start(app: Path) -> None:
    sys.path.insert(0, str(app))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    import django

    django.setup()


def cmd_setup(args: argparse.Namespace) -> None:
    app = Path(args.app)
    django_start(app)
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    say(f"setup: migrated in {time.perf_counter() - started:.1f}s ({connection.vendor})")
    from bench import bench_analytics as bench  # the project's generator: SYN0000..SYN1499, 60 positions, 10% options
    from marketdata.calendar import latest_completed_session

    as_of = latest_completed_session()
    started = time.perf_counter()
    spots = bench.universe_prepare(as_of)
    say(f"setup: prices cached for as_of {as_of} in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    ids = bench.portfolios_create(args.n, spots, as_of)
    say(
        f"setup: {len(ids)} portfolios × {bench.POSITIONS_PER_PORTFOLIO} positions created in "
        f"{time.perf_counter() - started:.1f}s"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    say(f"setup: VACUUM ANALYZE in {time.perf_counter() - started:.1f}s")
    Path(args.work, "setup.json").write_text(json.dumps({"as_of": as_of.isoformat(), "ids": [str(i) for i in ids]}))


# Key numbers per result kind, compared with a tolerance when the stored JSON texts are not identical.
def _key_numbers(kind: str, d: dict) -> list:
    def total(items, field):
        values = [x.get(field) for x in items or []]
        return sum(v for v in values if v is not None)

    if kind == "var":
        h, p = d.get("historical") or {}, d.get("parametric") or {}
        return [h.get("var_95"), h.get("es_95"), h.get("var_99"), h.get("es_99"),
                p.get("var_95"), p.get("es_95"), p.get("var_99"), p.get("es_99")]  # fmt: skip
    if kind == "stress_test":
        scenarios = d.get("scenarios")
        return [total(scenarios, "direct_pnl"), total(scenarios, "conditioned_pnl"),
                (d.get("worst") or {}).get("conditioned_pnl")]  # fmt: skip
    if kind == "market_risk":
        return [total(d.get("scenarios"), "pnl")]
    if kind == "overview":
        return [d.get("gross_exposure"), d.get("net_exposure"), d.get("delta_adjusted_exposure")]
    if kind == "greeks":
        t = d.get("totals") or {}
        return [t.get("dollar_delta"), t.get("vega"), t.get("theta")]
    if kind == "factor_exposures":
        return [sum(abs(v) for v in (d.get("dollar_exposures") or {}).values() if v is not None)]
    if kind == "correlations":
        return [d.get("average_abs_correlation"), d.get("effective_positions")]
    return []


DIGEST_SQL = {
    "results": "SELECT portfolio_id::text, payload::text FROM analytics_portfolioresult WHERE as_of = %s AND kind = %s",
    "result_hashes": "SELECT portfolio_id::text, kind, md5(payload::text) FROM analytics_portfolioresult "
    "WHERE as_of = %s",
    "result": "SELECT payload::text FROM analytics_portfolioresult WHERE as_of = %s AND kind = %s "
    "AND portfolio_id = %s",
    "metrics": """
        SELECT portfolio_id::text, count(*),
          md5(string_agg(concat_ws('|', position_id, price, market_value, delta_exposure, delta, gamma,
                                   theta, vega, rho, dollar_delta, factor_exposures::text), ';'
                         ORDER BY position_id)),
          json_build_array(sum(market_value), sum(delta_exposure), sum(position_vega))::text
        FROM analytics_positionmetrics WHERE as_of = %s GROUP BY portfolio_id
    """,
    "snapshots": """
        SELECT portfolio_id::text,
          md5(concat_ws('|', total_value, gross_exposure, net_exposure, delta_adjusted_exposure, equity,
                        daily_pnl, daily_return, portfolio_delta, portfolio_gamma, portfolio_theta,
                        portfolio_vega, position_count)),
          json_build_array(total_value, daily_pnl, portfolio_delta)::text
        FROM analytics_portfoliosnapshot WHERE as_of = %s
    """,
}


CHECKSUM_SQL = {
    "var99_sum": "SELECT coalesce(sum((payload->'historical'->>'var_99')::float8), 0) FROM analytics_portfolioresult "
    "WHERE as_of = %s AND kind = 'var'",
    "stress_sum": "SELECT coalesce(sum((s->>'conditioned_pnl')::float8), 0) FROM analytics_portfolioresult r, "
    "json_array_elements(r.payload->'scenarios') s WHERE r.as_of = %s AND r.kind = 'stress_test'",
}


def digest(as_of: str, base: dict | None = None, *, reference: bool = False) -> dict:
    """Per stored row: md5 of its content and a few key numbers (results: of the payload text, as stored), the
    rows per kind, and two checksums (sums of every VaR 99 and every stress scenario's conditioned P&L).

    A ``reference`` digest (the inline run's) reads every result back for its key numbers. Otherwise the results
    are hashed by the database, and only the rows whose hash differs from ``base``'s (the reference, when there
    is one) are read back: the payloads (156 KB per portfolio, 780 MB at 5,000) stay on the server, and a run's
    digest takes seconds instead of 11–12 s at 5,000 portfolios."""
    import hashlib

    import orjson
    from django.db import connection

    hashes: dict[str, str] = {}
    numbers: dict[str, list] = {}
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT kind FROM analytics_portfolioresult WHERE as_of = %s", [as_of])
        kinds = sorted(kind for (kind,) in cursor.fetchall())
        if reference:
            for kind in kinds:  # one kind at a time: the stress payloads alone are ~50 KB per portfolio
                cursor.execute(DIGEST_SQL["results"], [as_of, kind])
                for pid, text in cursor.fetchall():
                    key = f"{pid}:{kind}"
                    hashes[key] = hashlib.md5(text.encode()).hexdigest()
                    numbers[key] = _key_numbers(kind, orjson.loads(text))
                    counts[kind] = counts.get(kind, 0) + 1
        else:
            cursor.execute(DIGEST_SQL["result_hashes"], [as_of])
            for pid, kind, md5 in cursor.fetchall():
                hashes[f"{pid}:{kind}"] = md5
                counts[kind] = counts.get(kind, 0) + 1
            for key in [k for k, md5 in hashes.items() if base is not None and base["hashes"].get(k) != md5]:
                pid, kind = key.split(":")
                cursor.execute(DIGEST_SQL["result"], [as_of, kind, pid])
                numbers[key] = _key_numbers(kind, orjson.loads(cursor.fetchone()[0]))
        cursor.execute(DIGEST_SQL["metrics"], [as_of])
        for pid, count, md5, values in cursor.fetchall():
            hashes[f"{pid}:metrics"] = md5
            numbers[f"{pid}:metrics"] = json.loads(values)
            counts["position_metrics"] = counts.get("position_metrics", 0) + count
        cursor.execute(DIGEST_SQL["snapshots"], [as_of])
        for pid, md5, values in cursor.fetchall():
            hashes[f"{pid}:snapshot"] = md5
            numbers[f"{pid}:snapshot"] = json.loads(values)
            counts["snapshots"] = counts.get("snapshots", 0) + 1
        checksums = {}
        for name, sql in CHECKSUM_SQL.items():
            cursor.execute(sql, [as_of])
            checksums[name] = float(cursor.fetchone()[0])
    return {"hashes": hashes, "numbers": numbers, "counts": counts, "kinds": kinds, **checksums}


def cluster_wait(pid: int, workers: int, timeout: float) -> float:
    """Wait until the qcluster started as ``pid`` reports Idle with all its workers (django-q2 Stat in Redis)."""
    from django_q.conf import Conf
    from django_q.status import Stat

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        for stat in Stat.get_all():
            if stat.pid == pid and str(stat.status) == str(Conf.IDLE) and len(stat.workers) == workers:
                return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"qcluster {pid} not ready with {workers} workers after {timeout:.0f}s")


def cmd_batch(args: argparse.Namespace) -> None:
    django_start(Path(args.app))
    from django.db import connection

    from analytics.models import BatchJob
    from analytics.services.batch import PORTFOLIO_STEPS, batch_run

    setup = json.loads(Path(args.work, "setup.json").read_text())
    as_of = __import__("datetime").date.fromisoformat(setup["as_of"])
    ids = setup["ids"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(RESULT_TABLES)}")
    if args.mode == "cluster":
        waited = cluster_wait(args.cluster_pid, args.workers, timeout=120)
        say(f"{args.mode} W={args.workers}: cluster ready ({waited:.1f}s after the driver started)")
    first_chunk: list[float] = []  # seconds into batch_run when the first chunk started (inline) or was queued

    def progress(message: str) -> None:
        if message.startswith(("portfolios: chunk 1/", "cluster: queued")) and not first_chunk:
            first_chunk.append(time.perf_counter() - started)
        if args.verbose:
            say(f"{args.mode} W={args.workers}: {message}")

    started = time.perf_counter()
    cpu_started = time.process_time()
    outcome = batch_run(
        as_of=as_of,
        portfolio_ids=ids,
        steps=list(PORTFOLIO_STEPS),
        trigger=f"scale:{args.mode}:{args.workers}",
        use_cluster=args.mode == "cluster",
        progress=progress,
    )
    wall = time.perf_counter() - started
    driver_cpu = time.process_time() - cpu_started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(
        f"{args.mode} W={args.workers}: batch_run {wall:.2f}s (first chunk at {(first_chunk or [wall])[0]:.2f}s, "
        f"driver CPU {driver_cpu:.2f}s, load {os.getloadavg()[0]:.1f}), run {outcome.run.status}, "
        f"{outcome.completed_jobs} completed / {outcome.failed_jobs} failed / {outcome.skipped_jobs} skipped jobs"
    )
    jobs_by_step: dict[str, int] = {}
    for step in BatchJob.objects.filter(run=outcome.run, status="completed").values_list("step", flat=True):
        jobs_by_step[step] = jobs_by_step.get(step, 0) + 1
    chunks = chunk_timings(outcome.run, ids, args.workers)
    base = json.loads(Path(args.compare_to).read_text())["digest"] if args.compare_to else None
    builds = build_seconds(outcome.run)
    started = time.perf_counter()
    result = {
        "mode": args.mode,
        "workers": args.workers,
        "n": len(ids),
        "wall_s": wall,
        "first_chunk_s": (first_chunk or [wall])[0],
        "driver_cpu_s": driver_cpu,
        "load_1m": os.getloadavg()[0],
        "run_status": outcome.run.status,
        "failed": outcome.failed_jobs,
        "skipped": outcome.skipped_jobs,
        "completed": outcome.completed_jobs,
        "jobs_by_step": jobs_by_step,
        "steps": list(PORTFOLIO_STEPS),
        "errors": outcome.run.error_summary[:2000],
        "driver_rss_mb": rss,
        "chunks": chunks,
        "build_s": builds,
        "digest": digest(setup["as_of"], base=base, reference=args.mode == "inline"),
    }
    say(f"{args.mode} W={args.workers}: results digested in {time.perf_counter() - started:.1f}s")
    Path(args.out).write_text(json.dumps(result))


def chunk_timings(run, ids: list[str], workers: int) -> dict[str, float]:
    """How the run's chunks took their time (seconds): count, median, max, sum, and when the first started and
    the last ended, into the run. A chunk's span: from its first job's start to its last job's end (the jobs'
    records; its positions' loading before the first job is left out, alike inline and in a cluster), the chunks
    as ``batch.chunks_split`` makes them for the run's mode."""
    import statistics
    import uuid

    from django.db.models import Max, Min

    from analytics.models import BatchJob
    from analytics.services.batch import chunks_split

    spans = {
        str(pid): (begun, ended)
        for pid, begun, ended in BatchJob.objects.filter(run=run, portfolio__isnull=False)
        .values_list("portfolio_id")
        .annotate(begun=Min("started_at"), ended=Max("finished_at"))
        .values_list("portfolio_id", "begun", "ended")
    }
    chunks = chunks_split([uuid.UUID(p) for p in ids], workers=workers if run.mode == "cluster" else 1)
    times = []
    for chunk in chunks:
        found = [spans[str(p)] for p in chunk if str(p) in spans]
        if found:
            begun = (min(b for b, _ in found) - run.started_at).total_seconds()
            times.append((begun, (max(e for _, e in found) - run.started_at).total_seconds()))
    if not times:
        return {}
    durations = [end - begin for begin, end in times]
    return {
        "count": len(times),
        "median_s": statistics.median(durations),
        "max_s": max(durations),
        "sum_s": sum(durations),
        "first_start_s": min(begin for begin, _ in times),
        "last_end_s": max(end for _, end in times),
    }


def build_seconds(run) -> dict[str, float]:
    """Seconds of per-portfolio builds per step (the jobs' recorded durations; a step's shared ``prepare`` and
    the writes are not in them): which steps grow when the workers share the machine."""
    from django.db.models import Sum

    from analytics.models import BatchJob

    totals = (
        BatchJob.objects.filter(run=run, portfolio__isnull=False)
        .values_list("step")
        .annotate(total=Sum("duration_ms"))
        .values_list("step", "total")
    )
    return {step: round((total or 0.0) / 1000, 3) for step, total in totals}


def cmd_serial(args: argparse.Namespace) -> None:
    """The driver's serial part alone: a cluster ``batch_run`` over the first N of the set-up portfolios, for
    each N of ``--sizes``, stopped where it would queue its chunks (no cluster needed); ``--repeat`` times."""
    django_start(Path(args.app))
    import datetime as dt
    import uuid

    from django.core.cache import cache

    from analytics.services import batch

    class FanOut(Exception):
        pass

    def stop(**kwargs: object) -> None:
        raise FanOut(time.perf_counter())

    batch._fan_out = stop  # the run ends where its chunks would be queued; it is recorded as failed
    cache.get("bench-scale-warm")  # the cache client's imports: paid once per driver process, not per run
    setup = json.loads(Path(args.work, "setup.json").read_text())
    as_of = dt.date.fromisoformat(setup["as_of"])
    for _ in range(args.repeat):
        for n in [int(x) for x in args.sizes.split(",")]:
            ids = [uuid.UUID(p) for p in setup["ids"][:n]]
            started, cpu = time.perf_counter(), time.process_time()
            try:
                batch.batch_run(
                    as_of=as_of,
                    portfolio_ids=ids,
                    steps=list(batch.PORTFOLIO_STEPS),
                    trigger="scale:serial",
                    use_cluster=True,
                )
                queued = time.perf_counter()  # no chunk to queue (no portfolio steps to run)
            except FanOut as reached:
                queued = float(reached.args[0])
            say(
                f"serial N={len(ids)}: {queued - started:.2f}s to the fan-out, {time.process_time() - cpu:.2f}s CPU, "
                f"load {os.getloadavg()[0]:.1f}"
            )


# --------------------------------------------------------------------------- orchestrator


def compare(base: dict, other: dict) -> tuple[int, int, float, list[str]]:
    """(rows identical by md5, rows compared, max relative difference of key numbers, problems)."""
    problems = []
    bh, oh = base["hashes"], other["hashes"]
    missing = set(bh) ^ set(oh)
    if missing:
        problems.append(f"{len(missing)} result rows present in only one run")
    same = sum(1 for k in bh if oh.get(k) == bh[k])
    worst = 0.0
    for key in [k for k in bh if k in oh and oh[k] != bh[k]]:  # identical rows need no numbers
        values, others = base["numbers"].get(key), other["numbers"].get(key)
        if values is None or others is None:
            worst = float("inf")
            continue
        for a, b in zip(values, others, strict=False):
            if a is None or b is None:
                if a is not b:
                    worst = float("inf")
                continue
            a, b = float(a), float(b)
            if a != b:
                worst = max(worst, abs(a - b) / max(abs(a), abs(b), 1e-12))
    return same, len(bh), worst, problems


def run_check(result: dict, n: int) -> list[str]:
    problems = []
    if result["failed"] or result["skipped"]:
        problems.append(f"{result['failed']} failed / {result['skipped']} skipped jobs: {result['errors'][:300]}")
    if result["run_status"] != "completed":
        problems.append(f"run status {result['run_status']}")
    per_step = result["jobs_by_step"]
    short = {step: per_step.get(step, 0) for step in result["steps"] if per_step.get(step, 0) != n}
    if short or per_step.get("factor_model") != 1:
        problems.append(f"completed jobs per step {per_step} (expected {n} for each of {result['steps']})")
    counts = result["digest"]["counts"]
    expected = {"position_metrics": n * 60, "snapshots": n}
    for kind in result["digest"]["kinds"]:
        expected[kind] = n
    if not result["digest"]["kinds"]:
        problems.append("no results stored")
    wrong = {k: (counts.get(k, 0), v) for k, v in expected.items() if counts.get(k, 0) != v}
    if wrong:
        problems.append(f"stored rows (got, expected): {wrong}")
    return problems


def child_env(args: argparse.Namespace, workers: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    env["Q_WORKERS"] = str(max(workers, 1))
    # Django will not start without a key outside DEBUG; a machine of its own for the benchmark has none set, and
    # nothing it signs outlives the run. One random key, the same in every process of the run.
    env.setdefault("SECRET_KEY", RUN_SECRET_KEY)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(args.app), env.get("PYTHONPATH", "")] if p)
    return env


def stop_process_group(proc: subprocess.Popen, name: str, grace: float = 30) -> None:
    """SIGTERM to the qcluster (it stops its workers), then SIGKILL to whatever is left of its session."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
            say(f"{name} (pid {proc.pid}) stopped")
        except subprocess.TimeoutExpired:
            say(f"{name} (pid {proc.pid}) did not stop in {grace:.0f}s: killing its process group")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group this script started (start_new_session)
    proc.wait()


def cmd_run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop the qcluster
    work = Path(args.work)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--app", str(args.app), "--work", str(work)]
    deadline = time.monotonic() + args.budget_s
    workers = [int(w) for w in args.workers.split(",") if w.strip()]

    setup = work / "setup.json"
    if args.reuse_setup and setup.exists() and len(json.loads(setup.read_text())["ids"]) == args.n:
        say(f"setup: N={args.n}, reusing the portfolios of {setup}")
    else:
        say(f"setup: N={args.n}")
        subprocess.run([*me, "setup", "--n", str(args.n), *common], env=child_env(args), check=True)

    rows: list[dict] = []
    inline: dict | None = None
    # Largest clusters first: should the time budget run out, it is the slowest (W=1) run that is skipped.
    plan = [("inline", 0)] if args.inline == "yes" else []
    plan += [("cluster", w) for w in sorted(set(workers), reverse=True)]
    for mode, w in plan:
        left = deadline - time.monotonic()
        estimate = None
        if inline is not None:  # chunks_split gives every worker a share; ~20 s of process starts and digest
            estimate = inline["wall_s"] * 1.3 / min(w, args.n) + 20
        if estimate is not None and left < estimate:
            say(f"{mode} W={w}: skipped, {left:.0f}s of the budget left, about {estimate:.0f}s needed")
            rows.append({"mode": mode, "workers": w, "status": "skipped (time budget)"})
            continue
        out = work / f"result-{mode}-{w}.json"
        cluster = None
        cluster_hwm = []
        try:
            if mode == "cluster":
                log = open(work / f"qcluster-{w}.log", "wb")  # noqa: SIM115
                cluster = subprocess.Popen(
                    [sys.executable, str(Path(args.app, "manage.py")), "qcluster"],
                    env=child_env(args, w),
                    cwd=args.app,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                Path(work, f"qcluster-{w}.pid").write_text(str(cluster.pid))  # run.sh's cleanup, should we die
                say(f"cluster W={w}: qcluster started (pid {cluster.pid}, Q_WORKERS={w})")
            command = [*me, "batch", "--mode", mode, "--workers", str(w), "--out", str(out), *common]
            if cluster is not None:
                command += ["--cluster-pid", str(cluster.pid)]
            if inline is not None:
                command += ["--compare-to", str(work / "result-inline-0.json")]
            if args.verbose:
                command.append("--verbose")
            say(f"{mode} W={w}: running the batch over {args.n} portfolios")
            try:
                subprocess.run(command, env=child_env(args, w), check=True, timeout=max(left, 30))
            except subprocess.TimeoutExpired:
                rows.append({"mode": mode, "workers": w, "status": "TIMEOUT (budget)"})
                say(f"{mode} W={w}: stopped at the time budget")
                continue
            except subprocess.CalledProcessError as exc:
                rows.append({"mode": mode, "workers": w, "status": f"ERROR (exit {exc.returncode})"})
                say(f"{mode} W={w}: the batch process failed (exit {exc.returncode})")
                continue
            if cluster is not None:
                cluster_hwm = [vm_hwm_mb(p) for p in descendants(cluster.pid)] + [vm_hwm_mb(cluster.pid)]
        finally:
            if cluster is not None:
                stop_process_group(cluster, f"qcluster W={w}")
                Path(work, f"qcluster-{w}.pid").unlink(missing_ok=True)
                log.close()
                if cluster.returncode not in (0, -signal.SIGTERM):
                    say(f"qcluster W={w} exited {cluster.returncode}; last lines of its log:")
                    print(Path(work, f"qcluster-{w}.log").read_text()[-3000:], flush=True)
        result = json.loads(out.read_text())
        problems = run_check(result, args.n)
        note = ""
        if mode == "inline":
            inline = result
        elif inline is not None:
            same, total, worst, diff_problems = compare(inline["digest"], result["digest"])
            problems += diff_problems
            if same == total:
                note = "identical to inline"
            else:
                note = f"{same}/{total} rows identical, max rel diff {worst:.1e}"
                if worst > args.tolerance:
                    problems.append(f"results differ from inline beyond {args.tolerance:g} ({note})")
        else:
            note = "no inline run to compare"
        result["status"] = ("ok" if not problems else "FAIL: " + "; ".join(problems)) + (f" ({note})" if note else "")
        result["cluster_rss_max_mb"] = max(cluster_hwm, default=0.0)
        result["cluster_rss_sum_mb"] = sum(cluster_hwm)
        rows.append(result)
        say(
            f"{mode} W={w}: {result['wall_s']:.2f}s, checksum var99 {result['digest']['var99_sum']:.6f} "
            f"stress {result['digest']['stress_sum']:.6f}: {result['status']}"
        )

    rows.sort(key=lambda r: (r["mode"] != "inline", r["workers"]))
    print_table(rows, inline, args.n)
    return 0 if all(r.get("status", "").startswith("ok") for r in rows) else 1


def print_table(rows: list[dict], inline: dict | None, n: int) -> None:
    base = inline["wall_s"] if inline else None
    header = (
        f"{'mode':<8} | {'workers':>7} | {'wall s':>8} | {'serial s':>8} | {'portfolios/s':>12} | {'speed-up':>8} | "
        f"{'peak RSS MB (max proc / cluster sum)':>36} | status"
    )
    print()
    print(f"SigmaSight batch scale-out: {n} portfolios × 60 positions, portfolio steps aggregation … var")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "wall_s" not in r:
            print(
                f"{r['mode']:<8} | {r['workers'] or '-':>7} | {'-':>8} | {'-':>8} | {'-':>12} | {'-':>8} | {'-':>36} | "
                f"{r['status']}"
            )
            continue
        speed = f"{base / r['wall_s']:.2f}x" if base else "-"
        if r["mode"] == "inline":
            rss = f"{r['driver_rss_mb']:.0f}"
        else:
            peak = max(r["driver_rss_mb"], r["cluster_rss_max_mb"])
            rss = f"{peak:.0f} / {r['cluster_rss_sum_mb'] + r['driver_rss_mb']:.0f}"
        print(
            f"{r['mode']:<8} | {r['workers'] or '-':>7} | {r['wall_s']:>8.2f} | {r.get('first_chunk_s', 0.0):>8.2f} | "
            f"{r['n'] / r['wall_s']:>12.1f} | "
            f"{speed:>8} | {rss:>36} | {r['status']}"
        )
    print("serial: seconds into batch_run before the first chunk started (inline) or all chunks were queued (cluster)")
    print(
        "peak RSS: inline = the batch process; cluster = the largest process (driver or qcluster process) / "
        "the sum of the per-process peaks (driver + every qcluster process; shared pages counted in each)"
    )
    print()
    for r in rows:
        chunks, builds = r.get("chunks"), r.get("build_s")
        if chunks:
            top = sorted(builds.items(), key=lambda item: -item[1])[:4] if builds else []
            print(
                f"chunks   {r['mode']:<7} W={r['workers']:<2}: {chunks['count']} chunks, "
                f"{chunks['median_s']:.2f} s median, {chunks['max_s']:.2f} s max, {chunks['sum_s']:.1f} s in all; "
                f"first started at {chunks['first_start_s']:.2f} s, last ended at {chunks['last_end_s']:.2f} s; builds "
                f"{sum(builds.values()):.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in top)})"
            )
    print()
    for r in rows:
        if "digest" in r:
            d = r["digest"]
            print(
                f"checksum {r['mode']:<7} W={r['workers']:<2}: sum VaR99(hist) {d['var99_sum']:.6f}  "
                f"sum stress conditioned P&L {d['stress_sum']:.6f}  rows {sum(d['counts'].values())}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "setup", "batch", "serial"):
        p = sub.add_parser(name)
        p.add_argument("--app", default=str(ROOT), help="The project's folder (default: this checkout).")
        p.add_argument("--work", default="", help="Working folder (default: a new temporary one).")
        p.add_argument("--n", type=int, default=5000)
        p.add_argument("--verbose", action="store_true")
    runp = sub.choices["run"]
    runp.add_argument("--workers", default="1,4,8,14")
    runp.add_argument("--budget-s", type=float, default=510)
    runp.add_argument("--tolerance", type=float, default=1e-9)
    runp.add_argument(
        "--inline",
        choices=("yes", "no"),
        default=os.environ.get("SCALE_INLINE", "yes"),
        help="Time the inline run first (default; SCALE_INLINE in the environment): 'no' times the clusters alone "
        "(checked for failures and rows stored, not against inline), e.g. the time per portfolio at a larger N.",
    )
    runp.add_argument(
        "--reuse-setup", action="store_true", help="Keep the portfolios of an earlier setup of the same N in --work."
    )
    serialp = sub.choices["serial"]
    serialp.add_argument("--sizes", default="100,250,500", help="Portfolio counts (the first N of the setup's).")
    serialp.add_argument("--repeat", type=int, default=2)
    batchp = sub.choices["batch"]
    batchp.add_argument("--mode", choices=("inline", "cluster"), required=True)
    batchp.add_argument("--workers", type=int, default=0)
    batchp.add_argument("--cluster-pid", type=int, default=0)
    batchp.add_argument("--out", required=True)
    batchp.add_argument(
        "--compare-to", default="", help="An earlier run's result file: hash the results in the database against it."
    )
    args = parser.parse_args()
    args.app = Path(args.app).resolve()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) or not os.environ.get(
        "REDIS_URL"
    ):
        parser.error("needs DATABASE_URL (PostgreSQL) and REDIS_URL (the cluster's broker) in the environment")
    if not args.work:
        import tempfile

        args.work = tempfile.mkdtemp(prefix="bench_scale_")
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "setup":
        cmd_setup(args)
    elif args.command == "serial":
        cmd_serial(args)
    else:
        cmd_batch(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Digests of the stored results of the bench portfolios, to prove an optimisation leaves them identical.

``bench_analytics.py`` recreates its portfolios (new ids) on every run, so each digest is taken with every
position id replaced by its symbol (unique within a bench portfolio) and every portfolio id by its name:
one md5 per (portfolio name, kind) of the newest day's payloads, and one per (portfolio name, position
symbol) of the day's position metrics (provenance ``inputs`` left out: it holds the book's fingerprint, which
covers the ids).

Usage:
    DATABASE_URL=... .venv/bin/python bench/payload_digest.py dump before.json   # after a bench run
    DATABASE_URL=... .venv/bin/python bench/payload_digest.py dump after.json    # after the changed code's run
    .venv/bin/python bench/payload_digest.py compare before.json after.json      # exits 1 on any difference
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SKIPPED_METRIC_FIELDS = {"id", "batch_run", "computed_at", "position", "portfolio", "inputs"}


def dump(path: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    import django

    django.setup()
    from analytics.models import PortfolioResult, PositionMetrics
    from portfolios.models import Portfolio, Position

    bench = {"name__startswith": "bench-"}
    names = {str(pk): name for pk, name in Portfolio.objects.filter(**bench).values_list("pk", "name")}
    symbols = {
        str(pk): symbol
        for pk, symbol in Position.objects.filter(portfolio__name__startswith="bench-").values_list("pk", "symbol")
    }

    def text(value: Any) -> str:
        raw = json.dumps(value, sort_keys=True, default=str)
        return UUID.sub(lambda m: symbols.get(m.group(0)) or names.get(m.group(0)) or "unknown-id", raw)

    results = PortfolioResult.objects.filter(portfolio__name__startswith="bench-")
    as_of = results.order_by("-as_of").values_list("as_of", flat=True).first()
    payloads = {
        f"{names[str(pid)]}/{kind}": hashlib.md5(text(payload).encode()).hexdigest()
        for pid, kind, payload in results.filter(as_of=as_of).values_list("portfolio_id", "kind", "payload")
    }
    fields = [f.name for f in PositionMetrics._meta.fields if f.name not in SKIPPED_METRIC_FIELDS]
    metrics = {}
    rows = PositionMetrics.objects.filter(portfolio__name__startswith="bench-", as_of=as_of)
    for row in rows.values("portfolio_id", "position_id", *fields).iterator(chunk_size=5000):
        key = f"{names[str(row.pop('portfolio_id'))]}/{symbols[str(row.pop('position_id'))]}"
        metrics[key] = hashlib.md5(text(row).encode()).hexdigest()
    Path(path).write_text(json.dumps({"as_of": str(as_of), "payloads": payloads, "metrics": metrics}))
    print(f"{as_of}: {len(payloads)} payloads, {len(metrics)} position metrics → {path}")


def compare(before_path: str, after_path: str) -> int:
    before, after = (json.loads(Path(p).read_text()) for p in (before_path, after_path))
    differing = 0
    for part in ("payloads", "metrics"):
        a, b = before[part], after[part]
        keys = sorted(set(a) | set(b))
        diff = [k for k in keys if a.get(k) != b.get(k)]
        by_kind = collections.Counter(k.split("/")[1] if part == "payloads" else part for k in diff)
        print(f"{part}: {len(a)} before, {len(b)} after, {len(diff)} differ {dict(by_kind)}")
        differing += len(diff)
    return 1 if differing else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)

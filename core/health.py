"""``GET /health``: database, cache and channel layer checks (more are added by later apps)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

Check = Callable[[], dict[str, Any]]


def database_fingerprint(db: Mapping[str, Any]) -> str:
    """A short digest of which database a settings dict points at (engine, host, port, name; no credentials).

    ``/health`` shows it so that ``manage.py doctor`` can tell whether the server on a port uses the
    same database as its own configuration, without this public endpoint naming hosts or file paths.
    """
    where = "|".join(str(db.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {
        "status": "ok",
        "vendor": connection.vendor,
        "id": database_fingerprint(connection.settings_dict),
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def check_cache() -> dict[str, Any]:
    cache.set("sigmasight:health", "1", 10)
    ok = cache.get("sigmasight:health") == "1"
    return {"status": "ok" if ok else "error", "backend": cache.__class__.__name__}


def check_channel_layer() -> dict[str, Any]:
    layer = get_channel_layer()
    if layer is None:
        return {"status": "error", "message": "no channel layer configured"}
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "health.ping"})
    message = async_to_sync(layer.receive)(channel)
    ok = message.get("type") == "health.ping"
    return {"status": "ok" if ok else "error", "backend": layer.__class__.__name__}


CRITICAL_CHECKS: dict[str, Check] = {"database": check_database}
CHECKS: dict[str, Check] = {"cache": check_cache, "channel_layer": check_channel_layer}


def register_health_check(name: str, check: Check) -> None:
    """Apps add non-critical checks (market data freshness, last batch) at start-up."""
    CHECKS[name] = check


def _run(check: Check) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:
        return {"status": "error", "message": f"{exc.__class__.__name__}: {exc}"[:300]}


@csrf_exempt  # a probe, not a form: any method gets JSON, never Django's HTML CSRF page
def health_view(request: HttpRequest) -> JsonResponse:
    """200 ``healthy`` (or ``degraded`` when a non-critical check warns); 503 when the database is down."""
    if request.method not in ("GET", "HEAD"):
        from core.errors import json_405  # DRF-heavy: imported when needed, not at start-up

        return json_405(request, ["GET", "HEAD"])
    checks = {name: _run(check) for name, check in CRITICAL_CHECKS.items()}
    critical_ok = all(c["status"] == "ok" for c in checks.values())
    if critical_ok:
        checks.update({name: _run(check) for name, check in CHECKS.items()})
    if not critical_ok:
        status = "unhealthy"
    elif all(c["status"] == "ok" for c in checks.values()):
        status = "healthy"
    else:
        status = "degraded"
    return JsonResponse({"status": status, "checks": checks}, status=503 if status == "unhealthy" else 200)

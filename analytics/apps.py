"""The analytics app: stored risk results, the daily batch, and its health checks."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.doctor import register_doctor_check
        from core.health import register_health_check

        register_health_check("last_batch", _check_last_batch)
        register_health_check("market_data", _check_market_data)
        register_doctor_check("last batch", "analytics.doctor.check_last_batch", order=60, takes_now=True)


# Imported when /health runs, not at start-up: every management command starts faster.
def _check_last_batch() -> dict[str, Any]:
    from analytics.api.health import check_last_batch

    return check_last_batch()


def _check_market_data() -> dict[str, Any]:
    from analytics.api.health import check_market_data

    return check_market_data()

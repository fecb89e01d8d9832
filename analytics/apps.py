"""The analytics app: stored risk results, the daily batch, and its health checks."""

from __future__ import annotations

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics.api.health import check_last_batch, check_market_data
        from core.health import register_health_check

        register_health_check("last_batch", check_last_batch)
        register_health_check("market_data", check_market_data)

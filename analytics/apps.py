"""The analytics app: stored risk results, the daily batch, and its health checks."""

from __future__ import annotations

from collections.abc import Sequence
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
        register_health_check("limit_breaches", _check_limit_breaches)
        register_doctor_check("limit breaches", "analytics.doctor.check_limit_breaches", order=65)
        # The data API's positions get their values and the batch's metrics from here (portfolios
        # cannot import analytics: data flows one way).
        from portfolios.api.extensions import position_fields_register

        position_fields_register(_position_fields)


# Imported when /health runs, not at start-up: every management command starts faster.
def _check_last_batch() -> dict[str, Any]:
    from analytics.api.health import check_last_batch

    return check_last_batch()


def _position_fields(positions: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    from analytics.api.positions import position_fields

    return position_fields(positions)


def _check_market_data() -> dict[str, Any]:
    from analytics.api.health import check_market_data

    return check_market_data()


def _check_limit_breaches() -> dict[str, Any]:
    from analytics.api.health import check_limit_breaches

    return check_limit_breaches()

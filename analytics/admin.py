"""Admin for stored analytics, the stress scenario catalog (editable) and batch run records."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from analytics.models import (
    Alert,
    AlertDelivery,
    BatchJob,
    BatchLock,
    BatchRefusal,
    BatchRun,
    FactorModelFit,
    PortfolioResult,
    PortfolioSnapshot,
    PositionMetrics,
    RiskLimit,
    StressScenario,
    SymbolFactorBeta,
    WhatIfScenario,
)

PROVENANCE = ("as_of", "method", "lookback_days", "data_source", "is_stale", "stale_reason", "computed_at")


@admin.register(StressScenario)
class StressScenarioAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "category", "severity", "implied_vol_shift", "is_active")
    list_editable = ("is_active",)
    list_filter = ("category", "severity", "is_active")
    search_fields = ("id", "name", "description")


class BatchJobInline(admin.TabularInline):
    model = BatchJob
    extra = 0
    can_delete = False
    fields = ("sequence", "step", "portfolio", "status", "duration_ms", "rows_written", "error_summary")
    readonly_fields = fields


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    list_display = ("as_of", "status", "mode", "trigger", "data_source", "started_at", "heartbeat_at", "duration_ms")
    list_filter = ("status", "mode", "data_source")
    search_fields = ("id", "error_summary")
    date_hierarchy = "as_of"
    readonly_fields = ("id", "created_at")
    inlines = [BatchJobInline]


@admin.register(BatchJob)
class BatchJobAdmin(admin.ModelAdmin):
    list_display = ("run", "sequence", "step", "portfolio", "status", "duration_ms", "rows_written")
    list_select_related = ("run", "portfolio")
    list_filter = ("status", "step")
    search_fields = ("error_summary", "portfolio__name")


@admin.register(BatchRefusal)
class BatchRefusalAdmin(admin.ModelAdmin):
    list_display = ("refused_at", "as_of", "trigger", "holder")
    list_filter = ("trigger",)
    date_hierarchy = "as_of"
    readonly_fields = ("as_of", "trigger", "holder", "message", "refused_at")


@admin.register(BatchLock)
class BatchLockAdmin(admin.ModelAdmin):
    list_display = ("as_of", "holder", "holder_process", "acquired_at", "heartbeat_at")


@admin.register(PortfolioResult)
class PortfolioResultAdmin(admin.ModelAdmin):
    list_display = ("portfolio", "kind", *PROVENANCE)
    list_select_related = ("portfolio",)
    list_filter = ("kind", "data_source", "is_stale")
    search_fields = ("portfolio__name",)
    date_hierarchy = "as_of"


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "portfolio",
        "as_of",
        "total_value",
        "gross_exposure",
        "net_exposure",
        "daily_pnl",
        "daily_return",
        "cumulative_pnl",
        "data_source",
        "is_stale",
    )
    list_select_related = ("portfolio",)
    list_filter = ("data_source", "is_stale", "portfolio")
    date_hierarchy = "as_of"


@admin.register(PositionMetrics)
class PositionMetricsAdmin(admin.ModelAdmin):
    list_display = (
        "position",
        "as_of",
        "price",
        "market_value",
        "unrealised_pnl",
        "delta",
        "dollar_delta",
        "implied_vol_source",
        "is_expired",
        "data_source",
    )
    list_select_related = ("position",)
    list_filter = ("is_expired", "data_source", "is_stale")
    search_fields = ("position__symbol",)
    date_hierarchy = "as_of"


@admin.register(SymbolFactorBeta)
class SymbolFactorBetaAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "as_of",
        "market_beta_univariate",
        "r_squared",
        "n_observations",
        "quality",
        "data_source",
    )
    list_filter = ("quality", "data_source")
    search_fields = ("symbol",)
    date_hierarchy = "as_of"


@admin.register(FactorModelFit)
class FactorModelFitAdmin(admin.ModelAdmin):
    list_display = ("as_of", "condition_number", "n_observations", "data_source", "computed_at")


# --- what-if scenarios, limits and alerts (issue 15) ---------------------------------------------


class RiskLimitAdminForm(forms.ModelForm):
    """The admin's form runs the same validation as the API (``analytics.services.limits``)."""

    class Meta:
        model = RiskLimit
        fields = ("portfolio", "metric", "factor", "underlying", "warning_level", "hard_level", "lower_warning",
                  "lower_hard", "is_active", "note")  # fmt: skip

    def clean(self) -> dict[str, Any]:
        from analytics.services.limits import LEVEL_FIELDS, limit_problems

        data = super().clean() or {}
        problems = limit_problems(
            metric=data.get("metric", ""),
            factor=data.get("factor", "") or "",
            underlying=(data.get("underlying", "") or "").strip().upper(),
            levels={name: data.get(name) for name in LEVEL_FIELDS},
        )
        for name, message in problems.items():
            self.add_error(name if name in self.fields else None, message)
        return data


@admin.register(RiskLimit)
class RiskLimitAdmin(admin.ModelAdmin):
    form = RiskLimitAdminForm
    list_display = ("portfolio", "metric", "factor", "underlying", "warning_level", "hard_level", "is_active")
    list_filter = ("metric", "is_active")
    search_fields = ("portfolio__name", "underlying", "factor")


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    can_delete = False
    fields = ("channel", "target", "status", "attempts", "response_code", "error", "created_at")
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("as_of", "portfolio", "limit_label", "event", "status", "value", "acknowledged_at")
    list_filter = ("event", "status")
    search_fields = ("limit_label", "message", "portfolio__name")
    date_hierarchy = "as_of"
    inlines = [AlertDeliveryInline]
    readonly_fields = ("portfolio", "limit", "limit_label", "as_of", "event", "status", "previous_status", "value",
                       "warning_level", "hard_level", "message", "created_at")  # fmt: skip


@admin.register(WhatIfScenario)
class WhatIfScenarioAdmin(admin.ModelAdmin):
    list_display = ("name", "portfolio", "as_of", "updated_at")
    search_fields = ("name", "portfolio__name")
    readonly_fields = ("trades", "result")

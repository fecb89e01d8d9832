"""Admin for stored analytics, the stress scenario catalog (editable) and batch run records."""

from __future__ import annotations

from django.contrib import admin

from analytics.models import (
    BatchJob,
    BatchLock,
    BatchRefusal,
    BatchRun,
    FactorModelFit,
    PortfolioResult,
    PortfolioSnapshot,
    PositionMetrics,
    StressScenario,
    SymbolFactorBeta,
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

"""Admin for market data: instruments, bars, option quotes and sync runs, each showing its source."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from marketdata.models import Instrument, OptionQuote, PriceBar, PriceQuarantine, QuarantineStatus, SyncRun
from marketdata.services import quarantine_confirm, quarantine_correct


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "asset_class", "sector", "industry", "exchange", "currency", "source")
    list_filter = ("asset_class", "source", "sector", "exchange")
    search_fields = ("symbol", "name", "sector", "industry")
    ordering = ("symbol",)


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    list_display = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source", "quarantined")
    list_filter = ("quarantined", "source", "date")
    search_fields = ("symbol",)
    date_hierarchy = "date"
    ordering = ("symbol", "-date")
    show_full_result_count = False  # COUNT(*) over millions of bars on every page is wasted work


@admin.register(OptionQuote)
class OptionQuoteAdmin(admin.ModelAdmin):
    list_display = ("contract", "underlying", "date", "bid", "ask", "last", "implied_vol", "open_interest", "source")
    list_filter = ("source", "underlying", "date")
    search_fields = ("contract", "underlying")
    date_hierarchy = "date"
    ordering = ("contract", "-date")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "kind",
        "provider",
        "status",
        "symbols_requested",
        "symbols_ok",
        "symbols_failed",
        "symbols_unavailable",
        "rows_written",
        "rows_rejected",
        "requests_made",
        "duration_s",
    )
    list_filter = ("status", "kind", "provider")
    search_fields = ("provider", "status")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    readonly_fields = [f.name for f in SyncRun._meta.fields]


@admin.register(PriceQuarantine)
class PriceQuarantineAdmin(admin.ModelAdmin):
    """Prices held back by the sync: confirm (the move is real) or correct (type the right adjusted close)."""

    list_display = (
        "symbol",
        "date",
        "status",
        "adj_close",
        "reference_date",
        "reference_close",
        "log_return",
        "source",
        "resolved_by",
    )
    list_filter = ("status", "source")
    search_fields = ("symbol",)
    date_hierarchy = "date"
    ordering = ("status", "-date", "symbol")
    readonly_fields = (
        "symbol",
        "date",
        "source",
        "adj_close",
        "reference_date",
        "reference_close",
        "log_return",
        "bound",
        "status",
        "resolved_by",
        "resolved_at",
        "created_at",
    )
    fields = (*readonly_fields[:8], "corrected_close", *readonly_fields[8:])
    actions = ["confirm_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the sync quarantines a price

    @admin.action(description="Confirm the selected prices (the move is real; use them)")
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet[PriceQuarantine]) -> None:
        open_ = list(queryset.filter(status=QuarantineStatus.OPEN))
        for record in open_:
            quarantine_confirm(record, by=request.user.get_username())
        self.message_user(request, f"Confirmed {len(open_)} price(s); rerun the batch for their dates.")

    def save_model(self, request: HttpRequest, obj: PriceQuarantine, form: object, change: bool) -> None:
        # Saving with a corrected close corrects the bar (rescaled to that close) and releases it.
        if obj.corrected_close is None:
            return
        try:
            quarantine_correct(obj, close=obj.corrected_close, by=request.user.get_username())
        except ValueError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)

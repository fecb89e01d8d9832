"""Admin for market data: instruments, bars, option quotes and sync runs, each showing its source."""

from __future__ import annotations

from django.contrib import admin

from marketdata.models import Instrument, OptionQuote, PriceBar, SyncRun


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "asset_class", "sector", "industry", "exchange", "currency", "source")
    list_filter = ("asset_class", "source", "sector", "exchange")
    search_fields = ("symbol", "name", "sector", "industry")
    ordering = ("symbol",)


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    list_display = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source")
    list_filter = ("source", "date")
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

"""Instruments, daily price bars, option quotes and the record of every sync run (DESIGN §3).

Prices here are ``FloatField``: market data is vendor float data (FMP and Polygon send JSON
numbers), the analytics work in float64 numpy arrays, and a 250k-row backfill must not pay for
``Decimal`` conversions. Money the user owns (entry prices, NAV) stays ``Decimal`` in the
portfolios app. Every stored row names its ``source`` (``simulated``, ``fmp``, ``polygon``,
``csv``) so that whatever shows the data can say where it came from.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portfolios.models import AssetClass  # one list of asset classes for positions and instruments


class DataSource(models.TextChoices):
    SIMULATED = "simulated", "Simulated"
    FMP = "fmp", "Financial Modeling Prep"
    POLYGON = "polygon", "Polygon.io"
    CSV = "csv", "CSV import"


class Instrument(models.Model):
    """Reference data for a symbol (company profile), upserted by the sync where a provider has it."""

    symbol = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200, blank=True)
    asset_class = models.CharField(max_length=12, choices=AssetClass.choices, default=AssetClass.STOCK)
    sector = models.CharField(max_length=100, blank=True)
    industry = models.CharField(max_length=150, blank=True)
    exchange = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    source = models.CharField(max_length=12, choices=DataSource.choices, default=DataSource.SIMULATED)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class PriceBar(models.Model):
    """One daily OHLCV bar of one symbol on one NYSE session; prices in the instrument's currency.

    ``adj_close`` is the close adjusted for splits (and dividends where the provider adjusts for
    them); returns are computed from it. ``volume`` is shares (0 for an index).

    ``quarantined``: the bar is stored but left out of every price read (analytics, valuations)
    until a person confirms or corrects it — its adjusted close jumped beyond
    ``PRICE_QUARANTINE_LOG_RETURN`` from the symbol's last good bar (see :class:`PriceQuarantine`).
    """

    symbol = models.CharField(max_length=40)
    date = models.DateField()
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    adj_close = models.FloatField()
    volume = models.BigIntegerField(default=0)
    source = models.CharField(max_length=12, choices=DataSource.choices)
    # A database default too: the PostgreSQL COPY fast path names its columns and leaves this one out.
    quarantined = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["symbol", "date"]
        constraints = [
            models.UniqueConstraint(fields=["symbol", "date"], name="pricebar_unique_symbol_date"),
            models.CheckConstraint(
                condition=Q(open__gt=0) & Q(high__gt=0) & Q(low__gt=0) & Q(close__gt=0) & Q(adj_close__gt=0),
                name="pricebar_prices_positive",
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="pricebar_volume_not_negative"),
        ]
        indexes = [models.Index(fields=["date"], name="pricebar_date_idx")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date} {self.close} ({self.source})"


class QuarantineStatus(models.TextChoices):
    OPEN = "open", "Quarantined (not used)"
    CONFIRMED = "confirmed", "Confirmed (the move is real)"
    CORRECTED = "corrected", "Corrected"


class PriceQuarantine(models.Model):
    """A vendor price held back: its adjusted close moved by more than the setting's bound (an absolute
    daily log return) from the symbol's last good bar. While ``open`` its ``PriceBar`` is flagged
    ``quarantined`` and no analytics read it; a confirmation releases the bar as it is, a correction
    rescales the bar's prices to ``corrected_close`` and releases it. Prices per share."""

    symbol = models.CharField(max_length=40)
    date = models.DateField()
    source = models.CharField(max_length=12, choices=DataSource.choices)
    adj_close = models.FloatField(help_text="The suspicious adjusted close as the vendor sent it.")
    reference_date = models.DateField(help_text="The symbol's last good bar before it.")
    reference_close = models.FloatField()
    log_return = models.FloatField(help_text="ln(adj_close / reference_close).")
    bound = models.FloatField(help_text="The |log return| bound in force when it was quarantined.")
    status = models.CharField(max_length=10, choices=QuarantineStatus.choices, default=QuarantineStatus.OPEN)
    corrected_close = models.FloatField(null=True, blank=True, help_text="Set to correct the bar to this close.")
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "symbol"]
        constraints = [models.UniqueConstraint(fields=["symbol", "date"], name="pricequarantine_unique_symbol_date")]
        indexes = [models.Index(fields=["status", "symbol"], name="pricequarantine_status_idx")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date} ×{self.multiple:.3g} ({self.status})"

    @property
    def multiple(self) -> float:
        """adj_close / reference_close."""
        return self.adj_close / self.reference_close if self.reference_close else float("nan")


class OptionQuote(models.Model):
    """End-of-day quote of one option contract (OCC symbol) on one session; prices per share.

    ``implied_vol`` is annualised, as a decimal (0.25 = 25%), or null when the provider has none.
    """

    contract = models.CharField(max_length=40)
    underlying = models.CharField(max_length=20, blank=True)
    date = models.DateField()
    bid = models.FloatField(null=True, blank=True)
    ask = models.FloatField(null=True, blank=True)
    last = models.FloatField(null=True, blank=True)
    implied_vol = models.FloatField(null=True, blank=True)
    open_interest = models.BigIntegerField(null=True, blank=True)
    underlying_price = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=DataSource.choices)

    class Meta:
        ordering = ["contract", "date"]
        constraints = [models.UniqueConstraint(fields=["contract", "date"], name="optionquote_unique_contract_date")]

    def __str__(self) -> str:
        return f"{self.contract} {self.date} ({self.source})"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial (some symbols failed)"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One run of the market data sync (or backfill, factor check, CSV import) and what it did.

    ``failures`` maps each failed symbol to the reason; the next default sync retries them.
    ``unavailable`` maps symbols the provider does not carry (a mutual fund, an index on a stock
    plan) to the provider's reason, so they are reported rather than silently dropped.
    """

    class Kind(models.TextChoices):
        SYNC = "sync", "Incremental sync"
        BACKFILL = "backfill", "Backfill"
        FACTOR_DATA = "factor_data", "Factor data check"
        IMPORT = "import", "CSV import"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SYNC)
    provider = models.CharField(max_length=12, choices=DataSource.choices)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    symbols_requested = models.PositiveIntegerField(default=0)
    symbols_ok = models.PositiveIntegerField(default=0)
    symbols_failed = models.PositiveIntegerField(default=0)
    symbols_unavailable = models.PositiveIntegerField(default=0)
    symbols_cached = models.PositiveIntegerField(default=0, help_text="Symbols that needed no request (cache hit).")
    rows_written = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    option_quotes_written = models.PositiveIntegerField(default=0)
    requests_made = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=dict, blank=True)
    unavailable = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at"], name="syncrun_started_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

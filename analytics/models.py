"""Stored analytics results, each with its provenance, and the daily batch's run records.

Every result row carries ``as_of`` (the trading day it describes), ``method``, ``lookback_days``,
``data_source`` (``simulated`` or the provider the prices came from), ``inputs`` (what produced
it) and ``is_stale`` (computed on prices older than ``as_of``). Rows are unique per subject and
``as_of``: a rerun for the same day replaces them, it never duplicates.
"""

from __future__ import annotations

import uuid

from django.db import models

from core.fields import JSONDocumentField


def result_kind_choices() -> list[tuple[str, str]]:
    """The registered result kinds (``analytics.results``), as the choices of ``PortfolioResult.kind``."""
    from analytics.results import registry

    return registry.kind_choices()


class Provenance(models.Model):
    """Fields every stored result carries."""

    as_of = models.DateField(db_index=True)
    method = models.CharField(max_length=200)
    lookback_days = models.PositiveIntegerField(null=True, blank=True)
    data_source = models.CharField(max_length=40)
    inputs = models.JSONField(default=dict, blank=True)
    is_stale = models.BooleanField(default=False)
    stale_reason = models.CharField(max_length=300, blank=True)
    computed_at = models.DateTimeField(auto_now=True)
    batch_run = models.ForeignKey(
        "analytics.BatchRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True


class FactorModelFit(Provenance):
    """The factor model of one day: condition number and factor covariance (daily, decimal returns)."""

    condition_number = models.FloatField()
    n_observations = models.PositiveIntegerField()
    factor_covariance = models.JSONField(help_text="Daily covariance of the model factors (spreads), {f: {g: cov}}.")
    proxy_covariance = models.JSONField(
        help_text="Daily covariance of the proxies' total returns (SPY, VTV, ..., TLT)."
    )
    factor_volatility = models.JSONField(help_text="Annualised volatility per factor.")

    class Meta:
        ordering = ["-as_of"]
        constraints = [models.UniqueConstraint(fields=["as_of"], name="factor_model_fit_unique_as_of")]

    def __str__(self) -> str:
        return f"Factor model {self.as_of} (cond {self.condition_number:.1f})"


class SymbolFactorBeta(Provenance):
    """Per-symbol betas to the 7 factors (styles as spreads over the market) and to rates (TLT)."""

    symbol = models.CharField(max_length=40)
    betas = models.JSONField(help_text="{factor: beta}; styles are spreads over SPY, interest_rate is TLT's return.")
    market_beta_univariate = models.FloatField(null=True)
    alpha_daily = models.FloatField(null=True)
    r_squared = models.FloatField(null=True)
    residual_vol_annual = models.FloatField(null=True)
    n_observations = models.PositiveIntegerField()
    quality = models.CharField(max_length=20, help_text="ok (≥252 obs), limited (60–251), insufficient (<60).")
    extreme_betas = models.JSONField(
        default=list, blank=True, help_text="Factors whose |beta| > 3 (flagged, never capped)."
    )

    class Meta:
        ordering = ["-as_of", "symbol"]
        constraints = [models.UniqueConstraint(fields=["symbol", "as_of"], name="symbol_factor_beta_unique")]

    def __str__(self) -> str:
        return f"{self.symbol} betas {self.as_of}"


class PositionMetrics(Provenance):
    """One position on one day: valuation, Greeks (options) and dollar factor exposures.

    Money in USD. ``market_value`` = quantity × price × multiplier (negative for shorts).
    Greeks per contract are per share (Black–Scholes–Merton); ``position_*`` multiply by signed
    quantity × multiplier. Theta per calendar day, vega per vol point, rho per 1% of rate.
    """

    position = models.ForeignKey("portfolios.Position", on_delete=models.CASCADE, related_name="metrics")
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="position_metrics")
    price = models.FloatField(null=True, help_text="Per share (per-share option premium for options).")
    price_date = models.DateField(null=True)
    price_source = models.CharField(max_length=40, blank=True)
    underlying_price = models.FloatField(null=True)
    market_value = models.FloatField(null=True)
    cost_basis = models.FloatField(null=True)
    unrealised_pnl = models.FloatField(null=True)
    delta_exposure = models.FloatField(null=True, help_text="Stocks: market value; options: dollar delta.")
    is_expired = models.BooleanField(default=False)
    implied_vol = models.FloatField(null=True)
    implied_vol_source = models.CharField(max_length=40, blank=True)
    years_to_expiry = models.FloatField(null=True)
    delta = models.FloatField(null=True)
    gamma = models.FloatField(null=True)
    theta = models.FloatField(null=True)
    vega = models.FloatField(null=True)
    rho = models.FloatField(null=True)
    position_delta = models.FloatField(null=True)
    position_gamma = models.FloatField(null=True)
    position_theta = models.FloatField(null=True)
    position_vega = models.FloatField(null=True)
    position_rho = models.FloatField(null=True)
    dollar_delta = models.FloatField(null=True)
    dollar_gamma = models.FloatField(null=True)
    greeks_inputs = models.JSONField(default=dict, blank=True)
    factor_betas = models.JSONField(
        default=dict, blank=True, help_text="Betas of the price symbol (underlying for options)."
    )
    factor_exposures = models.JSONField(default=dict, blank=True, help_text="Dollar exposure per factor.")

    class Meta:
        verbose_name_plural = "position metrics"  # not Django's default "position metricss"
        ordering = ["portfolio_id", "position_id", "-as_of"]
        constraints = [models.UniqueConstraint(fields=["position", "as_of"], name="position_metrics_unique")]
        indexes = [models.Index(fields=["portfolio", "as_of"])]

    def __str__(self) -> str:
        return f"{self.position_id} {self.as_of}"


class PortfolioResult(Provenance):
    """A portfolio-level result of one kind for one day; ``payload``'s shape is the kind's declared payload
    type (``analytics.results.<kind>``)."""

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="analytics_results")
    kind = models.CharField(max_length=30, choices=result_kind_choices)
    payload = JSONDocumentField()

    class Meta:
        ordering = ["portfolio_id", "kind", "-as_of"]
        constraints = [models.UniqueConstraint(fields=["portfolio", "kind", "as_of"], name="portfolio_result_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.portfolio_id} {self.as_of}"


# The value columns of a snapshot, in display order: one list for persistence, API and reports.
SNAPSHOT_VALUE_FIELDS: tuple[str, ...] = (
    "total_value",
    "long_exposure",
    "short_exposure",
    "gross_exposure",
    "net_exposure",
    "delta_adjusted_exposure",
    "cash",
    "equity",
    "daily_pnl",
    "daily_return",
    "cumulative_pnl",
    "flows",
    "portfolio_delta",
    "portfolio_gamma",
    "portfolio_theta",
    "portfolio_vega",
    "position_count",
)


class PortfolioSnapshot(Provenance):
    """End-of-day state of a portfolio: values, exposures, P&L from price changes, Greeks (USD)."""

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="snapshots")
    total_value = models.FloatField(help_text="Net market value of positions.")
    long_exposure = models.FloatField()
    short_exposure = models.FloatField()
    gross_exposure = models.FloatField()
    net_exposure = models.FloatField()
    delta_adjusted_exposure = models.FloatField(null=True)
    cash = models.FloatField(null=True)
    equity = models.FloatField(null=True, help_text="Equity balance carried forward by P&L.")
    daily_pnl = models.FloatField(null=True)
    daily_return = models.FloatField(null=True)
    cumulative_pnl = models.FloatField(null=True)
    flows = models.FloatField(
        null=True,
        help_text="Value moved into positions on the day: entries at their entry price minus exits (expiries "
        "included) at their exit price; value change = daily P&L + flows.",
    )
    portfolio_delta = models.FloatField(null=True)
    portfolio_gamma = models.FloatField(null=True)
    portfolio_theta = models.FloatField(null=True)
    portfolio_vega = models.FloatField(null=True)
    position_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["portfolio_id", "-as_of"]
        constraints = [models.UniqueConstraint(fields=["portfolio", "as_of"], name="portfolio_snapshot_unique")]

    def __str__(self) -> str:
        return f"Snapshot {self.portfolio_id} {self.as_of}"


class StressScenario(models.Model):
    """A stress scenario: proxy total-return shocks, a yield change and an implied-vol shift.

    ``shocks`` maps factor names (market, value, growth, momentum, quality, size, low_volatility)
    to total returns of their ETF proxies over the scenario, and ``interest_rate`` to an absolute
    change in the 10-year yield (0.01 = 100 bp). ``implied_vol_shift`` is added to option vols.
    """

    id = models.SlugField(primary_key=True, max_length=60)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=30)
    severity = models.CharField(max_length=20)
    shocks = models.JSONField()
    implied_vol_shift = models.FloatField(default=0.0)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Completed with failures"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    INTERRUPTED = "interrupted", "Interrupted"
    # A run whose heartbeat went stale (its process died or hung) — see ``BATCH_HEARTBEAT_STALE_S``.
    ABANDONED = "abandoned", "Abandoned (no heartbeat)"
    # Every job completed, but on data that carries warnings (quarantined vendor prices left out).
    WARNINGS = "completed_with_warnings", "Completed with data warnings"


class BatchRun(models.Model):
    """One run of the daily batch for an as-of date.

    Only a run that holds the date's lock is recorded here; a run refused by the lock is a
    :class:`BatchRefusal`. A running run stamps ``heartbeat_at`` as chunks complete and every
    ``BATCH_HEARTBEAT_INTERVAL_S`` seconds; one whose heartbeat is older than ``BATCH_HEARTBEAT_STALE_S``
    is marked ``abandoned`` by the next run, ``/health``, ``doctor`` and ``batch_history``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    as_of = models.DateField(db_index=True)
    status = models.CharField(max_length=30, choices=RunStatus.choices, default=RunStatus.PENDING)
    steps = models.JSONField(default=list)
    portfolio_ids = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=40, default="command")
    mode = models.CharField(max_length=20, default="inline", help_text="inline or cluster (django-q2 fan-out).")
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.FloatField(null=True)
    error_summary = models.TextField(blank=True)
    warnings = models.TextField(blank=True, help_text="Data warnings (e.g. quarantined prices left out), one a line.")
    data_source = models.CharField(max_length=40, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of a running run (UTC).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Batch {self.as_of} {self.status}"


class BatchJob(models.Model):
    """One step of a batch run, for one portfolio (or for the symbol universe when portfolio is null)."""

    run = models.ForeignKey(BatchRun, on_delete=models.CASCADE, related_name="jobs")
    step = models.CharField(max_length=40)
    portfolio = models.ForeignKey(
        "portfolios.Portfolio", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=30, choices=RunStatus.choices, default=RunStatus.PENDING)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.FloatField(null=True)
    rows_written = models.PositiveIntegerField(default=0)
    error_summary = models.TextField(blank=True)
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run_id", "sequence", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "step", "portfolio"], name="batch_job_unique_step")]

    def __str__(self) -> str:
        return f"{self.step} {self.status}"


class BatchRefusal(models.Model):
    """A batch refused because another run held the date's lock: recorded apart from the runs, so a
    refusal never becomes the "latest run" of ``/health``, ``batch_history`` or the agent."""

    id = models.BigAutoField(primary_key=True)
    as_of = models.DateField(db_index=True)
    trigger = models.CharField(max_length=40, default="command")
    holder = models.UUIDField(null=True, blank=True, help_text="The BatchRun that held the lock, when known.")
    message = models.TextField(blank=True)
    refused_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-refused_at"]

    def __str__(self) -> str:
        return f"Refused batch {self.as_of} ({self.trigger})"


class BatchLock(models.Model):
    """One row per as-of date, locked with SELECT … FOR UPDATE NOWAIT (PostgreSQL) or a unique
    insert (SQLite) so that two runs for the same date never both write."""

    as_of = models.DateField(primary_key=True)
    holder = models.UUIDField(null=True, blank=True, help_text="The BatchRun holding the lock.")
    holder_process = models.CharField(max_length=200, blank=True, help_text="host:pid of the holder (SQLite).")
    acquired_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"Lock {self.as_of}"


class DataChange(models.Model):
    """The database's change counter (``core.datachange``): one row (id 1) whose value moves forward after
    every committed write to the data the API serves. Read before the data by the response cache
    (``core.response_cache``); never edited by hand."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    value = models.BigIntegerField()

    class Meta:
        db_table = "sigmasight_data_change"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"data change {self.value}"


# --- what-if scenarios, limits and alerts (issue 15) -------------------------------------------------


class WhatIfScenario(models.Model):
    """A what-if saved by name: its trades and the answer computed when it was saved (nothing else is stored
    by a what-if). Saving again under the same name replaces it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="what_if_scenarios")
    name = models.CharField(max_length=100)
    as_of = models.DateField(help_text="The day the answer describes (that of the factor model it reused).")
    trades = models.JSONField(help_text="The trades as submitted.")
    result = JSONDocumentField(help_text="The what-if answer: summary, worst scenarios, limits, every kind.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio_id", "name"]
        constraints = [models.UniqueConstraint(fields=["portfolio", "name"], name="what_if_scenario_unique_name")]

    def __str__(self) -> str:
        return f"What-if {self.name!r} ({self.portfolio_id})"


class LimitMetric(models.TextChoices):
    """What a limit bounds (units: ratios as decimals, USD, days; see ``analytics.results.limits``)."""

    GROSS_LEVERAGE = "gross_leverage", "Gross leverage (gross exposure / equity)"
    DELTA_ADJUSTED_LEVERAGE = "delta_adjusted_leverage", "Delta-adjusted leverage"
    VAR_99_PCT_EQUITY = "var_99_pct_equity", "Historical VaR 99% as a share of equity"
    SINGLE_NAME_CONCENTRATION = "single_name_concentration", "Largest underlying's |dollar delta| / equity"
    UNDERLYING_DOLLAR_DELTA = "underlying_dollar_delta", "|Dollar delta| of an underlying (USD)"
    FACTOR_BETA = "factor_beta", "Portfolio beta to a factor"
    WORST_STRESS_LOSS = "worst_stress_loss", "Worst stress scenario loss as a share of equity"
    DAYS_TO_LIQUIDATE = "days_to_liquidate", "Days to liquidate the whole portfolio"


class RiskLimit(models.Model):
    """A limit on one risk figure of a portfolio, with a warning and a hard level (upper, lower or both).

    ``factor`` names the factor of a ``factor_beta`` limit; ``underlying`` the symbol of an
    ``underlying_dollar_delta`` limit (blank: the largest underlying). A value equal to a level is within it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="risk_limits")
    metric = models.CharField(max_length=40, choices=LimitMetric.choices)
    factor = models.CharField(max_length=40, blank=True, default="")
    underlying = models.CharField(max_length=32, blank=True, default="")
    warning_level = models.FloatField(null=True, blank=True, help_text="Upper warning level (WARN above it).")
    hard_level = models.FloatField(null=True, blank=True, help_text="Upper hard level (BREACH above it).")
    lower_warning = models.FloatField(null=True, blank=True, help_text="Lower warning level (WARN below it).")
    lower_hard = models.FloatField(null=True, blank=True, help_text="Lower hard level (BREACH below it).")
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio_id", "metric", "factor", "underlying"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "metric", "factor", "underlying"], name="risk_limit_unique_subject"
            )
        ]

    def __str__(self) -> str:
        subject = self.factor or self.underlying
        return f"{self.metric}{f' ({subject})' if subject else ''} on {self.portfolio_id}"


class AlertEvent(models.TextChoices):
    BREACH = "breach", "New breach"
    RESOLVED = "resolved", "Back to OK"


class Alert(models.Model):
    """A limit's change of state found by the batch: a new breach, or its return to OK. One per limit, day and
    event, so a rerun of the same day creates none. Acknowledged with a note; kept as history."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="alerts")
    limit = models.ForeignKey(RiskLimit, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    limit_label = models.CharField(max_length=200, help_text="The limit as it was (kept if it is deleted).")
    as_of = models.DateField(db_index=True)
    event = models.CharField(max_length=20, choices=AlertEvent.choices)
    status = models.CharField(max_length=10, help_text="The limit's status that day (OK, WARN, BREACH).")
    previous_status = models.CharField(max_length=10, blank=True, default="")
    value = models.FloatField(null=True, blank=True)
    warning_level = models.FloatField(null=True, blank=True)
    hard_level = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "portfolios.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledgement_note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-as_of", "-created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["limit", "as_of", "event"], name="alert_unique_limit_day_event")]

    def __str__(self) -> str:
        return f"{self.event} {self.limit_label} {self.as_of}"


class AlertDelivery(models.Model):
    """One notification of an alert (email or webhook) and how it went: attempts, last response, error."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20)  # "email" | "webhook"
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=20)  # "delivered" | "failed"
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alert_id", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} ({self.attempts} attempts)"

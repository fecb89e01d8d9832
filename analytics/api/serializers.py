"""Input and output serializers of the analytics API.

Stored payloads are passed through as JSON (their shapes are documented per kind in
``analytics.selectors``); the envelope around them — portfolio id, kind and provenance — is typed
here so the OpenAPI schema says what every answer carries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.models import SNAPSHOT_VALUE_FIELDS, BatchJob, BatchRun, PortfolioSnapshot
from analytics.selectors import provenance
from analytics.services.batch import STEPS
from portfolios.api.serializers import StrictInputSerializer

# Batch dates outside this range are refused before a run row is written.
EARLIEST_BATCH_DATE = dt.date(1990, 1, 1)
MAX_BATCH_PORTFOLIOS = 1000


# --- inputs ---------------------------------------------------------------------------------


class AsOfInputSerializer(serializers.Serializer):
    """``?as_of=``: read the newest result on or before this day instead of the newest overall."""

    as_of = serializers.DateField(required=False, help_text="YYYY-MM-DD; the newest result on or before it.")


class SnapshotRangeInputSerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD), inclusive.")
    end = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD), inclusive.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"start": ["start must not be after end."]})
        return attrs


class BatchRunInputSerializer(StrictInputSerializer):
    as_of = serializers.DateField(
        required=False, help_text="Trading day to compute (default: the latest completed session)."
    )
    portfolio_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_empty=False,
        max_length=MAX_BATCH_PORTFOLIOS,
        help_text="Only these portfolios (default: all).",
    )
    steps = serializers.ListField(
        child=serializers.ChoiceField(choices=list(STEPS)),
        required=False,
        allow_empty=False,
        max_length=len(STEPS),
        help_text=f"Steps to run (default: all): {', '.join(STEPS)}.",
    )

    def validate_as_of(self, value: dt.date) -> dt.date:
        if value < EARLIEST_BATCH_DATE or value > timezone.localdate():
            raise serializers.ValidationError(f"as_of must be between {EARLIEST_BATCH_DATE} and today.")
        return value


# --- provenance and results -----------------------------------------------------------------


class ProvenanceSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="The trading day the result describes.")
    method = serializers.CharField(help_text="How it was computed.")
    lookback_days = serializers.IntegerField(allow_null=True, help_text="History used, in sessions.")
    data_source = serializers.CharField(help_text="Price source: simulated, fmp, polygon, csv or mixed:a+b.")
    inputs = serializers.JSONField(help_text="What produced the result (parameters, prices, dates).")
    is_stale = serializers.BooleanField(help_text="Computed on prices older than as_of.")
    stale_reason = serializers.CharField(allow_blank=True)
    computed_at = serializers.DateTimeField(allow_null=True)


class ResultOutputSerializer(serializers.Serializer):
    """A stored portfolio result: ``data`` is the payload of ``kind`` (shapes in analytics.selectors)."""

    portfolio_id = serializers.UUIDField()
    kind = serializers.CharField()
    provenance = ProvenanceSerializer()
    data = serializers.JSONField(help_text="The stored payload of this kind.")


class MarketBetaSerializer(serializers.Serializer):
    beta = serializers.FloatField(allow_null=True, help_text="Multivariate market beta of the portfolio.")
    univariate = serializers.FloatField(allow_null=True, help_text="Univariate beta to SPY.")
    as_of = serializers.DateField()


class MarketRiskOutputSerializer(ResultOutputSerializer):
    market_beta = MarketBetaSerializer(
        allow_null=True, help_text="From the factor_exposure result; null when factors were not computed."
    )


class OverviewExposuresSerializer(serializers.Serializer):
    long = serializers.FloatField()
    short = serializers.FloatField(help_text="Negative.")
    gross = serializers.FloatField()
    net = serializers.FloatField()
    delta_adjusted = serializers.FloatField(allow_null=True)
    options = serializers.FloatField(allow_null=True)
    stocks = serializers.FloatField(allow_null=True)


class OverviewPnlSerializer(serializers.Serializer):
    unrealised = serializers.FloatField(allow_null=True, help_text="Market value − cost basis of open positions.")
    daily = serializers.FloatField(allow_null=True)
    daily_return = serializers.FloatField(allow_null=True, help_text="Decimal (0.01 = 1%).")
    cumulative = serializers.FloatField(allow_null=True)
    as_of = serializers.DateField(allow_null=True, help_text="Day of the snapshot the daily figures come from.")


class OverviewCountsSerializer(serializers.Serializer):
    positions = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField())


class OverviewPortfolioSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    equity_balance = serializers.FloatField(allow_null=True)


class OverviewOutputSerializer(serializers.Serializer):
    portfolio = OverviewPortfolioSerializer()
    as_of = serializers.DateField()
    value = serializers.FloatField(help_text="Net market value of the positions.")
    equity_balance = serializers.FloatField(allow_null=True)
    cash = serializers.FloatField(allow_null=True, help_text="equity − long + |short|.")
    leverage = serializers.FloatField(allow_null=True, help_text="gross / equity.")
    exposures = OverviewExposuresSerializer()
    pnl = OverviewPnlSerializer()
    counts = OverviewCountsSerializer()
    missing_prices = serializers.ListField(child=serializers.CharField())
    expired_options = serializers.ListField(child=serializers.CharField())
    provenance = ProvenanceSerializer()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def overview_output(*, portfolio: Any, result: Any, snapshot: PortfolioSnapshot | None) -> dict[str, Any]:
    """The overview answer (JSON-ready, shaped as :class:`OverviewOutputSerializer`) from the stored
    ``overview`` payload and the snapshot of the same day or earlier."""
    p = result.payload
    return {
        "portfolio": {
            "id": str(portfolio.pk),
            "name": portfolio.name,
            "equity_balance": _float(portfolio.equity_balance),
        },
        "as_of": result.as_of.isoformat(),
        "value": p.get("market_value"),
        "equity_balance": p.get("equity_balance"),
        "cash": p.get("cash"),
        "leverage": p.get("leverage"),
        "exposures": {
            "long": p.get("long_exposure"),
            "short": p.get("short_exposure"),
            "gross": p.get("gross_exposure"),
            "net": p.get("net_exposure"),
            "delta_adjusted": p.get("delta_adjusted_exposure"),
            "options": p.get("options_exposure"),
            "stocks": p.get("stock_exposure"),
        },
        "pnl": {
            "unrealised": p.get("unrealised_pnl"),
            "daily": snapshot.daily_pnl if snapshot else None,
            "daily_return": snapshot.daily_return if snapshot else None,
            "cumulative": snapshot.cumulative_pnl if snapshot else None,
            "as_of": snapshot.as_of.isoformat() if snapshot else None,
        },
        "counts": {"positions": p.get("position_count", 0), "by_type": p.get("counts_by_type", {})},
        "missing_prices": p.get("missing_prices", []),
        "expired_options": p.get("expired_options", []),
        "provenance": provenance(result),
    }


class SnapshotOutputSerializer(serializers.ModelSerializer):
    """One day's end-of-day state of a portfolio (USD), with its provenance."""

    provenance = serializers.SerializerMethodField()

    class Meta:
        model = PortfolioSnapshot
        fields = ["as_of", *SNAPSHOT_VALUE_FIELDS, "provenance"]
        read_only_fields = fields

    @extend_schema_field(ProvenanceSerializer)
    def get_provenance(self, snapshot: PortfolioSnapshot) -> dict[str, Any]:
        return provenance(snapshot)


# --- batch admin ----------------------------------------------------------------------------


class BatchJobOutputSerializer(serializers.ModelSerializer):
    portfolio_id = serializers.UUIDField(allow_null=True)
    portfolio_name = serializers.CharField(source="portfolio.name", allow_null=True, default=None)

    class Meta:
        model = BatchJob
        fields = [
            "id",
            "sequence",
            "step",
            "portfolio_id",
            "portfolio_name",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "rows_written",
            "error_summary",
        ]
        read_only_fields = fields


class BatchRunOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchRun
        fields = [
            "id",
            "as_of",
            "status",
            "steps",
            "portfolio_ids",
            "trigger",
            "mode",
            "data_source",
            "started_at",
            "finished_at",
            "duration_ms",
            "error_summary",
            "created_at",
        ]
        read_only_fields = fields


class BatchRunDetailOutputSerializer(BatchRunOutputSerializer):
    jobs = serializers.SerializerMethodField()

    class Meta(BatchRunOutputSerializer.Meta):
        fields = [*BatchRunOutputSerializer.Meta.fields, "jobs"]
        read_only_fields = fields

    @extend_schema_field(BatchJobOutputSerializer(many=True))
    def get_jobs(self, run: BatchRun) -> list[dict[str, Any]]:
        return BatchJobOutputSerializer(self.context.get("jobs", []), many=True).data

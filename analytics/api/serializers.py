"""Input and output serializers of the analytics API.

A result endpoint's answer is documented by :func:`result_output_serializer`: the envelope (portfolio
id, kind, provenance) around ``data``, whose serializer is derived from the kind's declared payload
type (``core.typed_serializers``), plus the kind's extra fields — so the OpenAPI schema documents
every field of every answer from the one declaration.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.models import BatchJob, BatchRun
from analytics.results.base import ResultSpec
from analytics.results.common import Provenance
from analytics.services.batch import steps_all, steps_resolve
from core.query import QueryDateField
from core.typed_serializers import typed_dict_serializer
from portfolios.api.serializers import StrictInputSerializer

# Batch dates outside this range are refused before a run row is written.
EARLIEST_BATCH_DATE = dt.date(1990, 1, 1)
MAX_BATCH_PORTFOLIOS = 1000


# --- inputs ---------------------------------------------------------------------------------


class AsOfInputSerializer(serializers.Serializer):
    """``?as_of=``: read the newest result on or before this day instead of the newest overall."""

    as_of = QueryDateField(required=False, help_text="YYYY-MM-DD; the newest result on or before it.")


class SnapshotRangeInputSerializer(serializers.Serializer):
    start = QueryDateField(required=False, help_text="First day (YYYY-MM-DD), inclusive.")
    end = QueryDateField(required=False, help_text="Last day (YYYY-MM-DD), inclusive.")

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
        child=serializers.CharField(max_length=40),
        required=False,
        allow_empty=False,
        max_length=50,
        help_text=f"Steps to run (default: all): {', '.join(steps_all())}; a kind's earlier name is accepted.",
    )

    def validate_steps(self, value: list[str]) -> list[str]:
        try:
            return steps_resolve(value)[0]
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_as_of(self, value: dt.date) -> dt.date:
        if value < EARLIEST_BATCH_DATE or value > timezone.localdate():
            raise serializers.ValidationError(f"as_of must be between {EARLIEST_BATCH_DATE} and today.")
        return value


# --- provenance and results -----------------------------------------------------------------


ProvenanceSerializer = typed_dict_serializer(Provenance)

_RESULT_SERIALIZERS: dict[ResultSpec[Any, Any], type[serializers.Serializer]] = {}


def result_output_serializer(spec: ResultSpec[Any, Any]) -> type[serializers.Serializer]:
    """The serializer documenting a result endpoint's answer: ``portfolio_id``, ``kind``, ``provenance`` and
    ``data`` (the kind's payload type), then the kind's extra fields (its ``api_extra_type``). One per kind,
    named ``<Kind>Result`` in the schema."""
    cached = _RESULT_SERIALIZERS.get(spec)
    if cached is not None:
        return cached
    fields: dict[str, Any] = {
        "portfolio_id": serializers.UUIDField(),
        "kind": serializers.CharField(help_text=f"Always {spec.name}."),
        "provenance": ProvenanceSerializer(),
        "data": typed_dict_serializer(spec.payload_type)(help_text=f"The stored {spec.name} payload."),
    }
    if spec.api_extra_type is not None:
        fields.update(copy.deepcopy(typed_dict_serializer(spec.api_extra_type)._declared_fields))
    name = "".join(part.title() for part in spec.name.split("_")) + "Result"
    serializer = type(name, (serializers.Serializer,), {**fields, "__doc__": spec.summary, "__module__": __name__})
    _RESULT_SERIALIZERS[spec] = serializer
    return serializer


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
    def get_jobs(self, run: BatchRun) -> Any:
        return BatchJobOutputSerializer(self.context.get("jobs", []), many=True).data

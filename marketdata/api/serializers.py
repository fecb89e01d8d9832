"""Serializers of the market data API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.query import QueryDateField
from marketdata.models import PriceBar


class PriceBarOutputSerializer(serializers.ModelSerializer):
    """One daily bar; prices per share, ``adjusted_close`` adjusted for splits (and dividends, per provider)."""

    adjusted_close = serializers.FloatField(source="adj_close")

    class Meta:
        model = PriceBar
        fields = ["symbol", "date", "open", "high", "low", "close", "adjusted_close", "volume", "source"]
        read_only_fields = fields


class PriceRangeInputSerializer(serializers.Serializer):
    """Query parameters of the prices endpoint: an inclusive date range, either end open."""

    start = QueryDateField(required=False, help_text="First date (YYYY-MM-DD), inclusive.")
    end = QueryDateField(required=False, help_text="Last date (YYYY-MM-DD), inclusive.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"start": ["start must not be after end."]})
        return attrs

"""Input and output serializers of the auth and data API.

Input serializers only check types and sizes (so that nothing out of the database's range gets
through); the business rules live in ``portfolios.validation`` / ``portfolios.services`` and come
back as per-field 400s. Numbers are JSON numbers, not strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portfolios.models import AssetClass, Portfolio, Position, PositionType
from portfolios.validation import NUMBER_BOUNDS

MONEY: dict[str, Any] = {"max_digits": 20, "decimal_places": 2, "coerce_to_string": False}
QUANTITY: dict[str, Any] = {"max_digits": 20, "decimal_places": 6, "coerce_to_string": False}
# Input bounds keep integer digits + decimal places within max_digits even after SQLite's float
# round trip (a 20-digit value comes back as a float that no longer fits the column).
MONEY_IN: dict[str, Any] = {**MONEY, "min_value": Decimal(0), "max_value": Decimal("1e15")}


def bounded(field: str) -> dict[str, Any]:
    """DecimalField arguments of a position's numeric ``field`` from the one validation's bounds."""
    bounds = NUMBER_BOUNDS[field]
    return {
        "max_digits": bounds.max_digits,
        "decimal_places": bounds.decimal_places,
        "coerce_to_string": False,
        "min_value": bounds.min_value,
        "max_value": bounds.max_value,
    }


class StrictInputSerializer(serializers.Serializer):
    """Rejects fields it does not know instead of silently dropping them (a typo should not pass)."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# --- auth -----------------------------------------------------------------------------------


class LoginInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, trim_whitespace=True)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class LogoutInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)
    all_sessions = serializers.BooleanField(
        default=False, help_text="Revoke every refresh token of the user, not only this one."
    )


class TokenOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(help_text='Always "bearer".')
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class MeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    portfolio_count = serializers.IntegerField()


# --- portfolios -----------------------------------------------------------------------------


class PortfolioOutputSerializer(serializers.ModelSerializer):
    equity_balance = serializers.DecimalField(allow_null=True, **MONEY)
    position_count = serializers.IntegerField(help_text="Open positions (no exit date).")

    class Meta:
        model = Portfolio
        fields = [
            "id",
            "name",
            "description",
            "currency",
            "equity_balance",
            "benchmark_symbol",
            "position_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PortfolioCreateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, default="USD", help_text="ISO 4217 code.")
    equity_balance = serializers.DecimalField(required=False, allow_null=True, default=None, **MONEY_IN)
    benchmark_symbol = serializers.CharField(
        max_length=20, required=False, default="SPY", help_text="Tracking-error benchmark: a symbol with stored prices."
    )


class PortfolioUpdateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    equity_balance = serializers.DecimalField(required=False, allow_null=True, **MONEY_IN)
    benchmark_symbol = serializers.CharField(
        max_length=20, required=False, help_text="Tracking-error benchmark: a symbol with stored prices."
    )


# --- positions ------------------------------------------------------------------------------


class PositionWriteFields(StrictInputSerializer):
    """Position fields a client may send; every one optional here, the service decides what is required."""

    symbol = serializers.CharField(max_length=40, required=False, allow_blank=True)
    position_type = serializers.ChoiceField(choices=PositionType.choices, required=False)
    asset_class = serializers.ChoiceField(choices=AssetClass.choices, required=False)
    quantity = serializers.DecimalField(required=False, **bounded("quantity"))
    entry_price = serializers.DecimalField(required=False, **bounded("entry_price"))
    entry_date = serializers.DateField(required=False)
    exit_price = serializers.DecimalField(required=False, allow_null=True, **bounded("exit_price"))
    exit_date = serializers.DateField(required=False, allow_null=True)
    underlying_symbol = serializers.CharField(max_length=20, required=False, allow_blank=True)
    strike = serializers.DecimalField(required=False, allow_null=True, **bounded("strike"))
    expiration = serializers.DateField(required=False, allow_null=True)
    multiplier = serializers.DecimalField(required=False, **bounded("multiplier"))
    notes = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False, help_text="Tag names."
    )


class PositionCreateInputSerializer(PositionWriteFields):
    symbol = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="Ticker; for options it may be left out (OCC)."
    )
    position_type = serializers.ChoiceField(choices=PositionType.choices)
    quantity = serializers.DecimalField(help_text="Signed: negative for short positions.", **bounded("quantity"))
    entry_price = serializers.DecimalField(help_text="Per share (premium per share).", **bounded("entry_price"))
    entry_date = serializers.DateField()


class PositionUpdateInputSerializer(PositionWriteFields):
    pass


ORDERING_FIELDS = ("symbol", "quantity", "entry_date", "position_type", "entry_price", "created_at")


class PositionFilterSerializer(serializers.Serializer):
    """Query parameters of the positions list."""

    position_type = serializers.ChoiceField(choices=PositionType.choices, required=False)
    tag = serializers.CharField(max_length=100, required=False, help_text="Tag name (exact, case-insensitive).")
    symbol = serializers.CharField(max_length=40, required=False, help_text="Symbol or underlying symbol.")
    status = serializers.ChoiceField(
        choices=["open", "closed", "all"], required=False, default="all", help_text="Open: no exit date."
    )
    ordering = serializers.CharField(
        max_length=200,
        required=False,
        help_text=f"Comma-separated, '-' for descending; fields: {', '.join(ORDERING_FIELDS)}.",
    )

    def validate_ordering(self, value: str) -> list[str]:
        keys = [part.strip() for part in value.split(",") if part.strip()]
        bad = [k for k in keys if k.lstrip("-") not in ORDERING_FIELDS]
        if bad:
            raise serializers.ValidationError(
                f"Cannot order by {', '.join(bad)}; choose from {', '.join(ORDERING_FIELDS)}."
            )
        return keys


class PositionOutputSerializer(serializers.ModelSerializer):
    """A position with its market fields.

    Context: ``fields`` maps position id → the fields other apps add (``portfolios.api.extensions``):
    the market fields documented here, and extra ones (the batch's Greeks) merged over each item.
    """

    portfolio_id = serializers.UUIDField()
    quantity = serializers.DecimalField(**QUANTITY)
    entry_price = serializers.DecimalField(**QUANTITY)
    exit_price = serializers.DecimalField(allow_null=True, **QUANTITY)
    strike = serializers.DecimalField(allow_null=True, **QUANTITY)
    multiplier = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=False)
    tags = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()
    price_date = serializers.SerializerMethodField()
    market_value = serializers.SerializerMethodField()
    unrealised_pnl = serializers.SerializerMethodField()
    data_source = serializers.SerializerMethodField()
    price_note = serializers.SerializerMethodField()

    class Meta:
        model = Position
        fields = [
            "id",
            "portfolio_id",
            "symbol",
            "position_type",
            "asset_class",
            "quantity",
            "entry_price",
            "entry_date",
            "exit_price",
            "exit_date",
            "underlying_symbol",
            "strike",
            "expiration",
            "multiplier",
            "notes",
            "tags",
            "price",
            "price_date",
            "market_value",
            "unrealised_pnl",
            "data_source",
            "price_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _market(self, position: Position) -> dict[str, Any]:
        fields: dict[str, Any] = self.context.get("fields", {}).get(position.pk, {})
        return fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, position: Position) -> list[str]:
        # Uses the prefetched tags; sorted in Python so the prefetch is not re-queried.
        return sorted(tag.name for tag in position.tags.all())

    @extend_schema_field(serializers.FloatField(allow_null=True, help_text="Latest close per share."))
    def get_price(self, position: Position) -> float | None:
        return self._market(position).get("price")

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_price_date(self, position: Position) -> str | None:
        return self._market(position).get("price_date")

    @extend_schema_field(serializers.FloatField(allow_null=True, help_text="quantity × price × multiplier."))
    def get_market_value(self, position: Position) -> float | None:
        return self._market(position).get("market_value")

    @extend_schema_field(
        serializers.FloatField(allow_null=True, help_text="(price − entry_price) × quantity × multiplier.")
    )
    def get_unrealised_pnl(self, position: Position) -> float | None:
        return self._market(position).get("unrealised_pnl")

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Price provider, e.g. simulated."))
    def get_data_source(self, position: Position) -> str | None:
        return self._market(position).get("data_source")

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Why the price fields are null."))
    def get_price_note(self, position: Position) -> str | None:
        return self._market(position).get("price_note")

    def to_representation(self, instance: Position) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        data.update(self._market(instance))
        return data


class PositionImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: symbol, position_type, quantity, entry_price, entry_date, …")


class PositionImportOutputSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    positions = PositionOutputSerializer(many=True)

"""Admin for data inspection: users, portfolios with their positions inline, positions, tags."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from portfolios.models import Portfolio, Position, Tag, User
from portfolios.services import benchmark_symbol_clean
from portfolios.validation import PositionInput, position_input_from_raw

POSITION_FIELDS = tuple(PositionInput.__dataclass_fields__)


class PositionAdminForm(forms.ModelForm):
    """The admin's position form, checked by the one validation every other entry point uses.

    Fields the form does not show (the inline shows a subset) take the position's current values;
    the normalised values (upper-case symbols, a rebuilt OCC symbol) are what get saved.
    """

    class Meta:
        model = Position
        fields = ("portfolio", *POSITION_FIELDS, "tags")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:  # a field already failed its own type check; the rules need every value
            return cleaned
        raw: dict[str, Any] = {name: getattr(self.instance, name) for name in POSITION_FIELDS}
        raw.update({name: value for name, value in cleaned.items() if name in POSITION_FIELDS})
        try:
            checked = position_input_from_raw(raw)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
            return cleaned
        for name, value in asdict(checked).items():
            if name in self.fields:
                cleaned[name] = value
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "portfolio_count", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(_portfolio_count=Count("portfolios"))

    @admin.display(description="Portfolios", ordering="_portfolio_count")
    def portfolio_count(self, obj: User) -> int:
        return obj._portfolio_count  # type: ignore[attr-defined]


class PositionInline(admin.TabularInline):
    model = Position
    form = PositionAdminForm
    extra = 0
    fields = (
        "symbol",
        "position_type",
        "quantity",
        "entry_price",
        "entry_date",
        "underlying_symbol",
        "strike",
        "expiration",
        "multiplier",
        "exit_date",
    )
    show_change_link = True


class PortfolioAdminForm(forms.ModelForm):
    """The benchmark symbol validated as the API validates it (stored prices, upper case)."""

    class Meta:
        model = Portfolio
        fields = ["user", "name", "description", "currency", "equity_balance", "benchmark_symbol"]

    def clean_benchmark_symbol(self) -> str:
        try:
            return benchmark_symbol_clean(self.cleaned_data.get("benchmark_symbol"))
        except ValidationError as exc:  # the service names the field; the form wants the field's messages
            raise ValidationError(exc.message_dict["benchmark_symbol"]) from None


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    form = PortfolioAdminForm
    list_display = ("name", "user", "equity_balance", "benchmark_symbol", "position_count", "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__email", "id")
    list_filter = ("currency", "created_at")
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [PositionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Portfolio]:
        return super().get_queryset(request).annotate(_position_count=Count("positions"))

    @admin.display(description="Positions", ordering="_position_count")
    def position_count(self, obj: Portfolio) -> int:
        return obj._position_count  # type: ignore[attr-defined]


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    form = PositionAdminForm
    list_display = (
        "symbol",
        "position_type",
        "quantity",
        "entry_price",
        "entry_date",
        "underlying_symbol",
        "strike",
        "expiration",
        "portfolio",
    )
    list_select_related = ("portfolio",)
    list_filter = ("position_type", "asset_class", "portfolio", "tags")
    search_fields = ("symbol", "underlying_symbol", "portfolio__name", "tags__name")
    filter_horizontal = ("tags",)
    readonly_fields = ("id", "created_at", "updated_at")
    date_hierarchy = "entry_date"


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "tag_type", "user", "color", "position_count")
    list_editable = ("tag_type", "color")
    list_select_related = ("user",)
    list_filter = ("tag_type",)
    search_fields = ("name", "user__email")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(_position_count=Count("positions"))

    @admin.display(description="Positions", ordering="_position_count")
    def position_count(self, obj: Tag) -> int:
        return obj._position_count  # type: ignore[attr-defined]

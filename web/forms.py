"""Forms of the positions pages; their data goes through the API's own validation.

One validation for every way data enters (DESIGN §6): a form here only collects text. Saving runs
the API's input serializer (types and sizes) and then ``portfolios.services`` (the position rules of
``portfolios.validation``), exactly as ``POST/PATCH /api/v1/data/...positions`` do, and puts their
per-field messages back on the form. CSV files go to the same ``positions_import_csv`` service as
the API's import, with its per-row errors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portfolios import services
from portfolios.api.serializers import PositionCreateInputSerializer, PositionUpdateInputSerializer
from portfolios.api.views import CSV_MAX_BYTES
from portfolios.models import Portfolio, Position, PositionType

# Fields a client may clear on an edit: sent as null (or "") rather than left out.
NULLABLE_FIELDS = ("strike", "expiration", "exit_price", "exit_date")
BLANKABLE_FIELDS = ("symbol", "underlying_symbol", "notes")


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", **attrs})


def _decimal_text(value: Decimal | None) -> str:
    """A stored decimal as the user typed it: ``1500`` not ``1500.000000``."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


def _flatten(errors: Any) -> list[str]:
    """Messages of a serializer or ``ValidationError`` error value (lists, nested dicts, details)."""
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _flatten(value)]
    if isinstance(errors, list | tuple):
        return [message for value in errors for message in _flatten(value)]
    return [str(errors)]


def form_errors_add(form: forms.Form, errors: dict[str, Any]) -> None:
    """Put the API's per-field errors on the form; unknown fields and ``non_field_errors`` on top."""
    for field, value in errors.items():
        target = field if field in form.fields else None
        for message in _flatten(value):
            form.add_error(target, message if target or field == "non_field_errors" else f"{field}: {message}")


class PositionForm(forms.Form):
    """Add or edit a position. Every field is optional here: what is required, and every other
    rule, is decided by the API's serializer and the position services when the form is saved."""

    position_type = forms.ChoiceField(label="Type", choices=PositionType.choices, initial=PositionType.LONG)
    symbol = forms.CharField(
        label="Symbol",
        required=False,
        max_length=40,
        widget=_text(placeholder="AAPL", autocapitalize="characters"),
        help_text="Options: leave empty to use the OCC symbol built from the contract terms.",
    )
    quantity = forms.CharField(
        label="Quantity",
        required=False,
        widget=_text(inputmode="decimal", placeholder="100"),
        help_text="Signed: negative for short stock, short calls and short puts.",
    )
    entry_price = forms.CharField(
        label="Entry price", required=False, widget=_text(inputmode="decimal", placeholder="187.50")
    )
    entry_date = forms.CharField(label="Entry date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    underlying_symbol = forms.CharField(
        label="Underlying", required=False, max_length=20, widget=_text(placeholder="options only")
    )
    strike = forms.CharField(label="Strike", required=False, widget=_text(inputmode="decimal"))
    expiration = forms.CharField(label="Expiration", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    multiplier = forms.CharField(
        label="Multiplier", required=False, widget=_text(inputmode="decimal", placeholder="1 (stocks), 100 (options)")
    )
    tags = forms.CharField(
        label="Tags", required=False, widget=_text(placeholder="Core, Tech"), help_text="Separated by commas."
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @classmethod
    def for_position(cls, position: Position) -> PositionForm:
        """An unbound form showing the position as stored."""
        return cls(
            initial={
                "position_type": position.position_type,
                "symbol": position.symbol,
                "quantity": _decimal_text(position.quantity),
                "entry_price": _decimal_text(position.entry_price),
                "entry_date": position.entry_date.isoformat(),
                "underlying_symbol": position.underlying_symbol,
                "strike": _decimal_text(position.strike),
                "expiration": position.expiration.isoformat() if position.expiration else "",
                "multiplier": _decimal_text(position.multiplier),
                "tags": ", ".join(sorted(tag.name for tag in position.tags.all())),
                "notes": position.notes,
            }
        )

    def api_data(self, *, partial: bool) -> dict[str, Any]:
        """The cleaned text as the API's JSON body: blanks left out (create) or cleared (edit)."""
        data: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            text = str(value or "").strip()
            if name == "tags":
                tags = [t.strip() for t in text.split(",") if t.strip()]
                if tags or partial:
                    data["tags"] = tags
            elif text:
                data[name] = text
            elif partial and name in NULLABLE_FIELDS:
                data[name] = None
            elif partial and name in BLANKABLE_FIELDS:
                data[name] = ""
        return data


def position_form_save(
    form: PositionForm, *, portfolio: Portfolio | None = None, position: Position | None = None
) -> Position | None:
    """Create (``portfolio``) or change (``position``) a position from a valid form, through the
    API's serializer and the position services; on a rule failure the errors go on the form and
    nothing is written (the services are atomic)."""
    partial = position is not None
    serializer_class = PositionUpdateInputSerializer if partial else PositionCreateInputSerializer
    serializer = serializer_class(data=form.api_data(partial=partial))
    if not serializer.is_valid():
        form_errors_add(form, serializer.errors)
        return None
    try:
        if position is not None:
            return services.position_update(position=position, **serializer.validated_data)
        assert portfolio is not None
        return services.position_create(portfolio=portfolio, **serializer.validated_data)
    except ValidationError as exc:
        form_errors_add(form, exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
        return None


class ClosePositionForm(forms.Form):
    """Close a position at a price on a date (the API's ``exit_price`` and ``exit_date``)."""

    exit_price = forms.CharField(label="Exit price", widget=_text(inputmode="decimal"))
    exit_date = forms.CharField(label="Exit date", widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def for_position(cls, position: Position, *, price: float | None) -> ClosePositionForm:
        price_text = "" if price is None else f"{price:.4f}".rstrip("0").rstrip(".")
        return cls(initial={"exit_price": price_text, "exit_date": timezone.localdate().isoformat()})


def close_form_save(form: ClosePositionForm, *, position: Position) -> Position | None:
    """Close the position through the API's update serializer and ``position_update``."""
    data = {name: str(value).strip() for name, value in form.cleaned_data.items()}
    serializer = PositionUpdateInputSerializer(data=data)
    if not serializer.is_valid():
        form_errors_add(form, serializer.errors)
        return None
    try:
        return services.position_update(position=position, **serializer.validated_data)
    except ValidationError as exc:
        form_errors_add(form, exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
        return None


class PositionImportForm(forms.Form):
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(f"The CSV is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it.")
        return upload

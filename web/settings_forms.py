"""Forms of the access-token, limits and portfolio-settings pages; their data goes through the API's validation.

One validation for every way data enters (DESIGN §6): these forms only collect text. Saving runs the API's
input serializer (``LimitInputSerializer``, ``PortfolioUpdateInputSerializer``) and then the services
(``analytics.services.limits``, ``portfolios.services.portfolio_update``, ``agent.access.access_token_create``),
and puts their per-field messages back on the form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from agent.access import access_token_create
from agent.models import AccessToken
from analytics.api.limits import LimitInputSerializer
from analytics.models import LimitMetric, RiskLimit
from analytics.services import limits as limit_services
from core.exceptions import ApplicationError, ConflictError
from marketdata.factors import FACTOR_NAMES
from portfolios import services as portfolio_services
from portfolios.api.serializers import PortfolioUpdateInputSerializer
from portfolios.models import Portfolio, User
from web.forms import _decimal_text, form_errors_add

LEVEL_FIELDS = ("warning_level", "hard_level", "lower_warning", "lower_hard")


def _text(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", **attrs})


def _application_error_add(form: forms.Form, exc: ApplicationError) -> None:
    """An ``ApplicationError`` on the form: under each field its ``details`` name, else on top (a conflict's
    details are the clashing values, not messages: it goes on top)."""
    details = exc.details if isinstance(exc.details, dict) and not isinstance(exc, ConflictError) else {}
    if "field" in details:  # {"field": name}: the message names one field
        form.add_error(details["field"] if details["field"] in form.fields else None, exc.message)
        return
    fields = {name: message for name, message in details.items() if name in form.fields and isinstance(message, str)}
    if not fields:
        form.add_error(None, exc.message)
    for name, message in fields.items():
        form.add_error(name, message)


# --- personal access tokens ---------------------------------------------------------------------


class AccessTokenForm(forms.Form):
    """A new personal access token: a name, an optional last day, optionally some of the user's portfolios."""

    name = forms.CharField(
        label="Name", max_length=100, widget=_text(placeholder="Claude Desktop"), help_text="To tell tokens apart."
    )
    expires_on = forms.DateField(
        label="Expires",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: valid through that day (UTC). Blank: until revoked.",
    )
    portfolios = forms.ModelMultipleChoiceField(
        label="Portfolios",
        queryset=Portfolio.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Optional: none ticked means all your portfolios (including ones you add later).",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the user's own portfolios can be chosen: another id is "not one of the available choices".
        field: Any = self.fields["portfolios"]
        field.queryset = Portfolio.objects.filter(user=user).order_by("name")
        self.user = user

    def save(self) -> tuple[AccessToken, str] | None:
        """The new token and its raw value (shown once), or ``None`` with the service's errors on the form."""
        expires_on: dt.date | None = self.cleaned_data.get("expires_on")
        expires_at = (
            None
            if expires_on is None
            else dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC)
        )
        chosen: QuerySet[Portfolio] = self.cleaned_data.get("portfolios") or Portfolio.objects.none()
        try:
            return access_token_create(
                user=self.user,
                name=self.cleaned_data["name"],
                expires_at=expires_at,
                portfolio_ids=[p.pk for p in chosen],
            )
        except ApplicationError as exc:
            if isinstance(exc.details, dict) and exc.details.get("field") == "expires_at":
                self.add_error("expires_on", "The last day must not be in the past.")
            else:
                _application_error_add(self, exc)
            return None


# --- risk limits --------------------------------------------------------------------------------


class LimitForm(forms.Form):
    """Create or edit a risk limit; every rule is the API's (``LimitInputSerializer`` and ``limit_problems``)."""

    metric = forms.ChoiceField(label="Figure", choices=LimitMetric.choices)
    factor = forms.ChoiceField(
        label="Factor",
        required=False,
        choices=[("", "—"), *[(name, name) for name in FACTOR_NAMES]],
        help_text="factor_beta limits only.",
    )
    underlying = forms.CharField(
        label="Underlying",
        required=False,
        max_length=32,
        widget=_text(placeholder="NVDA", autocapitalize="characters"),
        help_text="underlying_dollar_delta only; blank: the largest underlying.",
    )
    warning_level = forms.CharField(label="Warning above", required=False, widget=_text(inputmode="decimal"))
    hard_level = forms.CharField(label="Breach above", required=False, widget=_text(inputmode="decimal"))
    lower_warning = forms.CharField(label="Warning below", required=False, widget=_text(inputmode="decimal"))
    lower_hard = forms.CharField(label="Breach below", required=False, widget=_text(inputmode="decimal"))
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    note = forms.CharField(label="Note", required=False, max_length=300, widget=_text())

    @classmethod
    def for_limit(cls, limit: RiskLimit) -> LimitForm:
        initial: dict[str, Any] = {
            "metric": limit.metric,
            "factor": limit.factor,
            "underlying": limit.underlying,
            "is_active": limit.is_active,
            "note": limit.note,
        }
        for name in LEVEL_FIELDS:
            value = getattr(limit, name)
            initial[name] = "" if value is None else format(value, "g")
        return cls(initial=initial)

    def api_data(self) -> dict[str, Any]:
        """The form as the API's JSON body: blank levels are null (no level), the rest as typed."""
        data: dict[str, Any] = {
            "metric": self.cleaned_data["metric"],
            "factor": self.cleaned_data.get("factor") or "",
            "underlying": (self.cleaned_data.get("underlying") or "").strip(),
            "is_active": bool(self.cleaned_data.get("is_active")),
            "note": (self.cleaned_data.get("note") or "").strip(),
        }
        for name in LEVEL_FIELDS:
            text = str(self.cleaned_data.get(name) or "").strip()
            data[name] = text or None
        return data

    def save(self, *, portfolio: Portfolio | None = None, limit: RiskLimit | None = None) -> RiskLimit | None:
        """Create on ``portfolio`` or change ``limit`` through the API's serializer and the limit services."""
        serializer = LimitInputSerializer(data=self.api_data())
        if not serializer.is_valid():
            form_errors_add(self, serializer.errors)
            return None
        try:
            if limit is not None:
                return limit_services.limit_update(limit=limit, **serializer.validated_data)
            assert portfolio is not None
            return limit_services.limit_create(portfolio=portfolio, **serializer.validated_data)
        except ApplicationError as exc:
            _application_error_add(self, exc)
            return None


# --- portfolio settings -------------------------------------------------------------------------


class PortfolioSettingsForm(forms.Form):
    """A portfolio's name, description, equity balance and benchmark (the API's PATCH rules)."""

    name = forms.CharField(label="Name", required=False, max_length=200, widget=_text())
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    equity_balance = forms.CharField(
        label="Equity balance (USD)",
        required=False,
        widget=_text(inputmode="decimal"),
        help_text="The capital that leverage and VaR as % of equity are measured against. Blank: none.",
    )
    benchmark_symbol = forms.CharField(
        label="Benchmark",
        required=False,
        max_length=20,
        widget=_text(autocapitalize="characters", placeholder="SPY"),
        help_text="Tracking-error benchmark: a symbol with stored prices, or a factor proxy.",
    )

    @classmethod
    def for_portfolio(cls, portfolio: Portfolio) -> PortfolioSettingsForm:
        return cls(
            initial={
                "name": portfolio.name,
                "description": portfolio.description,
                "equity_balance": _decimal_text(portfolio.equity_balance),
                "benchmark_symbol": portfolio.benchmark_symbol,
            }
        )

    def save(self, *, portfolio: Portfolio) -> Portfolio | None:
        data = {
            "name": str(self.cleaned_data.get("name") or "").strip(),
            "description": str(self.cleaned_data.get("description") or "").strip(),
            "equity_balance": str(self.cleaned_data.get("equity_balance") or "").strip() or None,
            "benchmark_symbol": str(self.cleaned_data.get("benchmark_symbol") or "").strip(),
        }
        serializer = PortfolioUpdateInputSerializer(data=data)
        if not serializer.is_valid():
            form_errors_add(self, serializer.errors)
            return None
        try:
            return portfolio_services.portfolio_update(portfolio=portfolio, **serializer.validated_data)
        except ValidationError as exc:
            form_errors_add(
                self, exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            )
            return None

"""The positions pages: the table (sort, filter), add, edit, close, delete, CSV import.

Writes go through ``web.forms`` — the API's serializers and ``portfolios.services`` — so a position
entered here obeys exactly the rules of one sent to the API or imported from a file.
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from portfolios import services
from portfolios.models import Portfolio, Position
from portfolios.selectors import position_filter_options
from web.forms import (
    ClosePositionForm,
    PositionForm,
    PositionImportForm,
    close_form_save,
    position_form_save,
)
from web.navigation import portfolio_tabs
from web.positions import PositionFilters, columns_present, positions_present
from web.views.common import parse_uuid, portfolio_page, position_page

TABLE_TARGET = "positions-table"


def _positions_url(portfolio_id: Any, query: str = "") -> str:
    url = reverse("web:positions", kwargs={"portfolio_id": portfolio_id})
    return f"{url}?{query}" if query else url


@portfolio_page
@require_http_methods(["GET", "HEAD"])
def positions(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    """The table; an htmx request from the filter bar or a header gets only the table back."""
    options = position_filter_options(portfolio=portfolio)
    filters = PositionFilters.from_query(request.GET, options)
    rows = positions_present(portfolio=portfolio, filters=filters)
    context = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="positions"),
        "rows": rows,
        "columns": columns_present(filters),
        "filters": filters,
        "options": options,
        "highlight": parse_uuid(request.GET.get("highlight")),
        "base_url": _positions_url(portfolio.pk),
    }
    htmx: Any = getattr(request, "htmx", None)
    partial = bool(htmx) and htmx.target == TABLE_TARGET and not htmx.history_restore_request
    response = render(request, "web/partials/positions_table.html" if partial else "web/positions.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _form_page(request: HttpRequest, portfolio: Portfolio, context: dict[str, Any]) -> HttpResponse:
    """A form page; a refused submission is shown again with its errors (200, as Django's form views do)."""
    context = {"portfolio": portfolio, "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="positions"), **context}
    return render(request, context.pop("template"), context)


@portfolio_page
@require_http_methods(["GET", "HEAD", "POST"])
def position_new(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    form = PositionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        position = position_form_save(form, portfolio=portfolio)
        if position is not None:
            messages.success(request, f"Added {position.symbol} ({position.get_position_type_display().lower()}).")
            return redirect(_positions_url(portfolio.pk, f"highlight={position.pk}"))
    context = {"template": "web/positions/form.html", "form": form, "title": "Add a position"}
    return _form_page(request, portfolio, context)


@position_page
@require_http_methods(["GET", "HEAD", "POST"])
def position_edit(request: HttpRequest, position: Position) -> HttpResponse:
    form = PositionForm(request.POST) if request.method == "POST" else PositionForm.for_position(position)
    if request.method == "POST" and form.is_valid():
        saved = position_form_save(form, position=position)
        if saved is not None:
            messages.success(request, f"Saved {saved.symbol}.")
            return redirect(_positions_url(position.portfolio_id, f"highlight={saved.pk}&status=all"))
    context = {
        "template": "web/positions/form.html",
        "form": form,
        "title": f"Edit {position.symbol}",
        "position": position,
    }
    return _form_page(request, position.portfolio, context)


def _current_price(position: Position) -> float | None:
    rows = positions_present(
        portfolio=position.portfolio,
        filters=PositionFilters(underlying=position.underlying_symbol or position.symbol, status="all"),
    )
    row = next((r for r in rows if str(r["id"]) == str(position.pk)), None)
    return None if row is None else row.get("price")


@position_page
@require_http_methods(["GET", "HEAD", "POST"])
def position_close(request: HttpRequest, position: Position) -> HttpResponse:
    price = _current_price(position)
    if request.method == "POST":
        form = ClosePositionForm(request.POST)
        if form.is_valid() and close_form_save(form, position=position) is not None:
            messages.success(request, f"Closed {position.symbol} on {position.exit_date}.")
            return redirect(_positions_url(position.portfolio_id, f"highlight={position.pk}&status=closed"))
    else:
        form = ClosePositionForm.for_position(position, price=price)
    context = {"template": "web/positions/close.html", "form": form, "position": position, "price": price}
    return _form_page(request, position.portfolio, context)


@position_page
@require_http_methods(["GET", "HEAD", "POST"])
def position_delete(request: HttpRequest, position: Position) -> HttpResponse:
    if request.method == "POST":
        services.position_delete(position=position)
        messages.success(request, f"Deleted {position.symbol}.")
        return redirect(_positions_url(position.portfolio_id))
    context = {"template": "web/positions/delete.html", "position": position}
    return _form_page(request, position.portfolio, context)


@portfolio_page
@require_http_methods(["GET", "HEAD", "POST"])
def positions_import(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    """CSV import through the API's service: all rows or none, every bad row listed by line."""
    form = PositionImportForm(request.POST or None, request.FILES or None)
    row_errors: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        try:
            created = services.positions_import_csv(portfolio=portfolio, content=form.cleaned_data["file"].read())
        except services.CsvImportError as exc:
            row_errors = [
                {"line": line, "field": field, "message": message}
                for line, fields in sorted(exc.rows.items(), key=lambda item: int(item[0]))
                for field, field_messages in fields.items()
                for message in field_messages
            ]
            form.add_error(None, f"{len(exc.rows)} row(s) rejected; nothing was imported. Fix them and upload again.")
        except ValidationError as exc:
            form.add_error("file", exc.messages[0])
        except csv.Error as exc:
            form.add_error("file", f"The file is not readable as CSV: {exc}")
        else:
            messages.success(request, f"Imported {len(created)} position{'s' if len(created) != 1 else ''}.")
            return redirect(_positions_url(portfolio.pk))
    context = {"template": "web/positions/import.html", "form": form, "row_errors": row_errors}
    return _form_page(request, portfolio, context)

"""``/api/v1/data``: the caller's portfolios and positions, and CSV import.

Every lookup goes through a selector scoped to ``request.user``, so another user's id is a 404
whatever the caller's role (staff included: the admin is where staff see everything). Writes go
through ``portfolios.services`` so the API obeys the same rules as the commands and the admin.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from core.parsers import SafeJSONParser
from core.response_cache import CachedReadMixin
from core.users import request_user
from portfolios import selectors, services
from portfolios.api.extensions import position_fields
from portfolios.api.serializers import (
    PortfolioCreateInputSerializer,
    PortfolioOutputSerializer,
    PortfolioUpdateInputSerializer,
    PositionCreateInputSerializer,
    PositionFilterSerializer,
    PositionImportOutputSerializer,
    PositionOutputSerializer,
    PositionUpdateInputSerializer,
)
from portfolios.models import Position

CSV_MAX_BYTES = 5 * 1024 * 1024
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (default 50, at most 500)."),
]


def positions_output(*, positions: Sequence[Position], many: bool = True) -> Any:
    """Serialize positions with the fields other apps add (price, market value, P&L, the batch's Greeks:
    ``portfolios.api.extensions``), read once for all of them."""
    positions = list(positions)
    serializer = PositionOutputSerializer(
        positions if many else positions[0], many=many, context={"fields": position_fields(positions)}
    )
    return serializer.data


class PortfolioListView(CachedReadMixin, APIView):
    parser_classes = [SafeJSONParser]
    pagination_class = StandardPagination  # read by drf-spectacular to document the page envelope

    @extend_schema(
        operation_id="portfolios_list",
        summary="The caller's portfolios",
        tags=["data"],
        parameters=PAGE_PARAMETERS,
        responses={200: PortfolioOutputSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.portfolios_for_user(user=request_user(request))
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        return paginator.get_paginated_response(PortfolioOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="portfolios_create",
        summary="Create a portfolio",
        tags=["data"],
        request=PortfolioCreateInputSerializer,
        responses={201: PortfolioOutputSerializer, **error_responses(400, 401, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = PortfolioCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        portfolio = services.portfolio_create(user=request_user(request), **serializer.validated_data)
        portfolio = selectors.portfolio_detail_for_user(user=request_user(request), portfolio_id=portfolio.pk)
        return Response(PortfolioOutputSerializer(portfolio).data, status=status.HTTP_201_CREATED)


class PortfolioDetailView(CachedReadMixin, APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="portfolios_retrieve",
        summary="One of the caller's portfolios",
        tags=["data"],
        responses={200: PortfolioOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_detail_for_user(user=request_user(request), portfolio_id=portfolio_id)
        return Response(PortfolioOutputSerializer(portfolio).data)

    @extend_schema(
        operation_id="portfolios_update",
        summary="Rename a portfolio or change its description or equity balance",
        tags=["data"],
        request=PortfolioUpdateInputSerializer,
        responses={200: PortfolioOutputSerializer, **error_responses(400, 401, 404, 415)},
    )
    def patch(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        serializer = PortfolioUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            services.portfolio_update(portfolio=portfolio, **serializer.validated_data)
        portfolio = selectors.portfolio_detail_for_user(user=request_user(request), portfolio_id=portfolio_id)
        return Response(PortfolioOutputSerializer(portfolio).data)

    @extend_schema(
        operation_id="portfolios_destroy",
        summary="Delete a portfolio and its positions",
        tags=["data"],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        services.portfolio_delete(portfolio=portfolio)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PositionListView(CachedReadMixin, APIView):
    parser_classes = [SafeJSONParser]
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="positions_list",
        summary="Positions of a portfolio with price, market value and P&L",
        description=(
            "Stock-like positions are valued at the latest cached close on or before today. Options carry "
            "null price fields and a price_note until the analytics batch values them. Once the batch has run, "
            "each item also has an analytics object (as_of, model price and market value, greeks with their "
            "inputs, factor_betas, factor_exposures) and open options take the batch's model value."
        ),
        tags=["data"],
        parameters=[PositionFilterSerializer, *PAGE_PARAMETERS],
        responses={200: PositionOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        filters = PositionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.positions_for_portfolio(portfolio=portfolio, **filters.validated_data)
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        return paginator.get_paginated_response(positions_output(positions=page))

    @extend_schema(
        operation_id="positions_create",
        summary="Add a position",
        description="Rules: quantity sign matches the type; options need underlying, strike, expiration.",
        tags=["data"],
        request=PositionCreateInputSerializer,
        responses={201: PositionOutputSerializer, **error_responses(400, 401, 404, 415)},
    )
    def post(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        serializer = PositionCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        position = services.position_create(portfolio=portfolio, **serializer.validated_data)
        position = selectors.position_get_for_user(user=request_user(request), position_id=position.pk)
        return Response(positions_output(positions=[position], many=False), status=status.HTTP_201_CREATED)


class PositionDetailView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="positions_update",
        summary="Change a position",
        description="The changed position must satisfy the same rules as a new one.",
        tags=["data"],
        request=PositionUpdateInputSerializer,
        responses={200: PositionOutputSerializer, **error_responses(400, 401, 404, 415)},
    )
    def patch(self, request: Request, position_id: uuid.UUID) -> Response:
        position = selectors.position_get_for_user(user=request_user(request), position_id=position_id)
        serializer = PositionUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            services.position_update(position=position, **serializer.validated_data)
        position = selectors.position_get_for_user(user=request_user(request), position_id=position_id)
        return Response(positions_output(positions=[position], many=False))

    @extend_schema(
        operation_id="positions_destroy",
        summary="Delete a position",
        tags=["data"],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, position_id: uuid.UUID) -> Response:
        position = selectors.position_get_for_user(user=request_user(request), position_id=position_id)
        services.position_delete(position=position)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CsvTextParser(BaseParser):
    """``text/csv`` request bodies, read up to ``CSV_MAX_BYTES`` (DRF streams them past Django's size check)."""

    media_type = "text/csv"

    def parse(  # type: ignore[override]  # DRF's stubs want a mapping back; this parser answers the raw bytes
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> bytes:
        content = stream.read(CSV_MAX_BYTES + 1) if stream is not None else b""
        if len(content) > CSV_MAX_BYTES:
            raise ApplicationError(
                f"The CSV is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it.",
                code="payload_too_large",
                status_code=413,
            )
        return content


class PositionImportView(APIView):
    parser_classes = [MultiPartParser, CsvTextParser]

    @extend_schema(
        operation_id="positions_import",
        summary="Import positions from CSV (all rows or none)",
        description=(
            "Upload as multipart/form-data field `file`, or send the CSV as a text/csv body. Columns: "
            "symbol, position_type, quantity, entry_price, entry_date (required); underlying_symbol, strike, "
            "expiration, multiplier, asset_class, tags (separated by ';'). If any row is invalid nothing is "
            "written and the 400 lists every bad row: details.rows maps the CSV line number to "
            "{field: [messages]}."
        ),
        tags=["data"],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            },
            "text/csv": {"type": "string"},
        },
        responses={201: PositionImportOutputSerializer, **error_responses(400, 401, 404, 413, 415)},
    )
    def post(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = selectors.portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        content = self._content(request)
        try:
            positions = services.positions_import_csv(portfolio=portfolio, content=content)
        except services.CsvImportError as exc:
            raise ApplicationError(str(exc.message), code="invalid_rows", details={"rows": exc.rows}) from exc
        except ValidationError as exc:
            raise ApplicationError(
                str(exc.messages[0]), code="invalid_file", details=getattr(exc, "message_dict", None)
            ) from exc
        except csv.Error as exc:  # e.g. a bare carriage return inside a field
            raise ApplicationError(
                f"The file is not readable as CSV: {exc}", code="invalid_file", details={"file": [str(exc)]}
            ) from exc
        created = list(selectors.positions_for_portfolio(portfolio=portfolio).filter(pk__in=[p.pk for p in positions]))
        body = {"imported": len(created), "positions": positions_output(positions=created)}
        return Response(body, status=status.HTTP_201_CREATED)

    @staticmethod
    def _content(request: Request) -> bytes:
        if request.content_type.startswith("multipart/"):
            upload = request.data.get("file") if hasattr(request.data, "get") else None
            if upload is None or not hasattr(upload, "read"):
                raise ApplicationError("Send the CSV as the multipart field 'file'.", details={"file": ["Required."]})
            if upload.size > CSV_MAX_BYTES:
                raise ApplicationError(
                    f"The CSV is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it.",
                    code="payload_too_large",
                    status_code=413,
                )
            return upload.read()
        content = request.data
        if not isinstance(content, bytes | str) or not content:
            raise ApplicationError("The request body is empty.", details={"file": ["Required."]})
        return content if isinstance(content, bytes) else content.encode()

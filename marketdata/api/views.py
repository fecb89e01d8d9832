"""``GET /api/v1/data/prices/{symbol}``: daily bars from the price cache (never a provider call)."""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError, NotFoundError
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from marketdata.api.serializers import PriceBarOutputSerializer, PriceRangeInputSerializer
from marketdata.selectors import price_bars

# Tickers, index symbols (^VIX), share classes (BRK.B, BRK-B) and OCC option symbols.
SYMBOL_RE = re.compile(r"^[A-Za-z0-9.^=\-]{1,40}$")


class PriceBarsView(APIView):
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="prices_list",
        summary="Daily bars of a symbol from the price cache",
        description=(
            "Bars in ascending date order, each with its source (simulated, fmp, polygon, csv). A symbol with no "
            "cached bars is a 404 that says how to load it."
        ),
        tags=["data"],
        parameters=[
            PriceRangeInputSerializer,
            OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (default 50, at most 500)."),
        ],
        responses={200: PriceBarOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, symbol: str) -> Response:
        if not SYMBOL_RE.fullmatch(symbol):
            raise ApplicationError(
                "symbol must be 1-40 letters, digits or . ^ = -.", details={"symbol": ["Invalid symbol."]}
            )
        symbol = symbol.upper()
        dates = PriceRangeInputSerializer(data=request.query_params)
        dates.is_valid(raise_exception=True)
        queryset = price_bars(
            symbol=symbol, start=dates.validated_data.get("start"), end=dates.validated_data.get("end")
        )
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        if not page and not price_bars(symbol=symbol, start=None, end=None).exists():
            raise NotFoundError(
                f"No cached prices for {symbol}. Load them with: python manage.py sync_market_data --symbols {symbol}",
                details={"hint": f"python manage.py sync_market_data --symbols {symbol}"},
            )
        return paginator.get_paginated_response(PriceBarOutputSerializer(page, many=True).data)

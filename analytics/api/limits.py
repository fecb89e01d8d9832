"""Risk limits and alerts over the API.

- ``GET /api/v1/analytics/portfolios/{id}/limits``: the newest stored status of every limit (the ``limits``
  result kind, like every result endpoint); ``POST`` there creates a limit (201).
- ``GET /api/v1/analytics/portfolios/{id}/limits/definitions``: the portfolio's limits as set.
- ``GET/PATCH/DELETE /api/v1/analytics/limits/{limit_id}``: one limit.
- ``GET /api/v1/alerts`` (``?acknowledged=true|false``), ``POST /api/v1/alerts/{id}/acknowledge`` ``{"note"}``.

Another user's portfolio, limit or alert is a 404, never a 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.api.views import result_view
from analytics.models import LimitMetric, RiskLimit
from analytics.results import registry
from analytics.services import alerts, limits
from core.exceptions import NotFoundError
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from core.parsers import SafeJSONParser
from core.users import request_user
from portfolios.api.serializers import StrictInputSerializer
from portfolios.selectors import portfolio_get_for_user

LEVEL_HELP = "A value above it (below it for lower levels) is WARN / BREACH; equal is within."


class LimitInputSerializer(StrictInputSerializer):
    metric = serializers.ChoiceField(choices=LimitMetric.choices)
    factor = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    underlying = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    warning_level = serializers.FloatField(required=False, allow_null=True, default=None, help_text=LEVEL_HELP)
    hard_level = serializers.FloatField(required=False, allow_null=True, default=None, help_text=LEVEL_HELP)
    lower_warning = serializers.FloatField(required=False, allow_null=True, default=None, help_text=LEVEL_HELP)
    lower_hard = serializers.FloatField(required=False, allow_null=True, default=None, help_text=LEVEL_HELP)
    is_active = serializers.BooleanField(required=False, default=True)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class LimitOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskLimit
        fields = [
            "id",
            "portfolio",
            "metric",
            "factor",
            "underlying",
            "warning_level",
            "hard_level",
            "lower_warning",
            "lower_hard",
            "is_active",
            "note",
            "created_at",
            "updated_at",
        ]


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    portfolio_id = serializers.UUIDField()
    limit_id = serializers.UUIDField(allow_null=True)
    limit = serializers.CharField()
    as_of = serializers.DateField()
    event = serializers.CharField()
    status = serializers.CharField()
    previous_status = serializers.CharField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    warning_level = serializers.FloatField(allow_null=True)
    hard_level = serializers.FloatField(allow_null=True)
    message = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledgement_note = serializers.CharField()


class AlertFilterSerializer(serializers.Serializer):
    acknowledged = serializers.BooleanField(required=False, allow_null=True, default=None)


class AcknowledgeInputSerializer(StrictInputSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


_StatusView: Any = result_view(registry.spec_for("limits"))


class LimitsView(_StatusView):
    """GET: the stored status (the ``limits`` kind's endpoint); POST: a new limit on the portfolio."""

    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="analytics_limits_create",
        summary="Set a risk limit on the portfolio",
        tags=["analytics"],
        request=LimitInputSerializer,
        responses={201: LimitOutputSerializer, **error_responses(400, 401, 404, 409, 415)},
    )
    def post(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        body = LimitInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        limit = limits.limit_create(portfolio=portfolio, **body.validated_data)
        return Response(LimitOutputSerializer(limit).data, status=status.HTTP_201_CREATED)


class LimitDefinitionsView(APIView):
    @extend_schema(
        operation_id="analytics_limits_definitions",
        summary="The portfolio's risk limits as set",
        tags=["analytics"],
        responses={
            200: inline_serializer("LimitDefinitions", fields={"results": LimitOutputSerializer(many=True)}),
            **error_responses(401, 404),
        },
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        rows = selectors.risk_limits_for_portfolio(portfolio_id=portfolio.pk)
        return Response({"results": LimitOutputSerializer(rows, many=True).data})


class LimitDetailView(APIView):
    parser_classes = [SafeJSONParser]

    def _limit(self, request: Request, limit_id: uuid.UUID) -> RiskLimit:
        limit = selectors.risk_limit_for_user(user=request_user(request), limit_id=limit_id)
        if limit is None:
            raise NotFoundError(f"Limit {limit_id} not found.")
        return limit

    @extend_schema(
        operation_id="analytics_limits_retrieve",
        summary="One risk limit",
        tags=["analytics"],
        responses={200: LimitOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, limit_id: uuid.UUID) -> Response:
        return Response(LimitOutputSerializer(self._limit(request, limit_id)).data)

    @extend_schema(
        operation_id="analytics_limits_partial_update",
        summary="Change a risk limit",
        tags=["analytics"],
        request=LimitInputSerializer,
        responses={200: LimitOutputSerializer, **error_responses(400, 401, 404, 409, 415)},
    )
    def patch(self, request: Request, limit_id: uuid.UUID) -> Response:
        limit = self._limit(request, limit_id)
        body = LimitInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes = {k: v for k, v in body.validated_data.items() if k in request.data}
        return Response(LimitOutputSerializer(limits.limit_update(limit=limit, **changes)).data)

    @extend_schema(
        operation_id="analytics_limits_destroy",
        summary="Delete a risk limit (its alerts stay as history)",
        tags=["analytics"],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, limit_id: uuid.UUID) -> Response:
        limits.limit_delete(limit=self._limit(request, limit_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListView(APIView):
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="alerts_list",
        summary="Alerts on the caller's limits, newest first",
        tags=["alerts"],
        parameters=[AlertFilterSerializer],
        responses={200: AlertOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        params = AlertFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = alerts.alerts_for_user(
            user=request_user(request), acknowledged=params.validated_data["acknowledged"]
        )
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        return paginator.get_paginated_response([alerts.alert_document(a) for a in page])


class AlertAcknowledgeView(APIView):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="alerts_acknowledge",
        summary="Acknowledge an alert with a note",
        tags=["alerts"],
        request=AcknowledgeInputSerializer,
        responses={200: AlertOutputSerializer, **error_responses(400, 401, 404, 409, 415)},
    )
    def post(self, request: Request, alert_id: uuid.UUID) -> Response:
        body = AcknowledgeInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = alerts.alert_acknowledge(
            user=request_user(request), alert_id=alert_id, note=body.validated_data["note"]
        )
        return Response(alerts.alert_document(alert))

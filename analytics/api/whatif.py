"""``POST /api/v1/analytics/portfolios/{id}/what_if`` and the saved what-if scenarios.

Thin views: validate the trades (each error names the trade's index and field), call
``analytics.services.whatif``, answer. A what-if stores nothing unless ``save_as`` names a scenario.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.services import whatif
from analytics.services.inputs import portfolio_info
from core.exceptions import NotFoundError
from core.openapi import error_responses
from core.parsers import SafeJSONParser
from core.renderers import BrowsableAPIRenderer, FastJSONRenderer
from core.users import request_user
from portfolios.api.serializers import StrictInputSerializer
from portfolios.selectors import portfolio_get_for_user

MAX_TRADES = 100


class TradeInputSerializer(StrictInputSerializer):
    """One hypothetical trade (see ``analytics.services.whatif``)."""

    action = serializers.ChoiceField(choices=whatif.ACTIONS, help_text="add | reduce | close")
    symbol = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="A ticker, or an option's OCC symbol."
    )
    underlying = serializers.CharField(max_length=12, required=False, allow_blank=True)
    strike = serializers.FloatField(required=False, min_value=0.001, max_value=99999.999)
    expiration = serializers.DateField(required=False)
    option_type = serializers.ChoiceField(choices=("call", "put"), required=False)
    position_id = serializers.UUIDField(required=False, help_text="reduce/close: one held position.")
    quantity = serializers.FloatField(
        required=False,
        min_value=-1e9,
        max_value=1e9,
        help_text="add: signed shares or contracts (negative = sell short / write); reduce: units to remove (> 0).",
    )
    price = serializers.FloatField(
        required=False, min_value=0, max_value=1e7, help_text="Per share (USD); default: the mark."
    )


class WhatIfInputSerializer(StrictInputSerializer):
    trades = serializers.ListField(child=serializers.DictField(), max_length=MAX_TRADES, allow_empty=True)
    save_as = serializers.CharField(
        max_length=100, required=False, allow_blank=False, help_text="Store the answer as a named scenario."
    )


class WhatIfScenarioOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    as_of = serializers.DateField()
    trades = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def trades_parse(raw: list[Any]) -> list[whatif.Trade]:
    """Validated trades; the first invalid one is a 400 naming ``trades[i].field``. One list serializer for
    all of them (its fields are built once, not once per trade)."""
    serializer = TradeInputSerializer(data=list(raw), many=True)
    if not serializer.is_valid():
        errors = serializer.errors  # per trade: a list, or {index: errors} of the invalid ones only
        by_index = dict(enumerate(errors)) if isinstance(errors, list) else dict(errors)
        for index in sorted(i for i, item_errors in by_index.items() if item_errors):
            field_name, messages = next(iter(by_index[index].items()))
            message = str(messages[0]) if isinstance(messages, list) and messages else str(messages)
            raise whatif.TradeError(int(index), str(field_name), message)
    return [whatif.Trade(**item) for item in serializer.validated_data]


class WhatIfView(APIView):
    parser_classes = [SafeJSONParser]
    # The answer is every kind's payload before and after (0.2–2 MB): orjson writes it several times faster.
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer]

    @extend_schema(
        operation_id="analytics_what_if",
        summary="Risk before and after hypothetical trades (nothing stored unless saved)",
        description=(
            "Applies the trades (add, reduce, close; stocks, ETFs and listed options by OCC symbol or by "
            "underlying/strike/expiration/option_type; price optional, default the mark) to the portfolio's "
            "positions and computes every result kind before and after, reusing the day's stored factor model. "
            "Answers the headline figures (value, cash, exposures, leverage, Greeks, factor betas and dollar "
            "exposures, VaR/ES), the five worst stress scenarios after the trades, the limit status, and every "
            "kind's payload before and after with its change. An invalid trade is a 400 naming trades[i].field. "
            "With save_as the answer is stored as a named scenario (201)."
        ),
        tags=["analytics"],
        request=WhatIfInputSerializer,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT, **error_responses(400, 401, 404, 415)},
    )
    def post(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        body = WhatIfInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raw = body.validated_data["trades"]
        trades = trades_parse(raw)
        result = whatif.what_if_run(
            portfolio=portfolio_info(portfolio),
            trades=trades,
        )
        answer = whatif.what_if_answer(result)
        name = body.validated_data.get("save_as")
        if not name:
            return Response(answer)
        answer["stored"] = True
        scenario = whatif.what_if_scenario_save(
            portfolio_id=portfolio.pk, name=name, trades=[t.as_dict() for t in trades], answer=answer
        )
        answer["scenario"] = {"id": str(scenario.pk), "name": scenario.name}
        return Response(answer, status=status.HTTP_201_CREATED)


class WhatIfScenarioListView(APIView):
    @extend_schema(
        operation_id="analytics_what_if_scenarios_list",
        summary="The what-if scenarios saved on a portfolio",
        tags=["analytics"],
        responses={
            200: inline_serializer("WhatIfScenarioList", fields={"results": WhatIfScenarioOutputSerializer(many=True)}),
            **error_responses(401, 404),
        },
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        scenarios = selectors.what_if_scenarios_for_portfolio(portfolio_id=portfolio.pk)
        return Response({"results": WhatIfScenarioOutputSerializer(scenarios, many=True).data})


class WhatIfScenarioDetailView(APIView):
    def _scenario(self, request: Request, portfolio_id: uuid.UUID, scenario_id: uuid.UUID) -> Any:
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        scenario = selectors.what_if_scenarios_for_portfolio(portfolio_id=portfolio.pk).filter(pk=scenario_id).first()
        if scenario is None:
            raise NotFoundError(f"What-if scenario {scenario_id} not found.")
        return scenario

    @extend_schema(
        operation_id="analytics_what_if_scenarios_retrieve",
        summary="One saved what-if scenario with its stored answer",
        tags=["analytics"],
        responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID, scenario_id: uuid.UUID) -> Response:
        scenario = self._scenario(request, portfolio_id, scenario_id)
        return Response({**WhatIfScenarioOutputSerializer(scenario).data, "result": scenario.result})

    @extend_schema(
        operation_id="analytics_what_if_scenarios_destroy",
        summary="Delete a saved what-if scenario",
        tags=["analytics"],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, portfolio_id: uuid.UUID, scenario_id: uuid.UUID) -> Response:
        whatif.what_if_scenario_delete(scenario=self._scenario(request, portfolio_id, scenario_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


__all__ = ["WhatIfScenarioDetailView", "WhatIfScenarioListView", "WhatIfView"]

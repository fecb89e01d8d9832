"""Agent API: chat (whole reply), chat stream (SSE), sessions, tools and provider health. Thin views."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agent.access import access_token_create, access_token_revoke, access_tokens_for_user
from agent.api.serializers import (
    AccessTokenCreatedSerializer,
    AccessTokenInputSerializer,
    AccessTokenSerializer,
    ChatInputSerializer,
    ChatOutputSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    HealthSerializer,
    StreamQuerySerializer,
    ToolCallAuditSerializer,
    ToolSerializer,
)
from agent.api.sse import sse_stream
from agent.api.throttling import AgentUserThrottle
from agent.audit import audit_for_user
from agent.services import (
    agent_health,
    chat_complete,
    chat_run,
    conversation_delete,
    conversation_get_for_user,
    conversations_for_user,
)
from agent.tools import tools_all
from core.errors import error_payload
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from core.users import request_user

# An SSE body is text; documented as such (a JSON schema cannot describe the event framing).
SSE_STREAM = {"type": "string", "description": "text/event-stream"}


class ChatView(APIView):
    """Ask one question; the answer comes back whole, with the tools it called and their results."""

    throttle_classes = [AgentUserThrottle]

    @extend_schema(
        request=ChatInputSerializer,
        responses={200: ChatOutputSerializer, **error_responses(400, 401, 404, 415, 429, 502)},
    )
    def post(self, request: Request) -> Response:
        data = ChatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = chat_complete(user=request_user(request), transport="rest", **data.validated_data)
        if answer["error"] and not answer["reply"]:
            body = error_payload(
                answer["error"]["code"], answer["error"]["message"], {"session_id": answer["session_id"]}
            )
            return Response(body, status=status.HTTP_502_BAD_GATEWAY)
        return Response(ChatOutputSerializer(answer).data)


class ChatStreamView(APIView):
    """Ask one question; the answer streams as server-sent events (``curl -N`` with a Bearer header)."""

    throttle_classes = [AgentUserThrottle]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Errors are JSON whatever the client accepts (text/event-stream, */*); success is the stream.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("message", str, required=True),
            OpenApiParameter("portfolio_id", OpenApiTypes.UUID, required=True),
            OpenApiParameter("session_id", OpenApiTypes.UUID),
            OpenApiParameter("mode", str, enum=["green", "blue", "indigo", "violet"]),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                SSE_STREAM,
                description=(
                    "Server-sent events, each `event: <type>` and `data: <JSON object>`: start, token, tool_call, "
                    "tool_result, heartbeat, error, done. Every stream ends with `done` or `error`."
                ),
            ),
            **error_responses(400, 401, 404, 429),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = StreamQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        events = chat_run(user=request_user(request), transport="sse", **query.validated_data)
        response = StreamingHttpResponse(sse_stream(events), content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


class SessionListView(APIView):
    """The caller's conversations, most recent first."""

    pagination_class = StandardPagination  # documents the page envelope (count, next, previous, results)

    @extend_schema(responses={200: ConversationSerializer(many=True), **error_responses(401, 404)})
    def get(self, request: Request) -> Response:
        paginator, page = paginate(
            queryset=conversations_for_user(user=request_user(request)), request=request, view=self
        )
        return paginator.get_paginated_response(ConversationSerializer(page, many=True).data)


class SessionDetailView(APIView):
    """One of the caller's conversations with its messages; another user's gives 404."""

    @extend_schema(responses={200: ConversationDetailSerializer, **error_responses(401, 404)})
    def get(self, request: Request, session_id: str) -> Response:
        conversation = conversation_get_for_user(user=request_user(request), session_id=session_id)
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(responses={204: None, **error_responses(401, 404)})
    def delete(self, request: Request, session_id: str) -> Response:
        conversation_delete(user=request_user(request), session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ToolListView(APIView):
    """The tools the agent may call, with their JSON schemas and limits."""

    @extend_schema(responses={200: ToolSerializer(many=True), **error_responses(401)})
    def get(self, request: Request) -> Response:
        return Response([tool.schema() for tool in tools_all()])


class HealthView(APIView):
    """Provider, model and whether the provider answers — public: no token needed, nothing secret.

    ``status`` is ``ok`` (200) or ``unavailable`` (503). The answer is cached for
    ``AGENT_HEALTH_CACHE_S`` seconds, so anonymous callers cannot make the server probe the model
    provider on every request.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(auth=[], responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        health = agent_health()
        code = status.HTTP_200_OK if health["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(HealthSerializer(health).data, status=code)


class AccessTokenListView(APIView):
    """The caller's personal access tokens (for MCP clients); creating one shows the token once."""

    pagination_class = StandardPagination  # documents the page envelope (count, next, previous, results)

    @extend_schema(responses={200: AccessTokenSerializer(many=True), **error_responses(401, 404)})
    def get(self, request: Request) -> Response:
        paginator, page = paginate(
            queryset=access_tokens_for_user(user=request_user(request)), request=request, view=self
        )
        return paginator.get_paginated_response(AccessTokenSerializer(page, many=True).data)

    @extend_schema(
        request=AccessTokenInputSerializer,
        responses={201: AccessTokenCreatedSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        data = AccessTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = access_token_create(user=request_user(request), **data.validated_data)
        body = {**AccessTokenSerializer(token).data, "token": raw}
        return Response(body, status=status.HTTP_201_CREATED)


class AccessTokenDetailView(APIView):
    """Revoke one of the caller's tokens (it stops working at once; the row stays for the audit trail)."""

    @extend_schema(responses={204: None, **error_responses(401, 404)})
    def delete(self, request: Request, token_id: str) -> Response:
        access_token_revoke(user=request_user(request), token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListView(APIView):
    """The caller's tool calls, newest first, from every transport (REST, SSE, websocket, MCP).

    Filters: ``tool``, ``transport``, ``outcome``.
    """

    pagination_class = StandardPagination  # documents the page envelope (count, next, previous, results)

    @extend_schema(
        parameters=[
            OpenApiParameter("tool", str),
            OpenApiParameter("transport", str, enum=["rest", "sse", "websocket", "mcp", "internal"]),
            OpenApiParameter("outcome", str),
        ],
        responses={200: ToolCallAuditSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request) -> Response:
        rows = audit_for_user(user=request_user(request))
        for key in ("tool", "transport", "outcome"):
            value = request.query_params.get(key)
            if value:
                rows = rows.filter(**{key: value})
        paginator, page = paginate(queryset=rows, request=request, view=self)
        return paginator.get_paginated_response(ToolCallAuditSerializer(page, many=True).data)

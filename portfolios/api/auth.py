"""``/api/v1/auth``: log in with email and password, refresh the access token, log out, who am I.

Tokens are simplejwt JWTs sent as ``Authorization: Bearer <access_token>``. A refresh token works
once: a refresh answers a new pair and revokes the one used; logout revokes it (or every refresh
token of the user); a password change or deactivation revokes them all (``portfolios.tokens``). A failed login says
only "invalid email or password" — the same for an unknown email, a wrong password and an inactive
account — and Django's ``ModelBackend`` hashes a dummy password for unknown emails so the timing
does not tell them apart either.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from core.openapi import error_responses
from core.parsers import SafeJSONParser
from core.throttling import LoginEmailThrottle, LoginIPThrottle
from core.users import request_user
from portfolios.api.serializers import (
    LoginInputSerializer,
    LogoutInputSerializer,
    MeOutputSerializer,
    RefreshInputSerializer,
    TokenOutputSerializer,
)
from portfolios.selectors import portfolios_for_user
from portfolios.tokens import TokenRevoked, refresh_token_revoke, refresh_token_rotate, token_pair_issue

WWW_AUTHENTICATE = 'Bearer realm="api"'


def _token_payload(refresh: RefreshToken) -> dict[str, Any]:
    lifetime = cast(dt.timedelta, settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


class _PublicAuthView(APIView):
    """No authentication on the way in, but failures are still 401 with ``WWW-Authenticate``."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser]

    def get_authenticate_header(self, request: Request) -> str:
        # Without this DRF turns AuthenticationFailed into 403 on views that have no authenticators.
        return WWW_AUTHENTICATE


class LoginView(_PublicAuthView):
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]

    @extend_schema(
        operation_id="auth_login",
        summary="Log in with email and password",
        description="Email is case-insensitive. Throttled per client IP and per email (429 with Retry-After).",
        tags=["auth"],
        auth=[],
        request=LoginInputSerializer,
        responses={200: TokenOutputSerializer, **error_responses(400, 401, 415, 429)},
        examples=[
            OpenApiExample(
                "demo", value={"email": "demo_individual@sigmasight.com", "password": "demo12345"}, request_only=True
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["email"].strip().lower(),
            password=serializer.validated_data["password"],
        )
        if user is None:  # unknown email, wrong password and inactive account look the same
            raise exceptions.AuthenticationFailed("Invalid email or password.", code="invalid_credentials")
        return Response(_token_payload(token_pair_issue(user=user)))


class RefreshView(_PublicAuthView):
    @extend_schema(
        operation_id="auth_refresh",
        summary="Exchange a refresh token for a new token pair",
        description=(
            "Answers a new access token and a new refresh token; the refresh token sent is revoked "
            "(sending it again is a 401). Refused after logout, a password change or deactivation."
        ),
        tags=["auth"],
        auth=[],
        request=RefreshInputSerializer,
        responses={200: TokenOutputSerializer, **error_responses(400, 401, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh = refresh_token_rotate(raw=serializer.validated_data["refresh_token"])
        except TokenRevoked as exc:
            raise exceptions.AuthenticationFailed(str(exc), code=exc.code) from exc
        return Response(_token_payload(refresh))


class LogoutView(_PublicAuthView):
    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: revoke a refresh token",
        description=(
            "Revokes the refresh token sent, or with `all_sessions` every refresh token of its user. "
            "Access tokens already issued stay valid until they expire (`expires_in` of the login)."
        ),
        tags=["auth"],
        auth=[],
        request=LogoutInputSerializer,
        responses={204: None, **error_responses(400, 401, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = LogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh_token_revoke(
                raw=serializer.validated_data["refresh_token"], all_sessions=serializer.validated_data["all_sessions"]
            )
        except TokenRevoked as exc:
            raise exceptions.AuthenticationFailed(str(exc), code=exc.code) from exc
        return Response(status=204)


class MeView(APIView):
    @extend_schema(
        operation_id="auth_me",
        summary="The logged-in user",
        tags=["auth"],
        responses={200: MeOutputSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        data = {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "is_staff": user.is_staff,
            "date_joined": user.date_joined,
            "portfolio_count": portfolios_for_user(user=user).count(),
        }
        return Response(MeOutputSerializer(data).data)

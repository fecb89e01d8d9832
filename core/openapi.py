"""OpenAPI helpers: the error envelope as a schema component and the common error responses."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, invalid, throttled.")
    message = serializers.CharField(help_text="Human-readable summary.")
    details = serializers.JSONField(required=False, help_text="Per-field messages or other structured detail.")


class ErrorSerializer(serializers.Serializer):
    """``{"error": {"code", "message", "details"?}}`` — the body of every 4xx/5xx response."""

    error = ErrorBodySerializer()


_DESCRIPTIONS = {
    400: "Invalid input; details per field.",
    401: "Missing, invalid or expired Bearer token.",
    403: "Not allowed.",
    404: "Not found (also for another user's ids).",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Payload too large.",
    415: "Unsupported media type.",
    429: "Too many requests; see Retry-After.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``responses=`` entries for these status codes, all with the error envelope."""
    return {code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS.get(code, "Error.")) for code in codes}

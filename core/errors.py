"""The one error format of the API: ``{"error": {"code", "message", "details"?}}``.

Services raise :class:`ApplicationError` (or Django's ``ValidationError``); the DRF exception
handler and the Django 404/500 handlers map everything onto the same JSON shape, so a client
never gets an HTML page under ``/api/``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.exceptions import ApplicationError, ConflictError, NotFoundError

logger = logging.getLogger("sigmasight.api")

__all__ = ["ApplicationError", "ConflictError", "NotFoundError", "api_exception_handler", "error_payload"]


def error_payload(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details not in (None, {}, []):
        body["details"] = details
    return {"error": body}


def validation_error_details(exc: DjangoValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def _first_message(details: Any) -> str:
    if isinstance(details, dict):
        for key, value in details.items():
            message = _first_message(value)
            if message:
                return message if key in ("detail", "non_field_errors") else f"{key}: {message}"
    if isinstance(details, list) and details:
        return _first_message(details[0])
    return str(details) if details else ""


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error becomes the SigmaSight JSON error shape, rendered as JSON.

    Successful responses still honour ``Accept: text/html`` (the browsable API); errors never do, so
    a client always gets the JSON envelope, whatever it asked for.
    """
    request = context.get("request")
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return _error_response(exc, context)


def _error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_payload(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        field_errors = validation_error_details(exc)
        return Response(error_payload("invalid", _first_message(field_errors), field_errors), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_payload("payload_too_large", "Request body is too large."), status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_payload("bad_request", "Bad request."), status=400)
    if isinstance(exc, DataError):
        # The database refused a value (out of range, too long) that got past validation: still the
        # client's input, so a 400 rather than a 500. Serializers bound sizes so this stays rare.
        logger.warning("DataError reached the API: %s", exc)
        return Response(error_payload("invalid", "A value is out of range for its field."), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(error_payload("server_error", "Internal server error."), status=500)

    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        message = _first_message(data) or "Invalid input."
        details: Any = data
    else:
        message = str(data.get("detail", exc)) if isinstance(data, dict) else str(data)
        details = None
        wait = getattr(exc, "wait", None)  # set by DRF on a Throttled; not in its stubs
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            details = {"retry_after_s": int(wait)}
    code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", None)
    code = code or _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
    elif response.status_code in _CODES and code in ("error", "invalid"):
        code = _CODES[response.status_code]
    response.data = error_payload(str(code), message, details)
    return response


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler404``: JSON for the API and every other path (there is no HTML site)."""
    return JsonResponse(error_payload("not_found", f"No route for {request.path}."), status=404)


def json_405(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    """405 for plain Django views (DRF views raise ``MethodNotAllowed`` instead)."""
    response = JsonResponse(error_payload("method_not_allowed", f'Method "{request.method}" not allowed.'), status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_payload("server_error", "Internal server error."), status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_payload("bad_request", "Bad request."), status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_payload("permission_denied", "Permission denied."), status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """``CSRF_FAILURE_VIEW``: a session-authenticated write without a CSRF token, in the error format."""
    return JsonResponse(error_payload("csrf_failed", f"CSRF verification failed: {reason}".strip()), status=403)

"""Business-rule errors raised by services and selectors; the API maps them onto its JSON error format.

Kept free of DRF so that services, selectors and workers import them without loading the web stack.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business-rule failure that a client can act on; mapped to a 4xx JSON error."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.details = details


class NotFoundError(ApplicationError):
    status_code = 404
    code = "not_found"


class ConflictError(ApplicationError):
    status_code = 409
    code = "conflict"

"""The ``Content-Security-Policy`` header on every response (``settings.CONTENT_SECURITY_POLICY``).

The web app loads scripts only from its own static files (htmx, Chart.js, its own modules) and has
no inline script, so ``script-src 'self'`` holds; Swagger UI is served in its split form (its
start-up script is a file too). A view that sets its own policy keeps it. An empty setting sends none.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the configured policy to responses that have none (sync and async)."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response

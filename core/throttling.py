"""Login throttles: one budget per client IP and one per email address (DESIGN §4, 429).

Both count every attempt, successful or not, so that a password-guessing run is slowed whether
it sprays one account from many addresses or many accounts from one address. Their state lives
in the default cache (Redis when ``REDIS_URL`` is set, so the budget is shared across processes).
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class LoginIPThrottle(SimpleRateThrottle):
    """Login attempts per client IP (rate ``DEFAULT_THROTTLE_RATES["login_ip"]``)."""

    scope = "login_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginEmailThrottle(SimpleRateThrottle):
    """Login attempts per email address, case-insensitive (rate ``DEFAULT_THROTTLE_RATES["login_email"]``)."""

    scope = "login_email"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        email = data.get("email") if hasattr(data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None  # nothing to count; the login serializer rejects the request
        # Hash so that the cache never holds an email address in clear.
        ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

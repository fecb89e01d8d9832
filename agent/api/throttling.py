"""Per-user budget for agent requests (rate ``DEFAULT_THROTTLE_RATES["agent_user"]``), shared by all transports."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rest_framework.throttling import UserRateThrottle

from core.throttling import SharedCacheThrottle


class AgentUserThrottle(SharedCacheThrottle, UserRateThrottle):
    """Agent questions per authenticated user; counted in the shared ``throttle`` cache (the database
    cache, or Redis when configured) so every process spends one budget."""

    scope = "agent_user"


def agent_throttle_check(*, user: Any) -> float | None:
    """For the websocket: None when the user may ask now, else the seconds to wait."""
    throttle = AgentUserThrottle()
    if throttle.allow_request(SimpleNamespace(user=user), None):  # type: ignore[arg-type]
        return None
    return throttle.wait() or 1.0

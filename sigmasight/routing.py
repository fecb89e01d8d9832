"""Websocket routes (the agent chat socket is added by the agent app)."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []

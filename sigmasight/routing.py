"""Websocket routes: the agent chat socket (``/ws/agent/chat/``)."""

from __future__ import annotations

from typing import Any

from agent.routing import websocket_urlpatterns as agent_websocket_urlpatterns

websocket_urlpatterns: list[Any] = [*agent_websocket_urlpatterns]

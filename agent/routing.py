"""Websocket routes of the agent."""

from __future__ import annotations

from typing import Any

from django.urls import path

from agent.consumers import ChatConsumer

websocket_urlpatterns: list[Any] = [path("ws/agent/chat/", ChatConsumer.as_asgi())]

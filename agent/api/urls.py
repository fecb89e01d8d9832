"""URL routes of the agent API (mounted under /api/v1/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from agent.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("agent/chat", views.ChatView.as_view(), name="agent-chat"),
    path("agent/chat/stream", views.ChatStreamView.as_view(), name="agent-chat-stream"),
    path("agent/sessions", views.SessionListView.as_view(), name="agent-sessions"),
    path("agent/sessions/<str:session_id>", views.SessionDetailView.as_view(), name="agent-session"),
    path("agent/tools", views.ToolListView.as_view(), name="agent-tools"),
    path("agent/health", views.HealthView.as_view(), name="agent-health"),
    path("agent/tokens", views.AccessTokenListView.as_view(), name="agent-tokens"),
    path("agent/tokens/<str:token_id>", views.AccessTokenDetailView.as_view(), name="agent-token"),
    path("agent/audit", views.AuditListView.as_view(), name="agent-audit"),
]

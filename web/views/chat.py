"""The chat page: the agent over the websocket ``/ws/agent/chat/``, authenticated by the session.

The page is rendered here (past conversations, the open one's messages, the modes); the answer
streams over the websocket from ``web/static/web/js/chat.js``, with the portfolio being viewed as
the conversation's scope. Conversations are read with the agent's own scoped lookups: another
user's conversation id is the same 404 page as a missing one.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from agent.models import AgentMode, Conversation, MessageRole
from agent.prompts import DEFAULT_MODE
from agent.services import conversation_get_for_user, conversations_for_user
from core.exceptions import NotFoundError
from portfolios.models import Portfolio
from web.navigation import portfolio_tabs
from web.views.common import not_found_page, portfolio_page

PAST_CONVERSATIONS = 40
WEBSOCKET_PATH = "/ws/agent/chat/"


def _conversations(request: HttpRequest, portfolio: Portfolio, current: Conversation | None) -> dict[str, Any]:
    conversations = list(conversations_for_user(user=request.user)[:PAST_CONVERSATIONS])  # type: ignore[arg-type]
    return {
        "conversations": conversations,
        "current_id": current.pk if current else None,
        "chat_url": reverse("web:chat", kwargs={"portfolio_id": portfolio.pk}),
    }


def _messages(conversation: Conversation) -> list[dict[str, Any]]:
    shown = []
    for message in conversation.messages.filter(role__in=[MessageRole.USER, MessageRole.ASSISTANT]).order_by(
        "sequence"
    ):
        shown.append(
            {
                "role": message.role,
                "content": message.content,
                "tool_calls": message.tool_calls or [],
                "error": message.error,
                "mode": message.mode,
                "created_at": message.created_at,
            }
        )
    return shown


@portfolio_page
def chat(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    conversation = None
    session = request.GET.get("session")
    if session:
        try:
            conversation = conversation_get_for_user(user=request.user, session_id=session)  # type: ignore[arg-type]
        except NotFoundError:
            return not_found_page(request, "No such conversation among yours.")
    context = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="chat"),
        "conversation": conversation,
        "messages_shown": _messages(conversation) if conversation else [],
        "modes": AgentMode.choices,
        "mode": conversation.mode if conversation else DEFAULT_MODE,
        "websocket_path": WEBSOCKET_PATH,
        **_conversations(request, portfolio, conversation),
    }
    return render(request, "web/chat.html", context)


@portfolio_page
def chat_conversations(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    """The past-conversations list alone (htmx refreshes it when an answer is done)."""
    current = None
    session = request.GET.get("session")
    if session:
        try:
            current = conversation_get_for_user(user=request.user, session_id=session)  # type: ignore[arg-type]
        except NotFoundError:
            current = None
    context = {"portfolio": portfolio, **_conversations(request, portfolio, current)}
    return render(request, "web/partials/conversations.html", context)

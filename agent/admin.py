"""Admin for agent conversations: read-only views of what was asked, answered and called."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from agent.models import Conversation, Message

MESSAGE_PREVIEW_CHARS = 80


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    ordering = ["sequence"]
    fields = [
        "sequence",
        "role",
        "content",
        "tool_calls",
        "provider",
        "model",
        "first_token_ms",
        "latency_ms",
        "total_tokens",
        "error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "portfolio", "title", "mode", "provider", "message_count", "updated_at"]
    list_filter = ["mode", "provider"]
    search_fields = ["title", "user__email", "id"]
    list_select_related = ["user", "portfolio"]
    readonly_fields = ["id", "user", "portfolio", "provider", "model", "message_count", "created_at", "updated_at"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "conversation",
        "sequence",
        "role",
        "text",
        "provider",
        "model",
        "first_token_ms",
        "latency_ms",
        "total_tokens",
        "has_error",
        "created_at",
    ]
    list_filter = ["role", "provider", "mode"]
    search_fields = ["content", "conversation__id", "conversation__user__email"]
    list_select_related = ["conversation"]
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.display(description="message")
    def text(self, obj: Message) -> str:
        """The message itself, cut to one line of the list (the full text is on the message's page)."""
        return Truncator(" ".join(obj.content.split())).chars(MESSAGE_PREVIEW_CHARS)

    @admin.display(boolean=True, description="error")
    def has_error(self, obj: Message) -> bool:
        return bool(obj.error)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

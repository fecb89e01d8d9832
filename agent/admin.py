"""Admin for the agent: conversations (read-only), personal access tokens, and the tool-call audit trail."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator

from agent.access import PREFIX_SHOWN, TOKEN_PREFIX, token_hash
from agent.models import AccessToken, Conversation, Message, ToolCallAudit

MESSAGE_PREVIEW_CHARS = 80

MESSAGE_FIELDS = (
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
)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    ordering = ["sequence"]
    fields = MESSAGE_FIELDS
    readonly_fields = MESSAGE_FIELDS

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


class AccessTokenForm(forms.ModelForm):
    class Meta:
        model = AccessToken
        fields = ["user", "name", "expires_at", "portfolios"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user, portfolios = cleaned.get("user"), cleaned.get("portfolios")
        if user is not None and portfolios is not None and any(p.user_id != user.pk for p in portfolios):
            self.add_error("portfolios", "Choose portfolios of the token's user only.")
        return cleaned


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Create (the token is shown once, in the confirmation message) and revoke personal access tokens."""

    form = AccessTokenForm
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    list_select_related = ["user"]
    filter_horizontal = ["portfolios"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: AccessToken | None = None) -> list[str]:
        # An existing token keeps its user; it can be renamed, given an expiry or revoked.
        return ["user", "prefix", "created_at", "last_used_at", "revoked_at"] if obj else []

    def save_model(self, request: HttpRequest, obj: AccessToken, form: Any, change: bool) -> None:
        if not change:
            import secrets

            raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
            obj.prefix, obj.token_hash = raw[:PREFIX_SHOWN], token_hash(raw)
            self.message_user(
                request, f"Token for {obj.user}: {raw} — copy it now, it is not shown again.", messages.WARNING
            )
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} token(s) revoked.")


@admin.register(ToolCallAudit)
class ToolCallAuditAdmin(admin.ModelAdmin):
    """Every tool call (chat over REST, SSE, websocket; MCP), read-only."""

    list_display = ["created_at", "user", "transport", "token", "session", "tool", "outcome", "duration_ms"]
    list_filter = ["transport", "outcome", "tool"]
    search_fields = ["user__email", "tool", "session", "result_sha256"]
    list_select_related = ["user", "token"]
    readonly_fields = [f.name for f in ToolCallAudit._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

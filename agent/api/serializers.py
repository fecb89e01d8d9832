"""Input and output serializers of the agent API."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from agent.models import AccessToken, AgentMode, Conversation, Message, ToolCallAudit


class ChatInputSerializer(serializers.Serializer):
    # Length is checked by the service against AGENT_MAX_MESSAGE_CHARS, with its own error code.
    message = serializers.CharField(trim_whitespace=False, allow_blank=False)
    # Optional when the caller has exactly one portfolio, or when ``session_id`` continues a conversation.
    portfolio_id = serializers.UUIDField(required=False, allow_null=True)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=AgentMode.choices, required=False, allow_null=True)


class StreamQuerySerializer(ChatInputSerializer):
    pass


class ToolCallSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    arguments = serializers.JSONField()
    result = serializers.JSONField(required=False)
    duration_ms = serializers.FloatField(required=False, allow_null=True)


class ChatErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ChatOutputSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    message_id = serializers.UUIDField()
    reply = serializers.CharField(allow_blank=True)
    tool_calls = ToolCallSerializer(many=True)
    provider = serializers.CharField()
    model = serializers.CharField(allow_blank=True)
    usage = serializers.DictField(child=serializers.IntegerField())
    first_token_ms = serializers.FloatField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    error = ChatErrorSerializer(allow_null=True)


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id", "sequence", "role", "content", "tool_calls", "mode", "provider", "model", "first_token_ms",
            "latency_ms", "prompt_tokens", "completion_tokens", "total_tokens", "error", "created_at",
        ]  # fmt: skip


class ConversationSerializer(serializers.ModelSerializer):
    portfolio_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "title",
            "portfolio_id",
            "mode",
            "provider",
            "model",
            "message_count",
            "created_at",
            "updated_at",
        ]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    parameters = serializers.JSONField()
    limits = serializers.DictField(child=serializers.IntegerField())


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    provider = serializers.CharField()
    model = serializers.CharField()
    reachable = serializers.BooleanField()
    detail = serializers.CharField(required=False)
    api_style = serializers.CharField(required=False)


class AccessTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    portfolio_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100)


class AccessTokenSerializer(serializers.ModelSerializer):
    portfolio_ids = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()

    class Meta:
        model = AccessToken
        fields = [
            "id", "name", "prefix", "portfolio_ids", "expires_at", "created_at", "last_used_at", "revoked_at", "active",
        ]  # fmt: skip

    def get_portfolio_ids(self, obj: AccessToken) -> list[str]:
        return [str(p.id) for p in obj.portfolios.all()]

    def get_active(self, obj: AccessToken) -> bool:
        return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


class AccessTokenCreatedSerializer(AccessTokenSerializer):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")

    class Meta(AccessTokenSerializer.Meta):
        fields = [*AccessTokenSerializer.Meta.fields, "token"]


class ToolCallAuditSerializer(serializers.ModelSerializer):
    token_id = serializers.UUIDField(allow_null=True)
    token_name = serializers.SerializerMethodField()

    class Meta:
        model = ToolCallAudit
        fields = [
            "id", "created_at", "transport", "token_id", "token_name", "session", "tool", "arguments", "portfolio_id",
            "result_sha256", "duration_ms", "outcome",
        ]  # fmt: skip

    def get_token_name(self, obj: ToolCallAudit) -> str | None:
        return obj.token.name if obj.token is not None else None

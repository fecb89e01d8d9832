"""Input and output serializers of the agent API."""

from __future__ import annotations

from rest_framework import serializers

from agent.models import AgentMode, Conversation, Message


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

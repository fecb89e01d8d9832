"""Conversations with the agent and their messages, with what each answer cost.

A conversation belongs to one user and is about one of that user's portfolios. Every message
keeps its role and text; an assistant message also keeps the tools it called (name, arguments,
result), its timings (first token, whole answer, in ms), token usage, provider, model and the
error when the answer failed. User text, tool results and the system prompt are stored apart.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AgentMode(models.TextChoices):
    GREEN = "green", "Green — teaching"
    BLUE = "blue", "Blue — quantitative"
    INDIGO = "indigo", "Indigo — strategic"
    VIOLET = "violet", "Violet — conservative risk"


class Conversation(models.Model):
    """A chat session of one user about one portfolio (``portfolio`` is cleared if it is deleted)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_conversations")
    portfolio = models.ForeignKey(
        "portfolios.Portfolio", on_delete=models.SET_NULL, null=True, blank=True, related_name="agent_conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=10, choices=AgentMode.choices, default=AgentMode.BLUE)
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or str(self.id)


class MessageRole(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class Message(models.Model):
    """One turn of a conversation; ``sequence`` orders turns even when timestamps tie.

    ``tool_calls`` is a list of ``{"id", "name", "arguments", "result", "duration_ms"}`` — what the
    assistant asked for and exactly what the tool returned. Timings are milliseconds from the moment
    the user message was accepted; tokens are as reported by the provider (0 for the local one).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sequence = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=MessageRole.choices)
    content = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    mode = models.CharField(max_length=10, choices=AgentMode.choices, blank=True)
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    first_token_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="agent_message_unique_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.sequence}"


class AccessToken(models.Model):
    """A personal access token for MCP clients (and other programs) acting as its user.

    Only the SHA-256 of the token is stored (the token is 256 random bits, so a plain hash is
    enough); the token itself is shown once, when it is created. ``prefix`` (its first characters)
    identifies it in lists. A token may expire and may be restricted to some of the user's
    portfolios (none chosen: all of them). A revoked token is kept, with ``revoked_at``, for the
    audit trail.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_access_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    portfolios = models.ManyToManyField("portfolios.Portfolio", blank=True, related_name="agent_access_tokens")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Transport(models.TextChoices):
    REST = "rest", "REST"
    SSE = "sse", "Server-sent events"
    WEBSOCKET = "websocket", "Websocket"
    MCP = "mcp", "MCP"
    INTERNAL = "internal", "Internal"


class ToolCallAudit(models.Model):
    """One tool call, whoever made it and however: user, transport, token or session, what, how it went.

    ``session`` is the conversation id for chats and the MCP session id over MCP; ``result_sha256``
    is the SHA-256 of the result's canonical JSON (sorted keys), so a stored answer can be matched
    to what the tool returned without keeping the data twice. ``duration_ms`` is wall time in
    milliseconds; ``outcome`` is ``ok`` or the tool's error code (``not_found``, ``invalid_arguments``…).
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_tool_calls")
    transport = models.CharField(max_length=10, choices=Transport.choices)
    token = models.ForeignKey(AccessToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="tool_calls")
    session = models.CharField(max_length=100, blank=True)
    tool = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict, blank=True)
    portfolio_id = models.UUIDField(null=True, blank=True)
    result_sha256 = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField()
    outcome = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.tool} {self.outcome}"

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

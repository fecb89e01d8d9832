"""Test helpers shared by the apps' tests: real JWTs from the real login endpoint, a logger's messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework.test import APIClient

LOGIN_URL = "/api/v1/auth/login"

# Passwords of the users created by the project conftest's fixtures.
FIXTURE_PASSWORDS = {
    "owner@example.com": "owner-pass-1",
    "other@example.com": "other-pass-1",
    "staff@example.com": "staff-pass-1",
}


def login(email: str, password: str, *, client: APIClient | None = None) -> dict[str, Any]:
    """Log in through ``POST /api/v1/auth/login`` and return the token body (asserting success)."""
    response = (client or APIClient()).post(LOGIN_URL, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer_client(email: str, password: str | None = None) -> APIClient:
    """An ``APIClient`` that sends ``Authorization: Bearer <access token>`` from a real login."""
    tokens = login(email, password or FIXTURE_PASSWORDS[email])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    return client


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with the JSON error envelope (and ``code`` when given)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)  # works for DRF test responses and plain HttpResponses alike
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


class _MessageList(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def logged_messages(logger_name: str) -> Iterator[list[str]]:
    """The messages (INFO and up) that logger ``logger_name`` emits while the block runs, in order — whether or
    not it propagates to the root logger (pytest's ``caplog`` sees only those that do)."""
    handler = _MessageList()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)

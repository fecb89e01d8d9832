"""``logs/access.log``: exactly one line per request with method, path, status and duration."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.testing import logged_messages

LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms user=(?P<user>\S+)$")


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    with logged_messages("sigmasight.access") as lines:
        yield lines


def test_a_request_writes_exactly_one_access_line_with_method_path_status_and_duration(
    owner_client: APIClient, owner, access_lines: list[str]
) -> None:
    owner_client.get("/api/v1/auth/me", {"token": "should-not-be-logged"})

    assert len(access_lines) == 1
    match = LINE.match(access_lines[0])
    assert match, access_lines[0]
    assert match["method"] == "GET"
    assert match["path"] == "/api/v1/auth/me"
    assert match["status"] == "200"
    assert float(match["ms"]) >= 0
    assert "should-not-be-logged" not in access_lines[0]


def test_errors_are_logged_once_with_their_status(db, access_lines: list[str]) -> None:
    APIClient().get("/api/v1/auth/me")
    APIClient().get("/api/v1/nowhere")

    assert [LINE.match(line)["status"] for line in access_lines] == ["401", "404"]


def test_a_login_line_never_contains_the_password(owner, access_lines: list[str]) -> None:
    APIClient().post("/api/v1/auth/login", {"email": owner.email, "password": "owner-pass-1"}, format="json")

    assert len(access_lines) == 1
    assert "owner-pass-1" not in access_lines[0]
    assert LINE.match(access_lines[0])["status"] == "200"


def test_the_access_logger_writes_to_logs_access_log() -> None:
    handlers = logging.getLogger("sigmasight.access").handlers
    files = [Path(h.baseFilename) for h in handlers if isinstance(h, logging.FileHandler)]

    assert Path(settings.LOG_DIR) / "access.log" in files


def test_the_access_log_file_receives_the_line(db) -> None:
    handler = next(h for h in logging.getLogger("sigmasight.access").handlers if isinstance(h, logging.FileHandler))
    path = Path(handler.baseFilename)
    before = path.stat().st_size if path.exists() else 0

    APIClient().get("/health")
    handler.flush()

    written = path.read_bytes()[before:].decode().splitlines()
    ours = [line for line in written if " GET /health " in f" {line.split(' ', 2)[-1]} "]
    assert len(ours) == 1, written
    assert re.search(r"GET /health 200 \d+\.\dms", ours[0])

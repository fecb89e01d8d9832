"""Request parsers that turn every undecodable body into a 400, never a 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, plus: absurdly nested JSON (``[[[[…``) is a parse error, not a RecursionError 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc


def json_loads_safe(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a ``ValueError``: absurdly nested JSON (``[[[[…``)
    raises ``ValueError`` too instead of a ``RecursionError`` (for the chat websocket's frames,
    where an uncaught error closes the socket with 1011 instead of answering an ``error`` event)."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply.") from exc

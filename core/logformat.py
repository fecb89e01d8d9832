"""One log record, one line: the formatter every SigmaSight log handler uses.

Messages carry text that comes from outside — a requested path (``/x%0a2026-01-01 …`` decodes to a
line break), a user agent, a vendor's error body, a symbol from a CSV file. Written as is, a line
break in it starts a forged record and an escape sequence rewrites the terminal. ``SafeFormatter``
escapes every control character of the formatted record (``\\n`` → ``\\\\n``, ESC → ``\\\\x1b``), so
a record is exactly one line starting with its timestamp. A traceback (or stack) that follows keeps
its lines, each indented and escaped the same way: no line but a record's first starts at column 0.
Configured secrets (``core.secrets``) are written as ``***`` in the record and its traceback.
"""

from __future__ import annotations

import logging
import re

from core.secrets import secrets_redact

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TRACEBACK_INDENT = "    "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def control_escape(text: str) -> str:
    """``text`` with every control character (line breaks included) written as a backslash escape."""
    return _CONTROL.sub(_escape_one, text)


def _indented(text: str) -> str:
    return "\n".join(TRACEBACK_INDENT + control_escape(line) for line in secrets_redact(text).split("\n"))


class SafeFormatter(logging.Formatter):
    """``logging.Formatter`` whose record line is escaped and whose traceback lines are indented."""

    def format(self, record: logging.LogRecord) -> str:
        # Another handler's formatter may have cached its own (unescaped) traceback text on the record.
        cached = record.exc_text
        record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:
        return control_escape(secrets_redact(super().formatMessage(record)))

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))

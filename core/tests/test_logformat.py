"""Every log line is one record: control characters escaped, traceback lines indented (issue 17, item 9)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from django.conf import settings
from rest_framework.test import APIClient

from core.logformat import SafeFormatter, control_escape

RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ")
FORGED = "2026-01-01 00:00:00,000 GET /admin/ 200 1.0ms user=1"


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("sigmasight.test", logging.INFO, __file__, 1, message, args, exc_info)


def test_control_characters_are_written_as_escapes() -> None:
    assert control_escape("a\nb\rc\td\x1b[31me\x00f\x7fg\x85h\u2028i") == (
        "a\\nb\\rc\\td\\x1b[31me\\x00f\\x7fg\\x85h\\u2028i"
    )
    assert control_escape("plain /api/v1/ü €") == "plain /api/v1/ü €"


def test_a_forged_line_in_a_message_or_an_argument_stays_inside_its_record() -> None:
    formatter = SafeFormatter("%(asctime)s %(message)s")

    for record in (_record(f"GET /x\n{FORGED}"), _record("GET %s", f"/x\r\n{FORGED}")):
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line
        assert line.endswith(f"\\n{FORGED}")


def test_traceback_lines_are_indented_so_only_a_records_first_line_starts_at_column_0() -> None:
    formatter = SafeFormatter("%(asctime)s %(levelname)s %(message)s")
    try:
        raise ValueError(f"bad symbol\n{FORGED}")
    except ValueError:
        import sys

        record = _record("import failed", exc_info=sys.exc_info())
    record.exc_text = "unescaped text cached by another handler's formatter"

    lines = formatter.format(record).split("\n")

    assert RECORD.match(lines[0])
    assert all(line.startswith("    ") for line in lines[1:])
    assert any(line.strip() == "Traceback (most recent call last):" for line in lines)
    assert not any(RECORD.match(line) for line in lines[1:])
    assert record.exc_text == "unescaped text cached by another handler's formatter"  # left as found


def test_every_configured_handler_formats_with_the_safe_formatter() -> None:
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in settings.LOGGING["loggers"])]
    handlers = {h for logger in loggers for h in logger.handlers if h.formatter is not None}
    handlers = {h for h in handlers if type(h).__module__.startswith("logging")}  # not pytest's own
    assert handlers
    assert all(isinstance(h.formatter, SafeFormatter) for h in handlers)


def test_a_newline_in_a_requested_path_cannot_forge_an_access_log_line(db) -> None:
    access_log = Path(settings.LOG_DIR) / "access.log"
    before = access_log.read_text() if access_log.exists() else ""

    APIClient().get("/api/v1/nowhere%0a" + FORGED.replace(" ", "%20"))

    written = access_log.read_text()[len(before) :]
    lines = written.splitlines()
    assert len(lines) == 1, written
    assert RECORD.match(lines[0])
    assert f"/api/v1/nowhere\\n{FORGED}" in lines[0]

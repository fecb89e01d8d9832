"""``end_of_day``: final reports for the day, then one dated archive of that day's reports and log lines."""

from __future__ import annotations

import datetime as dt
import tarfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from conftest import ANALYTICS_AS_OF
from core.archive import day_archive_write

DAY = dt.date(2026, 11, 20)


def _members(path: Path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


def _write_logs(folder: Path) -> None:
    folder.mkdir()
    (folder / "app.log.1").write_text(
        "2026-11-19 23:59:59,999 INFO x the day before\n"
        "2026-11-20 00:00:01,000 ERROR x failed\n"
        "    Traceback (most recent call last):\n"
        "    ValueError: boom\n"
    )
    (folder / "app.log").write_text(
        "2026-11-20 17:00:00,000 INFO x batch done\n2026-11-21 09:00:00,000 INFO x next day\n    indented next day\n"
    )
    (folder / "access.log").write_text("2026-11-21 09:00:00,000 GET /health 200 1.0ms user=-\n")


def test_the_archive_holds_that_days_reports_and_the_log_records_from_that_day_on(tmp_path) -> None:
    reports = tmp_path / "reports"
    for name in ("book-a_2026-11-20", "book-b_2026-11-20", "book-a_2026-11-19"):
        (reports / name).mkdir(parents=True)
        (reports / name / "portfolio_report.md").write_text(f"# {name}\n")
    _write_logs(tmp_path / "logs")

    archive = day_archive_write(
        day=DAY, reports_dir=reports, log_dir=tmp_path / "logs", archive_dir=tmp_path / "archive"
    )

    assert archive.path == tmp_path / "archive" / "sigmasight_2026-11-20.tar.gz"
    members = _members(archive.path)
    assert members["reports/book-a_2026-11-20/portfolio_report.md"] == "# book-a_2026-11-20\n"
    assert "reports/book-b_2026-11-20/portfolio_report.md" in members
    assert not [m for m in members if "2026-11-19" in m]
    # Rotated backup first, the traceback kept with its record, the day before left out; records after the
    # day stay (a past session closed later keeps the batch that computed it), continuation lines too.
    assert members["logs/app.log"] == (
        "2026-11-20 00:00:01,000 ERROR x failed\n"
        "    Traceback (most recent call last):\n"
        "    ValueError: boom\n"
        "2026-11-20 17:00:00,000 INFO x batch done\n"
        "2026-11-21 09:00:00,000 INFO x next day\n"
        "    indented next day\n"
    )
    assert members["logs/access.log"] == "2026-11-21 09:00:00,000 GET /health 200 1.0ms user=-\n"
    assert archive.log_lines == {"access.log": 1, "app.log": 6}


def test_a_rerun_replaces_the_days_archive_whole(tmp_path) -> None:
    reports = tmp_path / "reports"
    (reports / "book_2026-11-20").mkdir(parents=True)
    (reports / "book_2026-11-20" / "portfolio_report.md").write_text("first\n")
    kwargs = {"day": DAY, "reports_dir": reports, "log_dir": tmp_path / "no-logs", "archive_dir": tmp_path / "a"}
    day_archive_write(**kwargs)
    (reports / "book_2026-11-20" / "portfolio_report.md").write_text("second\n")

    archive = day_archive_write(**kwargs)

    assert _members(archive.path) == {"reports/book_2026-11-20/portfolio_report.md": "second\n"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["sigmasight_2026-11-20.tar.gz"]  # no leftovers


def test_a_bad_date_is_refused(db) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--date must be YYYY-MM-DD"):
        call_command("end_of_day", date="20-11-2026")


def test_end_of_day_writes_the_final_reports_then_archives_them(analytics_demo, settings, tmp_path) -> None:
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.ARCHIVE_DIR = tmp_path / "archive"
    settings.LOG_DIR = tmp_path / "logs"
    _write_logs(tmp_path / "logs")
    out = StringIO()

    call_command("end_of_day", date=ANALYTICS_AS_OF.isoformat(), stdout=out)

    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(written) == 3 and all(name.endswith("_2026-11-20") for name in written)
    members = _members(tmp_path / "archive" / "sigmasight_2026-11-20.tar.gz")
    for folder in written:
        for ext in ("md", "json", "csv", "html"):
            assert f"reports/{folder}/portfolio_report.{ext}" in members
    assert "batch done" in members["logs/app.log"]
    text = out.getvalue()
    assert "Archived 3 report folder(s)" in text
    assert "latest batch" not in text  # the batch for that day completed: no warning


def test_end_of_day_warns_when_the_days_batch_has_not_run(analytics_demo, settings, tmp_path) -> None:
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.ARCHIVE_DIR = tmp_path / "archive"
    out = StringIO()

    call_command("end_of_day", date="2026-11-23", skip_reports=True, stdout=out)

    assert "the latest batch is completed for 2026-11-20" in out.getvalue()
    assert (tmp_path / "archive" / "sigmasight_2026-11-23.tar.gz").exists()

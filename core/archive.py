"""The end of day's archive: one ``sigmasight_<date>.tar.gz`` with that day's reports and log records.

Inside: ``reports/<portfolio-slug>_<date>/portfolio_report.*`` (each report folder of that date) and
``logs/<name>.log`` — the records of every log (rotated backups included, oldest first) stamped on
that date or later, with their traceback lines (which ``core.logformat`` indents, so a record's
continuation never starts at column 0). "Or later": a day closed after midnight, or a past session
computed today (after a holiday), keeps the records of the batch that computed it. Log timestamps
are the machine's local time, as the log files write them. The archive is written to a temporary
file and renamed into place, so a rerun for the same date replaces it whole and a reader never sees
half of one.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# A record's first line: "2026-11-20 17:05:01,123 ..." (logging's asctime).
_RECORD_START = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
ARCHIVE_PREFIX = "sigmasight_"


@dataclass
class DayArchive:
    """What one archive holds."""

    path: Path
    day: dt.date
    report_folders: list[str] = field(default_factory=list)
    log_lines: dict[str, int] = field(default_factory=dict)


def _rotation_order(log_dir: Path, name: str) -> list[Path]:
    """``name.N`` … ``name.1`` then ``name``: oldest records first."""
    backups = []
    for path in log_dir.glob(f"{name}.*"):
        suffix = path.name[len(name) + 1 :]
        if suffix.isdigit():
            backups.append((int(suffix), path))
    ordered = [path for _n, path in sorted(backups, reverse=True)]
    current = log_dir / name
    return [*ordered, current] if current.is_file() else ordered


def log_lines_since(*, paths: list[Path], day: dt.date) -> list[str]:
    """The lines of the records stamped ``day`` or later (with their continuation lines) across ``paths``."""
    first = day.isoformat()
    kept: list[str] = []
    for path in paths:
        inside = False
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if _RECORD_START.match(line):
                    inside = line[:10] >= first  # ISO dates compare as text
                if inside:
                    kept.append(line if line.endswith("\n") else line + "\n")
    return kept


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def day_archive_write(*, day: dt.date, reports_dir: Path, log_dir: Path, archive_dir: Path) -> DayArchive:
    """Write ``<archive_dir>/sigmasight_<day>.tar.gz`` (replacing one from an earlier run) and describe it."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    target = archive_dir / f"{ARCHIVE_PREFIX}{day.isoformat()}.tar.gz"
    result = DayArchive(path=target, day=day)
    report_folders = (
        sorted(p for p in reports_dir.glob(f"*_{day.isoformat()}") if p.is_dir()) if reports_dir.is_dir() else []
    )
    log_names = sorted(p.name for p in log_dir.glob("*.log") if p.is_file()) if log_dir.is_dir() else []
    fd, staging_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=archive_dir)
    staging = Path(staging_name)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for folder in report_folders:
                for file in sorted(folder.iterdir()):
                    if file.is_file():
                        # Read whole (reports are small): a rerun of the batch replacing it mid-read cannot tear it.
                        _add_bytes(tar, f"reports/{folder.name}/{file.name}", file.read_bytes())
                result.report_folders.append(folder.name)
            for name in log_names:
                lines = log_lines_since(paths=_rotation_order(log_dir, name), day=day)
                _add_bytes(tar, f"logs/{name}", "".join(lines).encode("utf-8"))
                result.log_lines[name] = len(lines)
        staging.chmod(0o644)
        staging.replace(target)
    finally:
        if staging.exists():
            staging.unlink()
    return result

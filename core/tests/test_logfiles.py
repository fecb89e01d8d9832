"""Several processes writing and rotating one log file (``core.logfiles.SharedRotatingFileHandler``): no record
lost or duplicated, each rotated file full (not rotated again by a second process), records whole."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from core.logfiles import SharedRotatingFileHandler

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import logging, sys, time
sys.path.insert(0, {root!r})
from {module} import {handler}
handler = {handler}({path!r}, maxBytes={max_bytes}, backupCount={backups}, encoding="utf-8")
handler.setFormatter(logging.Formatter("%(message)s"))
log = logging.getLogger("writer")
log.addHandler(handler)
log.setLevel(logging.INFO)
while time.time() < {start_at}:  # every process starts writing at once
    time.sleep(0.001)
for i in range({count}):
    log.info("process %s record %05d %s", {process}, i, "x" * 60)
"""


def write_concurrently(path: Path, *, processes: int, count: int, max_bytes: int, handler: str) -> None:
    module, name = handler.rsplit(".", 1)
    start_at = time.time() + 1.5  # after the interpreters have started
    scripts = [
        WRITER.format(
            root=str(ROOT),
            module=module,
            handler=name,
            path=str(path),
            max_bytes=max_bytes,
            backups=1000,
            count=count,
            process=p,
            start_at=start_at,
        )
        for p in range(processes)
    ]
    running = [subprocess.Popen([sys.executable, "-c", script]) for script in scripts]
    assert [proc.wait(60) for proc in running] == [0] * processes


def log_files(path: Path) -> list[Path]:
    """The current file and its backups, oldest first."""
    backups = sorted(path.parent.glob(f"{path.name}.[0-9]*"), key=lambda p: int(p.suffix[1:]), reverse=True)
    return [*backups, path]


def test_several_processes_rotate_one_file_without_losing_or_splitting_a_record(tmp_path: Path) -> None:
    path, processes, count, max_bytes = tmp_path / "app.log", 3, 3000, 20_000
    write_concurrently(
        path, processes=processes, count=count, max_bytes=max_bytes, handler="core.logfiles.SharedRotatingFileHandler"
    )
    files = log_files(path)
    lines = [line for file in files for line in file.read_text(encoding="utf-8").splitlines()]

    assert sorted(lines) == sorted(
        f"process {p} record {i:05d} {'x' * 60}" for p in range(processes) for i in range(count)
    )  # every record once, whole
    for p in range(processes):  # each process's records in its order, across the files
        mine = [line for line in lines if line.startswith(f"process {p} ")]
        assert mine == sorted(mine)
    line_bytes = len(lines[0]) + 1
    rotated = files[:-1]
    assert len(rotated) >= processes * count * line_bytes // max_bytes - 1
    for file in rotated:  # rotated once, when full: not again by a process that still wrote to it
        size = file.stat().st_size
        assert max_bytes - line_bytes <= size <= max_bytes + processes * line_bytes, (file.name, size)


@pytest.mark.parametrize(
    ("handler_class", "second_rotates_again"),
    [(SharedRotatingFileHandler, False), (RotatingFileHandler, True)],
    ids=["shared", "standard library"],
)
def test_a_second_writer_follows_a_rotation_instead_of_rotating_again(
    tmp_path: Path, handler_class: type[RotatingFileHandler], second_rotates_again: bool
) -> None:
    """Two writers of one file (two processes' handlers, here in turn): the first fills it and rotates it; the
    second's next record goes into the fresh file. The standard library's handler, still measuring the renamed
    file, rotates again: the fresh file, one record long, becomes ``.1`` (why the class exists)."""
    path, max_bytes = tmp_path / "app.log", 1_050
    first, second = (handler_class(path, maxBytes=max_bytes, backupCount=10, encoding="utf-8") for _ in range(2))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("r" * 99,), None)  # 100 bytes a line
    try:
        for _ in range(9):
            first.emit(record)
        second.emit(record)  # 1,000 bytes: the next record would pass 1,050
        first.emit(record)  # rotates: app.log.1 holds the ten records, app.log this one
        second.emit(record)
    finally:
        first.close()
        second.close()
    sizes = {file.name: file.stat().st_size for file in log_files(path)}
    if second_rotates_again:
        assert sizes == {"app.log.2": 1_000, "app.log.1": 100, "app.log": 100}, sizes
    else:
        assert sizes == {"app.log.1": 1_000, "app.log": 200}, sizes


def test_a_file_removed_or_moved_away_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    handler = SharedRotatingFileHandler(path, maxBytes=10_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "line %s", ("one",), None)
    try:
        handler.emit(record)
        path.rename(tmp_path / "elsewhere.log")  # logrotate, or another process's rotation
        record.args = ("two",)
        handler.emit(record)
    finally:
        handler.close()
    assert (tmp_path / "elsewhere.log").read_text() == "line one\n"
    assert path.read_text() == "line two\n"


@pytest.mark.parametrize("name", ["app", "access", "market_data", "agent"])
def test_every_log_file_of_the_settings_is_shared_and_rotating(name: str) -> None:
    from django.conf import settings

    handler = settings.LOGGING["handlers"][name]
    assert handler["class"] == "core.logfiles.SharedRotatingFileHandler"
    assert handler["maxBytes"] > 0 and handler["backupCount"] > 0

"""``manage.py``: output piped into a reader that stops early ends quietly, for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["help"], ["check"], ["stop"], ["diffsettings", "--all"]])
def test_a_closed_pipe_ends_the_command_quietly_with_the_sigpipe_status(command: list[str]) -> None:
    # `manage.py … | head -1` once head has exited: the reading end is closed before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)

    assert result.returncode == 141  # 128 + SIGPIPE, as `cat` or `grep` would report
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr
    assert result.stderr == ""


def test_a_reader_that_stops_after_the_first_lines_gets_them_and_no_error() -> None:
    result = subprocess.run(  # noqa: S602  (the pipe is the point; nothing in it comes from input)
        f"{sys.executable} manage.py help | head -2",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        executable="/bin/bash",
    )
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == ""

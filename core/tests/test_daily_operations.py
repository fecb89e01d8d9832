"""The README's "Daily operations", run as written: every block marked ``<!-- daily-ops -->``, in order, as
one bash script against a fresh demo (its own SQLite database and data folder, a free port). The demo is
``manage.py demo --no-serve`` run in this environment once per test run (the ``demo_folder`` fixture,
shared with the browser tests); the day works on a copy of its folder.

The day starts the server and the worker in the background, talks to them with curl, and ends with
``end_of_day --stop``; so the test also proves the demo's local SECRET_KEY file, the pid files, the
clean stop, the archive, and that a pipe into ``head`` ends quietly. A command renamed or an option
dropped in the code fails here until the README says the same.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import build_env

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- daily-ops -->"


def readme_blocks() -> list[str]:
    """The bash blocks that follow a ``<!-- daily-ops -->`` line, in README order."""
    text = (ROOT / "README.md").read_text()
    pattern = re.compile(re.escape(MARKER) + r"\s*\n```bash\n(.*?)\n```", re.DOTALL)
    return pattern.findall(text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_readme_marks_every_step_of_the_day() -> None:
    blocks = readme_blocks()
    assert len(blocks) == 9
    script = "\n".join(blocks)
    for command in ("doctor", "serve", "worker", "sync_market_data", "run_batch", "generate_reports", "end_of_day"):
        assert f"manage.py {command}" in script, command
    assert "/api/v1/agent/chat" in script and "/health" in script


@pytest.mark.slow
def test_every_daily_operations_command_runs_against_a_fresh_demo(tmp_path, demo_folder) -> None:
    data = tmp_path / "data"
    work = tmp_path / "work"  # relative files the day writes (aapl.csv, doctor.json) land here
    work.mkdir()
    (work / "manage.py").symlink_to(ROOT / "manage.py")
    port = _free_port()
    # Generated locations follow DATA_DIR, no SECRET_KEY (the demo's key file), the folder's SQLite file;
    # the project's packages from this checkout (the script's own folder is `work`).
    env = build_env(data, PY=sys.executable, PORT=str(port))

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )

    shutil.copytree(demo_folder, data)  # `manage.py demo --no-serve` with this environment, made once per run
    assert (data / "secret_key").is_file()  # no SECRET_KEY in the environment: the demo made one

    log = tmp_path / "day.out"
    script = "set -eu\n" + "\n".join(readme_blocks()) + "\n"
    try:
        with log.open("w") as out:
            day = subprocess.run(
                ["bash", "-c", script], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=400
            )
    finally:
        manage("stop", "--kill", "--timeout", "5")  # whatever a failed step left running
    output = log.read_text()

    assert day.returncode == 0, output[-6000:]
    assert "Traceback" not in output and "BrokenPipeError" not in output, output[-6000:]
    assert "Users: 3" in output and "Total Positions: 63" in output
    assert f"Serving on http://127.0.0.1:{port}/" in output
    assert "Q Cluster" in output  # the worker's lines on its terminal
    assert '"status": "healthy"' in output
    assert f"port {port} — serving: SigmaSight at http://127.0.0.1:{port}/ is healthy, on this database" in output
    assert "Imported 5 bars for 1 symbols" in output
    assert "factor model: fitting every symbol's betas (for stress_test, var)" in output
    assert '"access_token"' not in output  # the token went into $TOKEN, not onto the screen
    assert '"reply"' in output and "event: done" in output
    assert re.search(r"serve \(pid \d+\) stopped", output) and re.search(r"worker \(pid \d+\) stopped", output)
    assert not list((data / "run").glob("*.pid"))
    [archive] = (data / "archive").glob("sigmasight_*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert sum(name.endswith("/portfolio_report.html") for name in names) == 3
    assert "logs/access.log" in names
    assert (work / "aapl.csv").is_file() and (work / "doctor.json").is_file()

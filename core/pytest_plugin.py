"""pytest plugin (``-p core.pytest_plugin`` in pyproject's addopts): a test run writes only to a temp folder.

Loaded before pytest-django reads the settings, it points the data folder — and with it the logs,
reports, archives, pid files and calendar cache — at a fresh temporary folder, so that ``make test``
never adds its requests to ``var/logs/access.log``, its fake vendors' 429s to ``market_data.log``
or its reports to a user's ``var/reports/``. Subprocesses started by tests inherit the environment
and so write there too. The folder is removed when the run ends. A run-local random ``SECRET_KEY``
is set when none is (production settings refuse to start without one).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile

import pytest

# Set explicitly rather than derived: a developer's own values (shell or .env) must not leak in.
_DERIVED = {
    "LOG_DIR": "logs",
    "REPORTS_DIR": "reports",
    "ARCHIVE_DIR": "archive",
    "RUN_DIR": "run",
    "STATIC_ROOT": "static",
}

_DATA_DIR = tempfile.mkdtemp(prefix="sigmasight-test-")
os.environ["DATA_DIR"] = _DATA_DIR
for _name, _folder in _DERIVED.items():
    os.environ[_name] = os.path.join(_DATA_DIR, _folder)
os.environ.setdefault("CALENDAR_CACHE_DIR", os.path.join(_DATA_DIR, "cache"))
os.environ.setdefault("SECRET_KEY", "test-" + secrets.token_urlsafe(48))


def test_data_dir() -> str:
    """The temporary data folder of this test run."""
    return _DATA_DIR


test_data_dir.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)

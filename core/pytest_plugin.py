"""pytest plugin (``-p core.pytest_plugin`` in pyproject's addopts): a test run writes only to a temp folder.

Loaded before pytest-django reads the settings, it points the data folder — and with it the logs,
reports, archives, pid files and calendar cache — at a fresh temporary folder, so that ``make test``
never adds its requests to ``var/logs/access.log``, its fake vendors' 429s to ``market_data.log``
or its reports to a user's ``var/reports/``. Subprocesses started by tests inherit the environment
and so write there too. The folder is removed when the run ends. A run-local random ``SECRET_KEY``
is set when none is (production settings refuse to start without one).

Under pytest-xdist (``make test`` runs ``-n 2``) each worker is a separate test run: its own data
folder and test database (pytest-django suffixes the name with the worker id), and its own Redis
database — worker ``gwN`` uses database ``base + N`` of ``REDIS_URL`` — since the tests empty the
cache (``FLUSHDB``) before and after each test and two workers must not empty each other's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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

REDIS_DATABASES = 16  # Redis's default ``databases``


def redis_url_for_worker(url: str, worker: str) -> str:
    """``url`` moved to database ``base + N`` for xdist worker ``gwN`` (modulo 16); other URLs unchanged.

    ``redis://host:port/3`` for ``gw1`` is ``redis://host:port/4``; a URL without a database is
    database 0. A ``unix://`` socket URL (``?db=``) and a worker name not of the form ``gwN`` are
    returned as they are.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not worker.startswith("gw") or not worker[2:].isdigit():
        return url
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + int(worker[2:])) % REDIS_DATABASES}"))


_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER:
    from sigmasight.env import load_dotenv

    load_dotenv(Path(__file__).resolve().parents[1] / ".env")  # a REDIS_URL there counts (the settings read it too)
REDIS_URL_GIVEN = os.environ.get("REDIS_URL", "")  # before the worker's move (tests compare)
if _WORKER and REDIS_URL_GIVEN:
    os.environ["REDIS_URL"] = redis_url_for_worker(REDIS_URL_GIVEN, _WORKER)


def test_data_dir() -> str:
    """The temporary data folder of this test run."""
    return _DATA_DIR


test_data_dir.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)

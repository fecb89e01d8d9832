"""Start-up: a bad environment value is one line naming the variable; no usable SECRET_KEY outside DEBUG;
generated files under the data folder (and, in a test run, under a temporary one)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from sigmasight.env import ConfigError, data_dir, demo_secret_key_ensure, env_bool, env_database, env_int

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysqll://x"),
        ("DEBUG", "maybe"),
        ("MARKET_DATA_PROVIDER", "bloomberg"),
        ("RISK_FREE_RATE", "abc"),
        ("REDIS_URL", "http://localhost"),
        ("AGENT_PROVIDER", "skynet"),
    ],
)
def test_a_bad_value_fails_start_up_naming_the_variable(name, value):
    env = {**os.environ, name: value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    # One line, naming the variable; no traceback through Django's start-up.
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Configuration error: {name}:")
    assert "Traceback" not in result.stderr


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _env_without_key(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return {**env, "DATA_DIR": str(data_dir), **extra}


def test_without_a_secret_key_production_settings_refuse_to_start_naming_it(tmp_path):
    result = _run("check", env=_env_without_key(tmp_path))

    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: SECRET_KEY: not set")
    assert "manage.py demo" in result.stderr and "Traceback" not in result.stderr


def test_with_debug_on_the_public_debug_key_is_used_and_check_deploy_flags_it(tmp_path):
    result = _run("check", "--deploy", env=_env_without_key(tmp_path, DEBUG="true"))

    assert "sigmasight.E001" in result.stderr  # a published key
    assert "security.W009" in result.stderr  # Django's own check sees the django-insecure- prefix
    assert result.returncode != 0


def test_check_deploy_flags_the_key_that_earlier_versions_committed(tmp_path):
    env = _env_without_key(tmp_path, SECRET_KEY="sigmasight-insecure-local-key-change-me-0123456789abcdef")
    result = _run("check", "--deploy", env=env)

    assert "sigmasight.E001" in result.stderr and result.returncode != 0


def test_the_demo_key_file_is_created_once_private_and_used_by_the_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    base = tmp_path / "project"  # no .env there

    assert demo_secret_key_ensure(base) is True
    key_file = tmp_path / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert demo_secret_key_ensure(base) is False  # kept: sessions and tokens survive the next demo
    assert key_file.read_text().strip() == key

    result = _run("check", "--deploy", env=_env_without_key(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "sigmasight.W001" in result.stderr  # fine for the demo, flagged for a deployment


def test_a_key_in_the_environment_means_no_key_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 60)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    assert demo_secret_key_ensure(tmp_path / "project") is False
    assert not (tmp_path / "secret_key").exists()


def test_generated_files_default_to_var_in_the_project(monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    assert data_dir(ROOT) == ROOT / "var"


def test_every_generated_location_follows_the_data_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_DIR", "_ROOT")) and k != "DATABASE_URL"}
    env["DATA_DIR"] = str(tmp_path / "data")
    names = ["LOG_DIR", "REPORTS_DIR", "CALENDAR_CACHE_DIR", "ARCHIVE_DIR", "RUN_DIR", "STATIC_ROOT"]
    code = (
        "from django.conf import settings\n"
        f"for name in {names!r}: print(getattr(settings, name))\n"
        "print(settings.DATABASES['default']['NAME'])\n"
    )
    result = _run("shell", "--no-imports", "-c", code, env=env)

    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    expected = ["logs", "reports", "cache", "archive", "run", "static", "db.sqlite3"]
    assert result.stdout.split() == [str(data / name) for name in expected]


def test_this_test_run_writes_nothing_under_the_project():
    """Logs, reports and the rest go to the run's temporary data folder (core.pytest_plugin)."""
    from django.conf import settings

    from core.pytest_plugin import test_data_dir

    temporary = Path(test_data_dir())
    for name in ("DATA_DIR", "LOG_DIR", "REPORTS_DIR", "ARCHIVE_DIR", "RUN_DIR", "STATIC_ROOT"):
        location = Path(getattr(settings, name))
        assert location.is_relative_to(temporary), (name, location)
        assert not location.is_relative_to(ROOT), (name, location)
    handlers = [h for h in logging.getLogger("sigmasight.access").handlers if isinstance(h, RotatingFileHandler)]
    assert handlers and all(Path(h.baseFilename).is_relative_to(temporary) for h in handlers)


def test_helpers_parse_good_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "7")
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/sigma")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 7
    assert env_database("X_DB", "")["NAME"] == "sigma"
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ConfigError, match="X_INT"):
        env_int("X_INT", 1, minimum=0)

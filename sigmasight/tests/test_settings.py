"""Bad environment values stop start-up with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sigmasight.env import ConfigError, env_bool, env_database, env_int

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
    assert result.returncode != 0
    assert f"{name}:" in result.stderr


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

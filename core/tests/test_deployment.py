"""The Docker deployment, checked without Docker: the Compose start-up order, the image's layers, the
build context, secrets, and that ``.env.example`` documents every variable the settings read.

The Compose file is parsed (YAML anchors and merge keys resolved, as Compose does) and its start-up
is simulated: a service starts once each of its ``depends_on`` conditions holds — ``service_started``
(the dependency runs), ``service_healthy`` (it runs and has a health check that passes),
``service_completed_successfully`` (a one-shot that ran to exit 0). hadolint and the Compose
specification's JSON schema (vendored in ``.ci/schemas``) lint the files themselves.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ONE_SHOTS = {"migrate", "demo"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _active(compose: dict[str, Any], profiles: set[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """The services `docker compose up` starts with these profiles enabled."""
    return {
        name: spec
        for name, spec in compose["services"].items()
        if not spec.get("profiles") or set(spec["profiles"]) & profiles
    }


def _depends(spec: dict[str, Any]) -> dict[str, str]:
    depends = spec.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: (cond or {}).get("condition", "service_started") for name, cond in depends.items()}


def _has_healthcheck(spec: dict[str, Any]) -> bool:
    check = spec.get("healthcheck")
    if check is None:  # the image's HEALTHCHECK applies (the Dockerfile's), for services built from it
        return "build" in spec
    return not check.get("disable", False)


def start_order(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Waves of services as Compose would start them; raises when some can never start."""
    state: dict[str, str] = {}  # name -> "running" | "healthy" | "completed"
    waves: list[list[str]] = []
    pending = set(services)
    while pending:
        wave = []
        for name in sorted(pending):
            conditions = _depends(services[name])
            missing = [d for d in conditions if d not in services]
            assert not missing, f"{name} depends on {missing}, which do not start with it"
            ready = all(
                (cond == "service_started" and d in state)
                or (cond == "service_healthy" and state.get(d) == "healthy")
                or (cond == "service_completed_successfully" and state.get(d) == "completed")
                for d, cond in conditions.items()
            )
            if ready:
                wave.append(name)
        if not wave:
            raise AssertionError(f"deadlock: {sorted(pending)} wait for conditions that never hold")
        for name in wave:
            pending.remove(name)
            spec = services[name]
            if name in ONE_SHOTS:
                state[name] = "completed"
            else:
                state[name] = "healthy" if _has_healthcheck(spec) else "running"
        waves.append(wave)
    return waves


# --- start-up order -------------------------------------------------------------------------------


def test_production_starts_db_and_redis_then_migrates_once_then_app_and_worker(compose) -> None:
    assert start_order(_active(compose)) == [["db", "redis"], ["migrate"], ["app", "worker"]]


def test_the_demo_profile_runs_after_the_migrations(compose) -> None:
    assert start_order(_active(compose, {"demo"})) == [["db", "redis"], ["migrate"], ["app", "demo", "worker"]]


def test_app_and_worker_wait_for_the_migrations_to_finish_not_just_to_start(compose) -> None:
    services = compose["services"]
    for name in ("app", "worker"):
        assert _depends(services[name])["migrate"] == "service_completed_successfully"
    assert _depends(services["migrate"]) == {"db": "service_healthy", "redis": "service_healthy"}
    assert "migrate --noinput" in " ".join(services["migrate"]["command"])


def test_the_simulation_catches_a_worker_that_only_waits_for_the_database(compose) -> None:
    """The check can fail: the original file started the worker before the app had migrated."""
    services = {k: dict(v) for k, v in _active(compose).items()}
    services["worker"]["depends_on"] = {"db": {"condition": "service_healthy"}}
    waves = start_order(services)
    wave = {name: i for i, names in enumerate(waves) for name in names}
    assert wave["worker"] <= wave["migrate"]  # the worker could start on an unmigrated database
    services["app"]["depends_on"] = {"ghost": {"condition": "service_healthy"}}
    with pytest.raises(AssertionError, match="ghost"):
        start_order(services)


def test_a_plain_up_never_runs_the_demo_or_resets_the_admin(compose) -> None:
    for name, spec in _active(compose).items():
        command = " ".join(spec.get("command") or [])
        assert "demo" not in command and "seed_demo" not in command and "createsuperuser" not in command, name
    assert compose["services"]["demo"]["profiles"] == ["demo"]


def test_long_running_services_restart_and_one_shots_do_not(compose) -> None:
    for name, spec in compose["services"].items():
        expected = "no" if name in ONE_SHOTS else "unless-stopped"
        assert spec.get("restart") == expected, name


def test_secrets_come_from_the_env_file_never_from_the_compose_file(compose) -> None:
    settings_lines = [
        line for line in (ROOT / "docker-compose.yml").read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    assert not [line for line in settings_lines if "change-me" in line or "admin12345" in line]
    app = compose["services"]["app"]
    assert app["env_file"] == [{"path": ".env", "required": True}]
    assert app["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in app["environment"]["DATABASE_URL"]
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_generated_files_live_in_a_volume_and_pid_files_do_not(compose) -> None:
    for name in ("app", "worker", "migrate"):
        spec = compose["services"][name]
        assert "data:/app/var" in spec["volumes"]
        assert spec["environment"]["DATA_DIR"] == "/app/var"
        assert not spec["environment"]["RUN_DIR"].startswith("/app/var")  # pids are per container
    assert {"data", "pgdata", "redisdata"} <= set(compose["volumes"])


def test_the_commands_the_services_run_exist() -> None:
    from django.core.management import get_commands

    commands = get_commands()
    for name in ("serve", "worker", "migrate", "setup_schedules", "demo"):
        assert name in commands, name


# --- the image ------------------------------------------------------------------------------------


def test_the_image_caches_dependencies_before_the_code_and_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(froms) >= 2  # build and runtime stages
    copy_all = next(i for i, line in enumerate(lines) if re.match(r"COPY (--chown=\S+ )?\. \.", line))
    deps = next(i for i, line in enumerate(lines) if line.startswith("COPY pyproject.toml constraints.txt"))
    install = next(i for i, line in enumerate(lines) if "pip install" in line and i > deps)
    assert deps < install < froms[1] < copy_all
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any("collectstatic" in line for line in lines)


def test_the_build_context_leaves_out_generated_and_secret_files() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for entry in (".venv", ".git", ".env", "var/", "db.sqlite3", "logs/"):
        assert entry in ignored, entry


def test_hadolint_passes_the_dockerfile() -> None:
    result = subprocess.run([BIN / "hadolint", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = ROOT / ".ci" / "schemas" / "compose-spec.json"
    result = subprocess.run(
        [BIN / "check-jsonschema", "--schemafile", schema, "docker-compose.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- configuration documented ------------------------------------------------------------------------


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "sigmasight" / "settings.py").read_text()
    return set(re.findall(r'env_[a-z_]+\(\s*"([A-Z][A-Z0-9_]*)"', source)) | {"DATA_DIR"}


def test_env_example_and_the_readme_document_every_variable_the_settings_read() -> None:
    test_only = {"FAST_PASSWORD_HASHER"}
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    readme = (ROOT / "README.md").read_text()
    for name in sorted(_variables_read_by_settings() - test_only):
        assert name in documented, f"{name} is missing from .env.example"
        assert f"`{name}`" in readme, f"{name} is missing from the README's configuration table"

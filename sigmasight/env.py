"""Strict readers for settings that come from the environment (and an optional ``.env`` file).

Every reader names the variable in its error, so a bad value stops start-up with a message that
says what to fix (e.g. ``DATABASE_URL: unsupported scheme 'mysqll'``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

SUPPORTED_DB_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql", "psql")


class ConfigError(ImproperlyConfigured):
    """A setting read from the environment has a value SigmaSight cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


def load_dotenv(path: Path) -> None:
    """Read ``path`` (if present) into ``os.environ``; real environment variables win."""
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, f"expected a boolean (true/false/1/0), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(name, f"must lie in [{minimum}, {maximum}], got {value}")
    return value


def env_choice(name: str, default: str, choices: Sequence[str]) -> str:
    value = env_str(name, default).lower() or default
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_list(name: str, default: Sequence[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of IP networks (``10.0.0.0/8, 2001:db8::/32``) or addresses."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(name, f"expected IP networks like 10.0.0.0/8, got {item!r}") from None
    return networks


def env_database(name: str, default: str) -> dict[str, object]:
    """Parse a database URL (``sqlite:///path`` or ``postgres://user@host:5432/db``)."""
    url = env_str(name, default) or default
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SUPPORTED_DB_SCHEMES:
        raise ConfigError(
            name,
            f"unsupported or missing scheme in {url!r}; use sqlite:///path or postgres://user@host:port/db",
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        raise ConfigError(name, f"cannot parse {url!r}: {exc}") from exc
    if not config.get("NAME"):
        raise ConfigError(name, f"no database name in {url!r}")
    return config


def env_redis_url(name: str) -> str:
    url = env_str(name)
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(name, f"expected redis://host:port/db, got {url!r}")
    return url


def env_path(name: str, default: Path, *, base: Path | None = None) -> Path:
    """A folder or file path; ``~`` is expanded and a relative value is taken from ``base`` (the project
    folder, so that ``DATA_DIR=var`` means the same wherever the command is started from)."""
    raw = env_str(name)
    if not raw:
        return default
    if "\x00" in raw:
        raise ConfigError(name, "contains a NUL character")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (base or Path.cwd()) / path


# --- SECRET_KEY ---------------------------------------------------------------------------------
# Django signs sessions, CSRF tokens and (through simplejwt) every access and refresh token with
# SECRET_KEY, so a key that is public (committed, documented, shared between installations) lets
# anyone forge a login. Outside DEBUG there is therefore no default: the key comes from the
# environment, or from a file of random bytes that `manage.py demo` creates once per installation.

# Used only with DEBUG on. Public on purpose: the "django-insecure-" prefix makes `check --deploy` flag it.
DEBUG_SECRET_KEY = "django-insecure-sigmasight-debug-only-key-never-use-in-production-0123456789"  # noqa: S105
SECRET_KEY_MIN_LENGTH = 50  # Django's own deploy check (security.W009) asks for at least 50 characters
SECRET_KEY_FILENAME = "secret_key"  # noqa: S105  (a file name in DATA_DIR, not a key)
MISSING_KEY_HELP = (
    "set SECRET_KEY in the environment or in .env (generate one with: "
    "python -c 'import secrets; print(secrets.token_urlsafe(50))'), or run `python manage.py demo` "
    "(`make demo`), which creates a local key file for this installation"
)


def secret_key_file_read(path: Path) -> str:
    """The key kept in ``path`` by :func:`secret_key_file_ensure`, or ``""`` when there is none."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError("SECRET_KEY", f"cannot read the local key file {path}: {exc.strerror}") from None


def secret_key_file_ensure(path: Path) -> bool:
    """Create ``path`` with a new random key (owner-only permissions) unless it exists; True if created."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two demos started at once never overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(SECRET_KEY_MIN_LENGTH) + "\n")
    return True


def data_dir(base_dir: Path) -> Path:
    """``DATA_DIR``: where everything SigmaSight generates lives (default ``<project>/var``)."""
    return env_path("DATA_DIR", base_dir / "var", base=base_dir)


def demo_secret_key_ensure(base_dir: Path) -> bool:
    """Before ``manage.py demo`` loads the settings: create the local key file unless a key is set.

    Reads ``.env`` first (a key or ``DATA_DIR`` there counts). Returns True if a file was created.
    """
    load_dotenv(base_dir / ".env")
    if env_str("SECRET_KEY"):
        return False
    return secret_key_file_ensure(data_dir(base_dir) / SECRET_KEY_FILENAME)

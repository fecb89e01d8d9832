"""System checks of the deployment (``manage.py check --deploy``) beyond Django's own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from sigmasight.env import DEBUG_SECRET_KEY

# Keys that have been public: the default committed in earlier versions and the old docker-compose value.
PUBLISHED_SECRET_KEYS = frozenset(
    {
        "sigmasight-insecure-local-key-change-me-0123456789abcdef",
        "change-me-in-production",
        DEBUG_SECRET_KEY,
    }
)


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A published SECRET_KEY lets anyone sign a session or a JWT for any user: an error, not a warning."""
    if settings.SECRET_KEY in PUBLISHED_SECRET_KEYS:
        return [
            checks.Error(
                "SECRET_KEY is a published value: anyone can forge sessions and API tokens with it.",
                hint="Set a new random SECRET_KEY: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                id="sigmasight.E001",
            )
        ]
    if getattr(settings, "KEY_ORIGIN", "") == "file":
        return [
            checks.Warning(
                f"SECRET_KEY comes from the demo's local key file ({settings.SECRET_KEY_FILE}).",
                hint="Set SECRET_KEY in the environment (or .env) of a production deployment.",
                id="sigmasight.W001",
            )
        ]
    return []

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def cache_tables_create(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Make the database caches' tables (the shared throttle counters) as part of ``migrate``, so no
    deployment or demo needs a separate ``createcachetable``. Idempotent: an existing table is kept."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from core import checks  # noqa: F401  (registers the deploy checks)
        from core.datachange import table_state_forget, watch_connection
        from core.lookups import register as lookups_register

        # every write to the served data moves the change counter, whatever path issued it
        connection_created.connect(watch_connection, dispatch_uid="core.datachange")
        pre_migrate.connect(table_state_forget, dispatch_uid="core.datachange.pre")
        post_migrate.connect(table_state_forget, dispatch_uid="core.datachange.post")
        for connection in connections.all(initialized_only=True):
            watch_connection(connection=connection)

        lookups_register()  # field__any: a long list as one array parameter on PostgreSQL

        # Sent once per app with models; the command is a no-op once the tables exist.
        post_migrate.connect(cache_tables_create, dispatch_uid="core.cache_tables_create")

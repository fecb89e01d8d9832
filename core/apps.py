from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from core import checks  # noqa: F401  (registers the deploy checks)
        from core.datachange import table_state_forget, watch_connection

        # every write to the served data moves the change counter, whatever path issued it
        connection_created.connect(watch_connection, dispatch_uid="core.datachange")
        pre_migrate.connect(table_state_forget, dispatch_uid="core.datachange.pre")
        post_migrate.connect(table_state_forget, dispatch_uid="core.datachange.post")
        for connection in connections.all(initialized_only=True):
            watch_connection(connection=connection)

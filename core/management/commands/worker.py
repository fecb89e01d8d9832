"""``worker``: the django-q2 cluster (``qcluster``) with a pid file, so that ``stop`` can end it cleanly."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.processes import pidfile_kept


class Command(BaseCommand):
    help = (
        "Run the django-q2 worker cluster (the scheduled daily batch and the batch's per-chunk tasks) until "
        "SIGTERM or Ctrl-C, logging its start, stop and tasks to the terminal and to app.log. The same as "
        "`qcluster`, plus a pid file in RUN_DIR so that `manage.py stop` can end it; on SIGTERM django-q2 lets the "
        "task in hand finish first (up to Q_TIMEOUT)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_q.cluster import Cluster

        with pidfile_kept(command="worker"):
            cluster = Cluster()  # installs django-q2's SIGTERM/SIGINT handlers: they stop the sentinel
            cluster.start()
            if cluster.sentinel is not None:
                cluster.sentinel.join()  # returns once a signal has stopped the cluster

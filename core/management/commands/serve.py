"""``serve``: the ASGI application under daphne, one process per core by default (``WEB_PROCESSES``).

``--reload`` is the development mode: one daphne process that restarts when the code changes, with
websockets (Django's ``runserver`` serves neither websockets nor, with DEBUG off, the admin's CSS).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.processes import pidfile_kept
from core.serve import SOCKET_FD_ENV, listen, serve, serve_reloading, serve_reloading_child


class Command(BaseCommand):
    help = (
        "Serve the API, admin and websockets with daphne: --processes processes (default WEB_PROCESSES) share "
        "one listening socket on --host:--port. --reload: one process that restarts on code changes "
        "(development). Stops cleanly on SIGTERM or Ctrl-C (`manage.py stop` sends SIGTERM through the pid file "
        "kept in RUN_DIR)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--processes", type=int, default=None, help="daphne processes (default WEB_PROCESSES)")
        parser.add_argument(
            "--reload",
            action="store_true",
            help="Development: one daphne process (HTTP and websockets) restarted whenever a loaded module changes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reload"] and SOCKET_FD_ENV in os.environ:
            serve_reloading_child(log=self._log)  # the reloading child: the parent already bound and announced
            return
        processes = options["processes"] or settings.WEB_PROCESSES
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}.")
        try:
            listeners = listen(host=host, port=port, count=1 if options["reload"] else processes)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        mode = "1 daphne process, reloading on code changes" if options["reload"] else f"{processes} daphne process(es)"
        self._log(
            f"Serving on http://{host}:{port}/ with {mode} — admin at /admin/, API docs at /docs, "
            f"websockets at ws://{host}:{port}/ws/ (Ctrl-C to stop)"
        )
        with pidfile_kept(command="serve"):
            if options["reload"]:
                from django.utils import autoreload

                code = serve_reloading(
                    listener=listeners[0], child_argv=autoreload.get_child_arguments(), log=self._log
                )
            else:
                code = serve(listeners=listeners, processes=processes)
        if code:
            raise CommandError(f"a daphne process exited with status {code}")

    def _log(self, line: str) -> None:
        self.stdout.write(line)
        sys.stdout.flush()

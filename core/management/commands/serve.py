"""``serve``: the ASGI application under daphne, one process per core by default (``WEB_PROCESSES``)."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.serve import serve


class Command(BaseCommand):
    help = (
        "Serve the API, admin and websockets with daphne: --processes processes (default WEB_PROCESSES) share "
        "one listening socket on --host:--port."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--processes", type=int, default=None, help="daphne processes (default WEB_PROCESSES)")

    def handle(self, *args: Any, **options: Any) -> None:
        processes = options["processes"] or settings.WEB_PROCESSES
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        host, port = options["host"], options["port"]
        self.stdout.write(
            f"Serving on http://{host}:{port}/ with {processes} daphne process(es) — admin at /admin/, "
            "API docs at /docs (Ctrl-C to stop)"
        )
        sys.stdout.flush()
        try:
            code = serve(host=host, port=port, processes=processes)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        if code:
            raise CommandError(f"a daphne process exited with status {code}")

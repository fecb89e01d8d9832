"""``stop``: end the server and workers started on this machine, cleanly (SIGTERM through their pid files)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.processes import COMMANDS, processes_stop


class Command(BaseCommand):
    help = (
        "Stop the `serve` and `worker` processes running on this machine (all of them, or those named) by sending "
        "SIGTERM through the pid files in RUN_DIR, and wait until each has exited: the server closes its daphne "
        "processes, a worker finishes its task in hand. Stale pid files (a process that died) are removed. Exits "
        "non-zero if a process is still running after --timeout (unless --kill)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # No argparse `choices`: Python 3.11 rejects an empty nargs="*" list against them.
        parser.add_argument("which", nargs="*", metavar="serve|worker", help="What to stop (default: both).")
        parser.add_argument("--timeout", type=float, default=60.0, help="Seconds to wait for each (default 60).")
        parser.add_argument("--kill", action="store_true", help="SIGKILL what is still running after --timeout.")

    def handle(self, *args: Any, **options: Any) -> None:
        unknown = [w for w in options["which"] if w not in COMMANDS]
        if unknown:
            raise CommandError(f"unknown process kind(s) {', '.join(unknown)}: choose from {', '.join(COMMANDS)}.")
        commands = tuple(dict.fromkeys(options["which"])) or COMMANDS
        outcomes = processes_stop(commands=commands, timeout=options["timeout"], kill=options["kill"])
        if not outcomes:
            self.stdout.write(f"Nothing to stop: no {' or '.join(commands)} pid file on this machine.")
            return
        for outcome in outcomes:
            label = f"{outcome.command} (pid {outcome.pid})"
            if outcome.result == "stopped":
                self.stdout.write(self.style.SUCCESS(f"{label} stopped in {outcome.seconds:.1f}s"))
            elif outcome.result == "stale":
                self.stdout.write(f"{label} was not running (stale pid file removed)")
            elif outcome.result == "killed":
                self.stdout.write(self.style.WARNING(f"{label} killed after {outcome.seconds:.1f}s"))
            else:
                self.stderr.write(self.style.ERROR(f"{label} still running after {outcome.seconds:.1f}s"))
        stuck = [o for o in outcomes if o.result == "timeout"]
        if stuck:
            raise CommandError(f"{len(stuck)} process(es) did not stop; rerun with --kill to force them.")

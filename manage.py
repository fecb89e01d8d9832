#!/usr/bin/env python
"""Django's command-line utility for SigmaSight.

Two things every command gets here, in one place:
- a bad setting (``DEBUG=maybe``, no ``SECRET_KEY`` in production) ends with one line naming the
  variable and exit status 2, not a traceback through Django's start-up;
- output piped into a reader that stops early (``manage.py batch_history | head -5``) ends quietly
  with the status of a process killed by SIGPIPE (141), as ``cat`` or ``grep`` do, not with a
  ``BrokenPipeError`` traceback.
``demo`` also creates this installation's local SECRET_KEY file first when no key is set, so that the
settings it loads have one (``sigmasight.env.secret_key_file_ensure``).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

CONFIG_ERROR_STATUS = 2
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    from django.core.management import execute_from_command_line

    from sigmasight.env import ConfigError

    try:
        if sys.argv[1:2] == ["demo"]:
            from sigmasight.env import demo_secret_key_ensure

            demo_secret_key_ensure(Path(__file__).resolve().parent)
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        sys.stderr.write(f"Configuration error: {exc} (see the README's configuration table or .env.example)\n")
        sys.exit(CONFIG_ERROR_STATUS)
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and print a second error: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(BROKEN_PIPE_STATUS)


if __name__ == "__main__":
    main()

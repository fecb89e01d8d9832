"""Log files that several processes write and rotate: the handler of every SigmaSight log file.

The same ``app.log`` and ``access.log`` are written by every daphne process of ``manage.py serve --processes``,
every django-q2 worker and every management command. The standard library's ``RotatingFileHandler`` is
for one process: each process measures the file through its own stream, so when one rotates
(``access.log`` → ``access.log.1``) the others go on writing into the renamed file, find it over the limit on
their next record and rotate again — the fresh, nearly empty file becomes ``.1``, the full one ``.2`` — and each
process's rotation pushes the oldest backup off the end. Two daphne processes under load turned 10 MB files
into 1.5–5 MB ones, and the five backups into minutes of history.

:class:`SharedRotatingFileHandler` keeps the standard handler's settings and names (``maxBytes``,
``backupCount``, ``.1`` … ``.N``) and makes the rotation a shared act:

- **Follow the file.** Before each record, the stream is reopened when the path no longer names the file it
  writes to (another process rotated it), as ``WatchedFileHandler`` does for ``logrotate``.
- **Rotate under a lock, once.** Rotation runs while holding an exclusive lock on ``<file>.lock`` (``flock``);
  holding it, the handler follows the file again and measures it again, so of several processes that found it
  full only the first rotates; the others write on into the new file.
- **Append.** Records are appended (``O_APPEND``), each flushed as it is written: records of several processes
  interleave whole (a record up to the stream's 8 KB buffer is one ``write``).

Where ``fcntl`` is missing (Windows) the lock is skipped: the rotation is then that of one process.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class SharedRotatingFileHandler(RotatingFileHandler):
    """``RotatingFileHandler`` for a file that several processes write and rotate (module doc)."""

    def __init__(self, filename: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file the stream writes to
        super().__init__(filename, *args, **kwargs)  # type: ignore[arg-type]
        self.lock_path = f"{self.baseFilename}.lock"

    def _open(self) -> io.TextIOWrapper:
        stream = super()._open()
        status = os.fstat(stream.fileno())
        self._identity = (status.st_dev, status.st_ino)
        return stream

    def follow(self) -> None:
        """Reopen the stream when the path names another file than the one written to (rotated, or removed)."""
        if self.stream is None:
            return
        try:
            status = os.stat(self.baseFilename)
            current: tuple[int, int] | None = (status.st_dev, status.st_ino)
        except FileNotFoundError:
            current = None
        if current != self._identity:  # should the reopening fail, the next record tries again
            self.stream.flush()
            self.stream.close()
            self.stream = self._open()

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.follow()
            if self.shouldRollover(record):
                with self._rotation_lock():
                    self.follow()  # another process may have rotated while this one waited for the lock
                    if self.shouldRollover(record):
                        self.doRollover()
            logging.FileHandler.emit(self, record)
        except Exception:
            self.handleError(record)

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
import stat
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

    def follow(self) -> int | None:
        """Reopen the stream when the path names another file than the one written to (rotated, or removed).

        Returns the size in bytes of the file now written to, or None when the path names no regular file
        (``/dev/null``, a FIFO: never rotated, as the standard handler's bpo-45401 rule has it). One ``stat``."""
        if self.stream is None:
            self.stream = self._open()  # opened on the first record (``delay``)
        try:
            status = os.stat(self.baseFilename)
            current: tuple[int, int] | None = (status.st_dev, status.st_ino)
        except FileNotFoundError:
            current = None
        if current != self._identity:
            self.stream.flush()
            self.stream.close()
            self.stream = None  # type: ignore[assignment]  # should the reopening fail, the next record opens it
            self.stream = self._open()
            status = os.fstat(self.stream.fileno())
        return status.st_size if stat.S_ISREG(status.st_mode) else None

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
        """Write the record as one line, rotating first when it would bring the file to ``maxBytes``.

        The record is formatted once and the file measured by one ``stat`` (the standard handler formats it
        twice and asks the file system three times: with the access log, a fifth of a cached API answer's
        cost). The size is the file's, so records of other processes count; a file holding nothing is not
        rotated, whatever the record's length."""
        try:
            line = self.format(record) + self.terminator
            size = self.follow()
            if self._full(size, line):
                with self._rotation_lock():
                    # Another process may have rotated while this one waited for the lock.
                    if self._full(self.follow(), line):
                        self.doRollover()
            if self.stream is None:  # ``doRollover`` with ``delay`` leaves it closed
                self.stream = self._open()
            self.stream.write(line)
            self.flush()
        except RecursionError:  # as ``logging.StreamHandler.emit``: not a logging failure to report
            raise
        except Exception:
            self.handleError(record)

    def _full(self, size: int | None, line: str) -> bool:
        """Whether ``line`` (characters, as the standard handler counts) would bring a file of ``size`` bytes
        to the limit."""
        return self.maxBytes > 0 and size is not None and size > 0 and size + len(line) >= self.maxBytes

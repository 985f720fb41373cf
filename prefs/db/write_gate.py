"""One writer at a time on SQLite, queued by the kernel instead of SQLite's sleeping busy handler.

SQLite allows one write transaction at a time. A second writer gets SQLITE_BUSY and its busy handler
sleeps 1, 2, 5, 10… ms before trying again, so under steady writes (a burst of one-click unsubscribes)
workers spend most of their time asleep. A file lock next to the database makes writers wait in line and
wakes the next one the moment the lock is released. PostgreSQL needs none of this: it gets a no-op gate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows; SQLite's own locking still keeps data safe
    fcntl = None  # type: ignore[assignment]


class FileWriteGate:
    def __init__(self, lock_path: str | None) -> None:
        self._path = lock_path
        self._thread_lock = threading.Lock()  # flock does not exclude threads sharing a descriptor
        self._fd: int | None = None
        self._pid = 0

    @property
    def path(self) -> str | None:
        """The lock file (None for in-memory SQLite)."""
        return self._path

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._descriptor()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int | None:
        if self._path is None or fcntl is None:
            return None
        if self._pid != os.getpid():  # opened per process: a descriptor inherited over fork is shared
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


def write_gate_for(database_url: str) -> FileWriteGate | None:
    """The gate for a SQLite file database; None for PostgreSQL (and in-memory SQLite)."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split("///", 1)[-1] if "///" in database_url else ""
    if not path or path.startswith(":memory:"):
        return FileWriteGate(None)
    return FileWriteGate(path.split("?", 1)[0] + ".write-lock")


def gate(write_gate: FileWriteGate | None) -> AbstractContextManager[None]:
    return write_gate.held() if write_gate is not None else nullcontext()

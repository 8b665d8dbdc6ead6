"""Named exclusive locks that hold across processes (and, on PostgreSQL, across machines).

PostgreSQL: a session-level advisory lock on a connection of its own, held for the block; the server
frees it when that connection ends, so a killed holder never leaves it taken. SQLite (one machine by
nature): ``flock`` on a lock file, freed by the OS when the holder dies. Threads of one process are
serialised by a process-wide lock per name first (``flock`` is per open file, not per thread).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

_thread_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


class LockBusy(Exception):
    """The lock is held elsewhere and the caller asked not to wait."""


def _key(name: str) -> int:
    digest = hashlib.sha256(f"vidrec-lock-{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _thread_lock(name: str, wait: bool) -> Iterator[None]:
    lock = _thread_locks[name]
    if not lock.acquire(blocking=wait):
        raise LockBusy(name)
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """``flock`` on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock(f"file:{path.resolve()}", wait):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockBusy(str(path)) from None
            yield
        finally:
            os.close(fd)


@contextlib.contextmanager
def advisory_lock(engine: Engine, name: str, *, wait: bool = True) -> Iterator[None]:
    """A PostgreSQL advisory lock named ``name`` for the block."""
    with _thread_lock(f"pg:{engine.url}:{name}", wait), engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(name)})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar():
            raise LockBusy(name)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})


def database_lock(
    engine: Engine, name: str, file: Path | None, *, wait: bool = True
) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock for everyone using ``engine``'s database: advisory on PostgreSQL, else a
    ``flock`` on ``file`` (or, with no file, among this process's threads only)."""
    if engine.dialect.name == "postgresql":
        return advisory_lock(engine, name, wait=wait)
    if file is not None:
        return file_lock(file, wait=wait)
    return _thread_lock(f"local:{engine.url}:{name}", wait)

"""Database-wide named locks: exclusive across processes, freed when the holder is killed.

``sql_url`` is a SQLite file here (``flock``); ``tests/integration/test_sql_postgres.py`` runs the
same tests on PostgreSQL (advisory locks).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from retrieval.sqldb import make_engine, sqlite_path
from retrieval.sqldb.locks import LockBusy, database_lock


def _lock_file(sql_url: str) -> Path | None:
    db = sqlite_path(sql_url)
    return None if db is None else db.with_name("test.lock")


def _hold(sql_url: str, ready: object) -> None:
    engine = make_engine(sql_url)
    with database_lock(engine, "job", _lock_file(sql_url)):
        ready.set()  # type: ignore[attr-defined]
        time.sleep(3600)


def test_lock_held_by_a_process_is_busy_elsewhere_and_freed_by_its_death(sql_url: str) -> None:
    make_engine(sql_url).dispose()  # creates the SQLite folder
    ctx = multiprocessing.get_context("spawn")  # no lock inherited from another thread
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(sql_url, ready))
    holder.start()
    try:
        assert ready.wait(30)
        engine = make_engine(sql_url)
        with pytest.raises(LockBusy), database_lock(engine, "job", _lock_file(sql_url), wait=False):
            pass
        mine = _lock_file(sql_url)
        other = mine.with_name("other.lock") if mine is not None else None
        with database_lock(engine, "other", other, wait=False):
            pass  # another name is another lock
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        # the OS closes the dead holder's file (flock) or socket (PostgreSQL's backend then exits
        # and drops its locks): free within moments, without anyone cleaning up
        deadline = time.monotonic() + 10
        while True:
            try:
                with database_lock(engine, "job", _lock_file(sql_url), wait=False):
                    break
            except LockBusy:
                assert time.monotonic() < deadline, "the dead holder's lock was never freed"
                time.sleep(0.05)
    finally:
        if holder.is_alive():
            holder.kill()


def test_threads_of_one_process_exclude_each_other(sql_url: str) -> None:
    engine = make_engine(sql_url)
    lock_file = _lock_file(sql_url)
    with (
        database_lock(engine, "job", lock_file),
        pytest.raises(LockBusy),
        database_lock(engine, "job", lock_file, wait=False),
    ):
        pass
    with database_lock(engine, "job", _lock_file(sql_url), wait=False):
        pass

"""The durable ingest queue: any worker takes jobs, a killed worker's job is resumed, no job runs
twice at once, a worker that lost its lease writes nothing, retries stop after ``max_attempts``.

Every test takes ``sql_url`` (SQLite here; ``tests/integration/test_sql_postgres.py`` runs them on
PostgreSQL, where claims use ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import sessionmaker

from api.job_queue import JobQueue
from api.jobs import JobManager
from retrieval.guard import IngestGuard
from retrieval.sqldb import make_engine
from retrieval.types import IngestProgress, IngestReport


def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _ingest_ok(
    paths: Sequence[str],
    manifest: str | None,
    progress: Callable[[IngestProgress], None],
    guard: IngestGuard,
) -> IngestReport:
    return IngestReport(ingested=[os.path.basename(p) for p in paths])


def test_a_job_queued_by_one_process_is_run_by_another(sql_url: str) -> None:
    front = JobManager(sql_url, _ingest_ok, worker=False)  # takes requests, never ingests
    back = JobManager(sql_url, _ingest_ok, poll_s=0.05)
    try:
        job = front.submit(["/media/a.wav"])
        _wait_for(lambda: front.get(job.id).status == "succeeded")
        done = front.get(job.id)
        assert done.report is not None and done.report.ingested == ["a.wav"]
    finally:
        front.close()
        back.close()


def _hang_forever(sql_url: str) -> None:
    def hang(*_: Any) -> IngestReport:
        time.sleep(3600)
        return IngestReport()

    JobManager(sql_url, hang, lease_s=1.0, poll_s=0.05)
    time.sleep(3600)


def test_a_killed_workers_job_is_resumed_by_another_worker(sql_url: str) -> None:
    child = multiprocessing.get_context("spawn").Process(target=_hang_forever, args=(sql_url,))
    child.start()
    front = JobManager(sql_url, _ingest_ok, worker=False)
    try:
        job = front.submit(["/media/b.wav"])
        _wait_for(lambda: front.get(job.id).status == "running")
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)  # mid-ingest, no chance to clean up
        child.join()
        survivor = JobManager(sql_url, _ingest_ok, lease_s=1.0, poll_s=0.05)
        try:
            _wait_for(lambda: front.get(job.id).status == "succeeded")
        finally:
            survivor.close()
        done = front.get(job.id)
        assert done.report is not None and done.report.ingested == ["b.wav"]
        with sessionmaker(make_engine(sql_url))() as db:
            from api.job_queue import JobRow

            row = db.get(JobRow, job.id)
            assert row is not None and row.attempts == 2 and row.worker == survivor.queue.worker
    finally:
        front.close()
        if child.is_alive():
            child.kill()


def test_concurrent_workers_run_each_job_exactly_once(sql_url: str) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def ingest(paths: Sequence[str], *_: Any) -> IngestReport:
        with lock:
            runs.extend(paths)
        time.sleep(0.02)
        return IngestReport(ingested=list(paths))

    front = JobManager(sql_url, ingest, worker=False)
    jobs = [front.submit([f"v{i}"]) for i in range(12)]
    workers = [JobManager(sql_url, ingest, poll_s=0.02) for _ in range(3)]
    try:
        _wait_for(lambda: all(front.get(j.id).status == "succeeded" for j in jobs))
        assert sorted(runs) == sorted(f"v{i}" for i in range(12))
    finally:
        for manager in (front, *workers):
            manager.close()


def _queue(sql_url: str, **kwargs: Any) -> JobQueue:
    return JobQueue(sessionmaker(make_engine(sql_url), expire_on_commit=False), **kwargs)


def test_a_worker_that_lost_its_lease_writes_nothing(sql_url: str) -> None:
    front = JobManager(sql_url, _ingest_ok, worker=False)
    job = front.submit(["c.wav"])
    slow, fast = _queue(sql_url, lease_s=1.0), _queue(sql_url, lease_s=60)
    first = slow.claim()
    assert first is not None and first.job_id == job.id and first.attempt == 1
    assert fast.claim() is None  # held and the lease still runs
    time.sleep(1.1)
    second = fast.claim()
    assert second is not None and second.job_id == job.id and second.attempt == 2
    assert not slow.renew(job.id)
    assert not slow.fenced(job.id, status="succeeded")
    assert front.get(job.id).status == "running"
    assert fast.fenced(job.id, status="succeeded")
    assert front.get(job.id).status == "succeeded"
    front.close()


def test_a_job_interrupted_max_attempts_times_fails_with_a_hint(sql_url: str) -> None:
    front = JobManager(sql_url, _ingest_ok, worker=False)
    job = front.submit(["d.wav"])
    queue = _queue(sql_url, lease_s=0.01, max_attempts=2)
    assert queue.claim() is not None
    time.sleep(0.05)
    assert queue.claim() is not None  # attempt 2
    time.sleep(0.05)
    assert queue.claim() is None  # a third claim is refused: the job fails instead
    failed = front.get(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error["error"] == "interrupted" and "again" in str(failed.error["hint"])
    front.close()


def test_a_long_job_keeps_its_lease_while_it_runs(sql_url: str) -> None:
    """Ingest longer than the lease: the heartbeat renews it, so no second worker takes over."""
    runs: list[str] = []
    lease_s = 1.0

    def slow(paths: Sequence[str], *_: Any) -> IngestReport:
        runs.extend(paths)
        time.sleep(lease_s * 2.5)
        return IngestReport(ingested=list(paths))

    front = JobManager(sql_url, slow, worker=False)
    workers = [JobManager(sql_url, slow, lease_s=lease_s, poll_s=0.02) for _ in range(2)]
    try:
        job = front.submit(["e.wav"])
        _wait_for(lambda: front.get(job.id).status == "succeeded")
        assert runs == ["e.wav"]
    finally:
        for manager in (front, *workers):
            manager.close()


def test_a_job_finding_the_library_busy_waits_in_the_queue_uncounted(sql_url: str) -> None:
    from retrieval.errors import IngestBusyError

    tries: list[int] = []

    def busy_once(paths: Sequence[str], *_: Any) -> IngestReport:
        tries.append(1)
        if len(tries) == 1:
            raise IngestBusyError("Another ingest is running on this library")
        return IngestReport(ingested=list(paths))

    manager = JobManager(sql_url, busy_once, poll_s=0.05)
    try:
        job = manager.submit(["f.wav"])
        _wait_for(lambda: manager.get(job.id).status == "succeeded")
        assert len(tries) == 2 and manager.get(job.id).error is None
        with sessionmaker(make_engine(sql_url))() as db:
            from api.job_queue import JobRow

            row = db.get(JobRow, job.id)
            assert row is not None and row.attempts == 1  # the busy try did not count
    finally:
        manager.close()


def test_a_job_running_in_another_worker_is_cancelled_through_any_process(sql_url: str) -> None:
    stopped = threading.Event()

    def until_cancelled(paths: Sequence[str], *rest: Any) -> IngestReport:
        guard: IngestGuard = rest[-1]
        while True:  # a long ingest that checks its guard between videos
            try:
                guard.check()
            except Exception:
                stopped.set()
                raise
            time.sleep(0.02)

    front = JobManager(sql_url, until_cancelled, worker=False)
    back = JobManager(sql_url, until_cancelled, lease_s=0.6, poll_s=0.05)
    try:
        job = front.submit(["g.wav"])
        _wait_for(lambda: front.get(job.id).status == "running")
        assert front.cancel(job.id).status == "cancelled"  # through the process not running it
        assert stopped.wait(10), "the running worker did not stop"
        time.sleep(0.3)  # the stopped run must not overwrite the cancellation
        final = front.get(job.id)
        assert final.status == "cancelled" and final.error is not None
        assert "cancelled" in final.error["message"]
        # a queued job that is cancelled never starts, even when a worker comes along
        back.close()
        queued = front.submit(["h.wav"])
        assert front.cancel(queued.id).status == "cancelled"
        later = JobManager(sql_url, _ingest_ok, poll_s=0.05)
        time.sleep(0.5)
        assert front.get(queued.id).status == "cancelled" and front.get(queued.id).report is None
        later.close()
    finally:
        front.close()
        back.close()

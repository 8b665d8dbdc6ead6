"""Background ingest jobs for ``POST /v1/videos``, with their status kept in SQL (``api_jobs``).

A submitted job is a row in the durable queue (:mod:`api.job_queue`): every API process runs one
worker thread that claims jobs from it, whichever process took the request, and runs them one at a
time (ingest already uses every core for Whisper and the embedder; two at once would only thrash).
The worker holds a renewed lease on its job; when the process is killed, the lease runs out and
another worker (or this one, restarted) resumes the job: ingest is idempotent and resumable, so the
new attempt redoes only what is missing. Status and progress are in SQL, readable from any process.

Uploaded files live in ``<data_dir>/uploads/<job id>/`` because the library keeps pointing at them
(play URLs, re-ingest); workers on several machines must therefore share the data dir. When a job
fails, its upload folder is removed; when single files fail, those files are removed, so nothing
half-ingested lingers. Each run is bounded by an :class:`~retrieval.guard.IngestGuard`: its inputs
must stay under the job's upload folder (or ``api.ingest_roots`` for server-side paths), it has a
time limit, and an admin can cancel it (a queued job never starts; a running one stops between
videos, in whichever process runs it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from api.db import ensure_tables, make_engine
from api.job_queue import Claim, JobQueue, JobRow
from api.upload_folders import orphan_folders, remove_upload
from retrieval.errors import IngestBusyError, NotFoundError, VidrecError
from retrieval.guard import IngestCancelled, IngestGuard
from retrieval.types import IngestFailure, IngestProgress, IngestReport

log = logging.getLogger(__name__)

IngestFn = Callable[
    [Sequence[str], str | None, Callable[[IngestProgress], None], IngestGuard], IngestReport
]
_PERSIST_EVERY_S = 1.0


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # queued | running | succeeded | failed | cancelled
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    files: tuple[str, ...]
    manifest: str | None
    progress: IngestProgress | None
    report: IngestReport | None
    error: dict[str, Any] | None
    upload_dir: str | None = None  # where an upload's files were saved (never shown to clients)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _report_json(report: IngestReport) -> str:
    return json.dumps(
        {
            "ingested": report.ingested,
            "unchanged": report.unchanged,
            "failed": [asdict(f) for f in report.failed],
            "audio_seconds": report.audio_seconds,
            "chunks": report.chunks,
        }
    )


def _report_from(text: str | None) -> IngestReport | None:
    if not text:
        return None
    data = json.loads(text)
    return IngestReport(
        ingested=list(data.get("ingested", [])),
        unchanged=list(data.get("unchanged", [])),
        failed=[IngestFailure(**f) for f in data.get("failed", [])],
        audio_seconds=float(data.get("audio_seconds", 0.0)),
        chunks=int(data.get("chunks", 0)),
    )


class JobManager:
    """Queue ingest runs in SQL, run the ones this process claims, and report any job's status.

    ``worker=False`` only queues and reports (a process that must not ingest). ``lease_s`` is how
    long a claim lasts without renewal (renewed every third of it), ``poll_s`` how often the idle
    worker looks for jobs queued by other processes, ``max_attempts`` how many claims a job gets.

    Args:
        timeout_s: each run's time limit once it starts (``None``: none); past it the job fails
            and the next one starts.
        ingest_roots: the folders a job without an upload folder may read (``api.ingest_roots``;
            ``None``: any, for the operator's own jobs); an upload's job reads only its folder.
        uploads_dir: the folder of upload folders, swept of what interrupted uploads left.
        in_use: the files the library still points at (kept when an upload folder is removed).
    """

    def __init__(
        self,
        url: str,
        ingest: IngestFn,
        *,
        engine: Engine | None = None,
        worker: bool = True,
        lease_s: float = 60.0,
        poll_s: float = 2.0,
        max_attempts: int = 3,
        timeout_s: float | None = None,
        ingest_roots: Sequence[Path] | None = None,
        uploads_dir: Path | None = None,
        in_use: Callable[[], set[str]] = set,
    ) -> None:
        self._engine = engine or make_engine(url)
        ensure_tables(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._ingest = ingest
        self.queue = JobQueue(self._sessions, lease_s=lease_s, max_attempts=max_attempts)
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._ingest_roots = list(ingest_roots) if ingest_roots else None
        self._in_use = in_use
        self._live: dict[str, IngestProgress] = {}
        self._guards: dict[str, IngestGuard] = {}  # the runs of this process
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if uploads_dir is not None:
            self._sweep(uploads_dir)
        if worker:
            self._thread = threading.Thread(target=self._work, name="vidrec-ingest", daemon=True)
            self._thread.start()

    def _sweep(self, uploads_dir: Path) -> None:
        with self._sessions() as db:
            known = db.scalars(select(JobRow.id)).all()
        for folder in orphan_folders(uploads_dir, known):
            remove_upload(folder, self._in_use)

    def close(self) -> None:
        """Stop taking jobs. A job running here stops at its next check and goes back to the
        queue (its attempt not counted), so another worker resumes it; if the process exits
        first, its lease runs out and another worker resumes it all the same."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            guards = list(self._guards.values())
        for guard in guards:
            guard.cancel("the server is shutting down")

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job: a queued one never starts, a running one stops at its
        next check (between videos or while hashing), in whichever process runs it; a finished
        job is returned as it is."""
        job = self.get(job_id)
        if job.status not in ("queued", "running"):
            return job
        with self._lock:
            guard = self._guards.get(job_id)
        if guard is not None:
            guard.cancel("cancelled by an admin")  # our run writes the status when it stops
        else:
            # queued, or running elsewhere: that worker loses its lease and stops its run
            self.queue.cancel(job_id, json.dumps(_cancelled_body()))
        log.info("ingest job %s cancelled", job_id)
        return self.get(job_id)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                claim = self.queue.claim()
            except Exception:
                log.exception("could not read the job queue; retrying")
                claim = None
            if claim is None or not self._run_claimed(claim):
                self._wake.wait(self._poll_s)
                self._wake.clear()

    def _run_claimed(self, claim: Claim) -> bool:
        """Run a claimed job; False when it went back to the queue (the library was busy)."""
        done = threading.Event()
        upload = Path(claim.upload_dir) if claim.upload_dir else None
        roots = [upload] if upload is not None else self._ingest_roots
        guard = IngestGuard(roots, timeout_s=self._timeout_s)
        with self._lock:
            self._guards[claim.job_id] = guard

        def heartbeat() -> None:
            interval = self.queue.lease.total_seconds() / 3
            while not done.wait(interval):
                if not self.queue.renew(claim.job_id):
                    # cancelled from another process, or taken over after a stall: stop working
                    guard.cancel("the job was cancelled or taken over by another worker")
                    return

        beat = threading.Thread(target=heartbeat, name="vidrec-ingest-lease", daemon=True)
        beat.start()
        try:
            return self._run(claim.job_id, claim.files, claim.manifest, upload, guard)
        finally:
            done.set()
            with self._lock:
                self._guards.pop(claim.job_id, None)

    def submit(
        self,
        files: Sequence[str],
        manifest: str | None = None,
        *,
        upload_dir: Path | None = None,
        key_id: str = "",
        job_id: str | None = None,
    ) -> Job:
        job_id = job_id or uuid.uuid4().hex
        row = JobRow(
            id=job_id,
            kind="ingest",
            status="queued",
            key_id=key_id,
            created_at=datetime.now(UTC),
            files=json.dumps(list(files)),
            manifest=manifest,
            upload_dir=str(upload_dir) if upload_dir else None,
            progress="{}",
        )
        with self._sessions.begin() as db:
            db.add(row)
        self._wake.set()
        log.info("queued ingest job %s (%d file(s), manifest=%s)", job_id, len(files), manifest)
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self._sessions() as db:
            row = db.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(
                    f"No job with id {job_id!r}",
                    hint="Use the id returned by POST /v1/videos",
                )
            return self._job(row)

    def _job(self, row: JobRow) -> Job:
        with self._lock:
            live = self._live.get(row.id)
        progress = live
        if progress is None and row.progress and row.progress != "{}":
            progress = IngestProgress(**json.loads(row.progress))
        return Job(
            id=row.id,
            status=row.status,
            created_at=_utc(row.created_at) or datetime.now(UTC),
            started_at=_utc(row.started_at),
            finished_at=_utc(row.finished_at),
            files=tuple(json.loads(row.files or "[]")),
            manifest=row.manifest,
            progress=progress,
            report=_report_from(row.report),
            error=json.loads(row.error) if row.error else None,
            upload_dir=row.upload_dir,
        )

    def _update(self, job_id: str, **values: Any) -> bool:
        return self.queue.fenced(job_id, **values)

    def _run(
        self,
        job_id: str,
        files: list[str],
        manifest: str | None,
        upload_dir: Path | None,
        guard: IngestGuard,
    ) -> bool:
        last_persist = 0.0

        def progress(p: IngestProgress) -> None:
            nonlocal last_persist
            with self._lock:
                self._live[job_id] = p
            now = time.monotonic()
            if now - last_persist >= _PERSIST_EVERY_S:
                last_persist = now
                self._update(job_id, progress=json.dumps(asdict(p)))

        try:
            report = self._ingest(files, manifest, progress, guard)
        except IngestBusyError:
            log.info("ingest job %s waits: another ingest holds the library", job_id)
            self.queue.release(job_id)
            return False
        except IngestCancelled as exc:
            if self._stop.is_set():  # shutting down: another worker resumes it
                self.queue.release(job_id)
                return True
            status = "failed" if "timed out" in exc.message else "cancelled"
            self._fail(job_id, exc.to_dict(), upload_dir, status=status)
            log.warning("ingest job %s stopped: %s", job_id, exc)
            return True
        except VidrecError as exc:
            self._fail(job_id, exc.to_dict(), upload_dir)
            log.warning("ingest job %s failed: %s", job_id, exc)
            return True
        except Exception as exc:
            log.exception("ingest job %s crashed", job_id)
            body = VidrecError(
                "Ingest failed unexpectedly",
                got=f"{type(exc).__name__}: {exc}",
                hint="See the server log",
            ).to_dict()
            self._fail(job_id, dict(body), upload_dir)
            return True
        finally:
            with self._lock:
                live = self._live.pop(job_id, None)
            if live is not None:
                self._update(job_id, progress=json.dumps(asdict(live)))

        nothing_ok = report.failed and not report.ingested and not report.unchanged
        error = None
        if nothing_ok:
            error = json.dumps(
                {
                    "error": "ingest_failed",
                    "message": f"No file could be ingested ({len(report.failed)} failed).",
                    "expected": None,
                    "got": report.failed[0].error,
                    "hint": "See report.failed for each file; fix and submit again",
                }
            )
        finished = self._update(
            job_id,
            status="failed" if nothing_ok else "succeeded",
            finished_at=datetime.now(UTC),
            lease_until=None,
            report=_report_json(report),
            error=error,
        )
        if finished and upload_dir is not None:  # a worker that lost the job leaves its files be
            self._drop_failed_uploads(report, upload_dir, everything=bool(nothing_ok))
        log.info(
            "ingest job %s done: %d ingested, %d unchanged, %d failed",
            job_id,
            len(report.ingested),
            len(report.unchanged),
            len(report.failed),
        )
        return True

    def _fail(
        self,
        job_id: str,
        body: Mapping[str, Any],
        upload_dir: Path | None,
        *,
        status: str = "failed",
    ) -> None:
        failed = self._update(
            job_id,
            status=status,
            finished_at=datetime.now(UTC),
            lease_until=None,
            error=json.dumps(body),
        )
        if failed and upload_dir is not None:
            remove_upload(upload_dir, self._in_use)

    def _drop_failed_uploads(
        self, report: IngestReport, upload_dir: Path, *, everything: bool
    ) -> None:
        if everything:
            remove_upload(upload_dir, self._in_use)
            return
        root = upload_dir.resolve()
        for failure in report.failed:
            path = Path(failure.path).resolve()
            if path.is_relative_to(root) and path.is_file():
                path.unlink(missing_ok=True)


def _cancelled_body() -> dict[str, str | None]:
    return IngestCancelled(
        "The ingest stopped: cancelled by an admin",
        hint="Videos finished before it stopped are kept; submit the files again for the rest",
    ).to_dict()

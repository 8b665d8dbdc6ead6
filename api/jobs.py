"""Background ingest jobs for ``POST /v1/videos``, with their status kept in SQL (``api_jobs``).

Jobs run one at a time on one worker thread (ingest already uses every core for Whisper and the
embedder; two at once would only thrash). Status and progress survive a restart: a job that was
queued or running when the process stopped is marked failed with a hint to submit it again (ingest
is idempotent and resumable, so re-submitting redoes only what is missing).

Uploaded files live in ``<data_dir>/uploads/<job id>/`` because the library keeps pointing at them
(play URLs, re-ingest). When a job fails, its upload folder is removed; when single files fail,
those files are removed, so nothing half-ingested lingers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from api.db import ApiBase, ensure_tables, make_engine
from retrieval.errors import NotFoundError, VidrecError
from retrieval.guard import IngestCancelled, IngestGuard
from retrieval.types import IngestFailure, IngestProgress, IngestReport

log = logging.getLogger(__name__)

IngestFn = Callable[
    [Sequence[str], str | None, Callable[[IngestProgress], None], IngestGuard], IngestReport
]
_PERSIST_EVERY_S = 1.0
_ORPHAN_AGE_S = 3600.0  # an upload folder with no job this old was left by a dead process


class JobRow(ApiBase):
    __tablename__ = "api_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="ingest")
    status: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    files: Mapped[str] = mapped_column(Text, default="[]")
    manifest: Mapped[str | None] = mapped_column(Text, nullable=True)
    upload_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[str] = mapped_column(Text, default="{}")
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


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
    """Queue ingest runs on one worker thread and report their status.

    Args:
        timeout_s: each job's time limit once it starts (``None``: none); past it the job fails
            and the next one starts.
        uploads_dir: the folder of upload folders, cleaned of what interrupted runs left.
        in_use: the files the library still points at (kept when an upload folder is cleaned).
    """

    def __init__(
        self,
        url: str,
        ingest: IngestFn,
        *,
        engine: Engine | None = None,
        timeout_s: float | None = None,
        uploads_dir: Path | None = None,
        in_use: Callable[[], set[str]] = set,
    ) -> None:
        self._engine = engine or make_engine(url)
        ensure_tables(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._ingest = ingest
        self._timeout_s = timeout_s
        self._in_use = in_use
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vidrec-ingest")
        self._live: dict[str, IngestProgress] = {}
        self._guards: dict[str, IngestGuard] = {}
        self._lock = threading.Lock()
        self._recover(uploads_dir)

    def _recover(self, uploads_dir: Path | None) -> None:
        """Jobs left queued/running by a previous process will never finish: say so, and remove
        the upload folders nothing will use (cut-off uploads, interrupted or unrecorded jobs)."""
        with self._sessions.begin() as db:
            rows = db.scalars(select(JobRow).where(JobRow.status.in_(("queued", "running")))).all()
            known = set(db.scalars(select(JobRow.id)).all())
            stale = [Path(r.upload_dir) for r in rows if r.upload_dir]
            for row in rows:
                row.status = "failed"
                row.finished_at = datetime.now(UTC)
                row.error = json.dumps(
                    {
                        "error": "interrupted",
                        "message": "The server stopped before this job finished.",
                        "expected": None,
                        "got": None,
                        "hint": "Submit the same files again; ingest skips what is already indexed",
                    }
                )
        if rows:
            log.warning("marked %d interrupted ingest job(s) as failed", len(rows))
        if uploads_dir is not None and uploads_dir.is_dir():
            old = time.time() - _ORPHAN_AGE_S  # younger ones may be another process's upload
            stale += [
                p
                for p in uploads_dir.iterdir()
                if p.is_dir()
                and (p.name.endswith(".partial") or p.name not in known)
                and p.stat().st_mtime < old
            ]
        for folder in stale:
            self._remove_upload(folder)

    def _remove_upload(self, folder: Path) -> None:
        """Delete an upload folder, keeping only files a library video still points at."""
        keep = {str(Path(p).resolve()) for p in self._in_use()}
        kept = False
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()  # only when emptied
            elif str(path.resolve()) in keep:
                kept = True
            else:
                path.unlink(missing_ok=True)
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)
        log.info("removed the upload folder %s%s", folder, " (kept files in use)" if kept else "")

    def close(self) -> None:
        for guard in list(self._guards.values()):
            guard.cancel("the server is shutting down")
        self._executor.shutdown(wait=False, cancel_futures=True)

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job (a running one stops at its next check, between videos
        or while hashing); a finished job is returned as it is."""
        job = self.get(job_id)
        with self._lock:
            guard = self._guards.get(job_id)
        if guard is not None and job.status in ("queued", "running"):
            guard.cancel("cancelled by an admin")
            log.info("ingest job %s cancelled", job_id)
        return job

    def submit(
        self,
        files: Sequence[str],
        manifest: str | None = None,
        *,
        upload_dir: Path | None = None,
        key_id: str = "",
        job_id: str | None = None,
        roots: Sequence[Path] | None = None,
    ) -> Job:
        """Queue an ingest; ``roots``: the folders its inputs must stay under (``None``: any)."""
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
        with self._lock:
            self._guards[job_id] = IngestGuard(roots, timeout_s=self._timeout_s)
        self._executor.submit(self._run, job_id, list(files), manifest, upload_dir)
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

    def _update(self, job_id: str, **values: Any) -> None:
        with self._sessions.begin() as db:
            row = db.get(JobRow, job_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    def _run(
        self, job_id: str, files: list[str], manifest: str | None, upload_dir: Path | None
    ) -> None:
        with self._lock:
            guard = self._guards[job_id]
        if guard.cancelled:
            self._guards.pop(job_id, None)
            self._fail(job_id, _cancelled_body(), upload_dir, status="cancelled")
            return
        self._update(job_id, status="running", started_at=datetime.now(UTC))
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
        except IngestCancelled as exc:
            timed_out = "timed out" in exc.message
            status = "failed" if timed_out else "cancelled"
            self._fail(job_id, exc.to_dict(), upload_dir, status=status)
            log.warning("ingest job %s stopped: %s", job_id, exc)
            return
        except VidrecError as exc:
            self._fail(job_id, exc.to_dict(), upload_dir)
            log.warning("ingest job %s failed: %s", job_id, exc)
            return
        except Exception as exc:
            log.exception("ingest job %s crashed", job_id)
            body = VidrecError(
                "Ingest failed unexpectedly",
                got=f"{type(exc).__name__}: {exc}",
                hint="See the server log",
            ).to_dict()
            self._fail(job_id, dict(body), upload_dir)
            return
        finally:
            with self._lock:
                live = self._live.pop(job_id, None)
                self._guards.pop(job_id, None)
            if live is not None:
                self._update(job_id, progress=json.dumps(asdict(live)))

        nothing_ok = report.failed and not report.ingested and not report.unchanged
        if upload_dir is not None:
            self._drop_failed_uploads(report, upload_dir, everything=bool(nothing_ok))
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
        self._update(
            job_id,
            status="failed" if nothing_ok else "succeeded",
            finished_at=datetime.now(UTC),
            report=_report_json(report),
            error=error,
        )
        log.info(
            "ingest job %s done: %d ingested, %d unchanged, %d failed",
            job_id,
            len(report.ingested),
            len(report.unchanged),
            len(report.failed),
        )

    def _fail(
        self,
        job_id: str,
        body: Mapping[str, Any],
        upload_dir: Path | None,
        *,
        status: str = "failed",
    ) -> None:
        if upload_dir is not None:
            self._remove_upload(upload_dir)
        self._update(job_id, status=status, finished_at=datetime.now(UTC), error=json.dumps(body))

    @staticmethod
    def _drop_failed_uploads(report: IngestReport, upload_dir: Path, *, everything: bool) -> None:
        if everything:
            shutil.rmtree(upload_dir, ignore_errors=True)
            return
        root = upload_dir.resolve()
        for failure in report.failed:
            path = Path(failure.path).resolve()
            if path.is_relative_to(root) and path.is_file():
                path.unlink(missing_ok=True)


def _cancelled_body() -> dict[str, str | None]:
    return IngestCancelled(
        "The ingest stopped: cancelled by an admin before it started",
        hint="Submit the files again to ingest them",
    ).to_dict()

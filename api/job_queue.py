"""The durable ingest queue: the ``api_jobs`` table, claimed by any worker under a lease.

Any process with a :class:`JobQueue` on the shared database may take the oldest claimable job: one
that is ``queued``, or ``running`` under a lease that ran out (its worker was killed or lost the
database). Claiming is a compare-and-set on the job's ``attempts`` counter, so two workers never both
win; on PostgreSQL the candidate row is read ``FOR UPDATE SKIP LOCKED`` so concurrent claimers skip
to the next job instead of queueing behind one row lock (SQLite, with one writer at a time, ignores
the clause and relies on the compare-and-set alone).

A worker renews its lease while it works (:meth:`JobQueue.renew`), and every write about a running
job names the worker holding it (``fenced``): a worker that lost its lease cannot overwrite the new
holder's progress or result. A job claimed ``max_attempts`` times without finishing is failed with a
hint instead of being retried forever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, and_, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from api.db import ApiBase

log = logging.getLogger(__name__)


class JobRow(ApiBase):
    __tablename__ = "api_jobs"
    __table_args__ = (Index("ix_api_jobs_status_created", "status", "created_at"),)

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
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: what to ingest, and which attempt this is."""

    job_id: str
    files: list[str]
    manifest: str | None
    upload_dir: str | None
    attempt: int


def new_worker_id() -> str:
    """``host:pid:random``: unique per process, readable in the jobs table."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


def interrupted_error(attempts: int) -> str:
    return json.dumps(
        {
            "error": "interrupted",
            "message": f"The worker running this job stopped {attempts} time(s) before it finished.",
            "expected": None,
            "got": None,
            "hint": "Submit the same files again; ingest skips what is already indexed",
        }
    )


class JobQueue:
    """Claim, renew and finish jobs in ``api_jobs`` as one named worker."""

    def __init__(
        self,
        sessions: sessionmaker[Any],
        *,
        worker: str | None = None,
        lease_s: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self._sessions = sessions
        self.worker = worker or new_worker_id()
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max(1, max_attempts)

    def claim(self) -> Claim | None:
        """Take the oldest claimable job, or None when there is none."""
        while True:
            now = _now()
            claimable = or_(
                JobRow.status == "queued",
                and_(JobRow.status == "running", JobRow.lease_until < now),
            )
            with self._sessions.begin() as db:
                row = db.scalars(
                    select(JobRow)
                    .where(claimable)
                    .order_by(JobRow.created_at, JobRow.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                # the update below refreshes ``row`` in the session: keep what was seen
                seen = {"id": row.id, "status": row.status, "attempts": row.attempts}
                previous_worker = row.worker
                claim = Claim(
                    job_id=row.id,
                    files=list(json.loads(row.files or "[]")),
                    manifest=row.manifest,
                    upload_dir=row.upload_dir,
                    attempt=row.attempts + 1,
                )
                expired = row.status == "running"
                values: dict[str, Any]
                if expired and row.attempts >= self.max_attempts:
                    values = {
                        "status": "failed",
                        "finished_at": now,
                        "lease_until": None,
                        "error": interrupted_error(row.attempts),
                    }
                else:
                    values = {
                        "status": "running",
                        "worker": self.worker,
                        "lease_until": now + self.lease,
                        "attempts": claim.attempt,
                        "started_at": row.started_at or now,
                    }
                won = db.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == seen["id"],
                        JobRow.status == seen["status"],
                        JobRow.attempts == seen["attempts"],
                    )
                    .values(**values)
                )
                if _rowcount(won) == 0:
                    continue  # another worker changed it first: look again
                if values["status"] == "failed":
                    log.warning(
                        "job %s failed after %d interrupted attempts",
                        claim.job_id,
                        seen["attempts"],
                    )
                    continue
                if expired:
                    log.warning(
                        "job %s: the lease of %s ran out; resuming (attempt %d)",
                        claim.job_id,
                        previous_worker,
                        claim.attempt,
                    )
                return claim

    def fenced(self, job_id: str, **values: Any) -> bool:
        """Write ``values`` to a job this worker holds; False (and nothing written) if it lost it."""
        with self._sessions.begin() as db:
            result = db.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id, JobRow.worker == self.worker, JobRow.status == "running"
                )
                .values(**values)
            )
        written = _rowcount(result) > 0
        if not written:
            log.warning("job %s is no longer held by %s; not writing", job_id, self.worker)
        return written

    def release(self, job_id: str) -> bool:
        """Give a job this worker holds back to the queue, its attempt not counted (it could not
        start: another ingest holds the library)."""
        return self.fenced(
            job_id, status="queued", worker=None, lease_until=None, attempts=JobRow.attempts - 1
        )

    def cancel(self, job_id: str, error: str) -> bool:
        """Mark a queued or running job cancelled, whoever holds it (its holder's next renewal
        or fenced write fails, so it stops); False when it had already finished."""
        with self._sessions.begin() as db:
            result = db.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
                .values(status="cancelled", finished_at=_now(), lease_until=None, error=error)
            )
        return _rowcount(result) > 0

    def renew(self, job_id: str) -> bool:
        """Extend this worker's lease on ``job_id``; False when it was lost."""
        return self.fenced(job_id, lease_until=_now() + self.lease)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

"""Jobs any worker can claim: who holds a job, until when, and how many times it was claimed.

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_0002"
down_revision = "api_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_jobs", sa.Column("worker", sa.String(length=64), nullable=True))
    op.add_column("api_jobs", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "api_jobs", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_index("ix_api_jobs_status_created", "api_jobs", ["status", "created_at"])
    # Before this, a restarted server marked unfinished jobs failed at start-up; jobs left queued or
    # running by such a server are failed now the same way rather than run long after the request.
    jobs = sa.table(
        "api_jobs",
        sa.column("status", sa.String),
        sa.column("finished_at", sa.DateTime(timezone=True)),
        sa.column("error", sa.Text),
    )
    op.execute(
        jobs.update()
        .where(jobs.c.status.in_(("queued", "running")))
        .values(
            status="failed",
            finished_at=sa.func.now(),
            error='{"error": "interrupted", "message": "The server stopped before this job '
            'finished.", "expected": null, "got": null, "hint": "Submit the same files again; '
            'ingest skips what is already indexed"}',
        )
    )

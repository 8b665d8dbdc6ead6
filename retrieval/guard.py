"""What bounds an ingest from outside: the folders its inputs may come from, a time limit, a
cancel switch (:class:`IngestGuard`), and reading input files with a size cap (:func:`file_digest`).

An ingest job started through the API gets a guard with its roots (the job's upload folder, or
``api.ingest_roots``) and ``api.ingest_job_timeout_s``; ``vidrec ingest`` runs with an open one.
Stopping is cooperative: the run checks the guard between videos and while hashing, so a video in
the middle of transcription finishes that step first (its length is bounded by
``ingest.max_audio_seconds``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from retrieval.errors import InvalidInputError, VidrecError
from retrieval.paths import checked_file, resolve_roots


class IngestCancelled(VidrecError):
    """An ingest run stopped by its guard (cancelled, or past its time limit)."""

    http_status = 409
    code = "ingest_cancelled"


class IngestGuard:
    """What bounds one ingest run from outside: the folders its inputs may come from, a time
    limit and a cancel switch. Thread-safe; the run checks it between videos and while hashing.

    Args:
        roots: folders every input must resolve under (``None``: the operator's own paths, any).
        timeout_s: the run's time limit, counted from its first :meth:`check` (``None``: none).
    """

    def __init__(
        self, roots: Sequence[str | Path] | None = None, timeout_s: float | None = None
    ) -> None:
        self.roots = resolve_roots(roots)
        self.timeout_s = timeout_s
        self._deadline: float | None = None
        self._reason: str | None = None

    def cancel(self, reason: str = "Cancelled") -> None:
        self._reason = reason

    @property
    def cancelled(self) -> bool:
        return self._reason is not None

    def check(self) -> None:
        """Raise :class:`IngestCancelled` if the run was cancelled or ran out of time."""
        if self._reason is not None:
            raise IngestCancelled(
                f"The ingest stopped: {self._reason}",
                hint="Videos finished before it stopped are kept; submit again for the rest",
            )
        if self.timeout_s is None:
            return
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.timeout_s
        elif now > self._deadline:
            self._reason = f"timed out after {self.timeout_s:.0f} s"
            self.check()


def file_digest(
    path: Path, what: str, *, max_bytes: int | None = None, guard: IngestGuard | None = None
) -> str:
    """SHA-256 of a regular file's bytes, refusing one over ``max_bytes`` before reading it.

    Raises:
        InvalidInputError: missing, not a regular file (a device such as ``/dev/zero``, a folder),
            unreadable, or larger than ``max_bytes``.
        IngestCancelled: ``guard`` was cancelled or timed out while hashing.
    """
    checked_file(path, what)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise InvalidInputError(
            f"The {what} file {path} is larger than the ingest limit",
            expected=f"at most {max_bytes / 1e6:.0f} MB",
            got=f"{size / 1e6:.0f} MB",
            hint="Raise ingest.max_file_mb (VIDREC_INGEST__MAX_FILE_MB) or split the file",
        )
    digest = hashlib.sha256()
    read = 0
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                read += len(block)
                if max_bytes is not None and read > max_bytes:
                    raise InvalidInputError(
                        f"The {what} file {path} grew past the ingest limit while being read",
                        expected=f"at most {max_bytes / 1e6:.0f} MB",
                        got="a file still growing",
                        hint="Ingest it once it is complete",
                    )
                if guard is not None:
                    guard.check()
                digest.update(block)
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the {what} file {path} ({exc.strerror or exc})",
            hint="Check its permissions",
        ) from exc
    return digest.hexdigest()

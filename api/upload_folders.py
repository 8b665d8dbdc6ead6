"""Upload folders (``<data_dir>/uploads/<job id>/``): removing them without losing what is used.

The library keeps pointing at uploaded files (play URLs, re-ingest), so a folder is removed only
down to the files no video points at. Folders no job will ever use (a cut-off upload, a job that
was never recorded) are swept when a job manager starts, once they are old enough that no other
process can still be writing them.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

ORPHAN_AGE_S = 3600.0  # an upload folder with no job this old was left by a dead process


def remove_upload(folder: Path, in_use: Callable[[], set[str]]) -> None:
    """Delete an upload folder, keeping only files a library video still points at."""
    keep = {str(Path(p).resolve()) for p in in_use()}
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


def orphan_folders(uploads_dir: Path, known_jobs: Iterable[str]) -> list[Path]:
    """Upload folders no job owns (or cut off mid-upload) that are older than ``ORPHAN_AGE_S``."""
    if not uploads_dir.is_dir():
        return []
    known = set(known_jobs)
    old = time.time() - ORPHAN_AGE_S  # younger ones may be another process's upload
    return [
        p
        for p in uploads_dir.iterdir()
        if p.is_dir()
        and (p.name.endswith(".partial") or p.name not in known)
        and p.stat().st_mtime < old
    ]

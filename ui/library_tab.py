"""The chat app's library tab, as plain functions over the ``Recommender`` facade: the video
list, staging uploads, and an ingest whose progress streams as status lines.

Everything an ingest from the app reads must be under the upload folder or ``api.ingest_roots``
(the same rule as the API); errors are shown as one readable line (:mod:`ui.notices`).
"""

from __future__ import annotations

import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agent.recommender import Recommender
from retrieval.errors import InvalidInputError, PermissionDeniedError
from retrieval.guard import IngestGuard
from retrieval.types import IngestProgress, IngestReport
from ui.cards import format_duration
from ui.notices import error_line, readable_error, warn


class ProgressFn(Protocol):
    """What ``gr.Progress`` offers: ``progress((done, total), desc=...)``."""

    def __call__(self, progress: Any, desc: str | None = None) -> Any: ...


VIDEO_COLUMNS = ["id", "title", "length", "speaker", "text from", "synthetic audio"]


def video_rows(recommender: Recommender) -> list[list[str]]:
    """The indexed videos as table rows (``VIDEO_COLUMNS``)."""
    videos = recommender.library.videos()
    return [
        [
            v.id,
            v.title,
            format_duration(v.duration),
            v.speaker or "",
            v.transcript_source or "",
            "yes" if v.synthetic_audio else "",
        ]
        for v in sorted(videos, key=lambda v: v.title.lower())
    ]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def stage_uploads(
    uploads: Sequence[str] | None, manifest_upload: str | None, upload_root: Path
) -> tuple[list[Path], Path | None]:
    """Copy uploaded files into one folder under the data dir (Gradio's temp files do not last).

    Uploaded media and an uploaded manifest land side by side, so the manifest's relative paths
    find the media uploaded with it.
    """
    if not uploads and not manifest_upload:
        return [], None
    folder = upload_root / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    for src in uploads or []:
        dest = folder / _safe_name(Path(src).name)
        shutil.copyfile(src, dest)
        staged.append(dest)
    manifest = None
    if manifest_upload:
        manifest = folder / _safe_name(Path(manifest_upload).name)
        shutil.copyfile(manifest_upload, manifest)
    return staged, manifest


def parse_server_paths(text: str | None) -> list[Path]:
    """One path per line (files or folders on the server); a missing one is an error."""
    paths = [Path(line.strip()).expanduser() for line in (text or "").splitlines() if line.strip()]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidInputError(
            "Some server paths do not exist",
            expected="existing files or folders, one per line",
            got=", ".join(missing),
            hint="Check the spelling; paths are on the machine running vidrec",
        )
    return paths


def report_markdown(report: IngestReport, seconds: float) -> str:
    lines = [
        f"**Done in {seconds:.1f} s**: {len(report.ingested)} indexed, "
        f"{len(report.unchanged)} unchanged (already indexed), {len(report.failed)} failed; "
        f"{report.chunks} chunks, {report.audio_seconds / 60:.1f} min of audio transcribed."
    ]
    for failure in report.failed:
        lines.append(f"- ⚠ `{failure.path}`: {failure.error}")
    return "\n".join(lines)


def progress_line(p: IngestProgress) -> str:
    current = Path(p.current).name if p.current else ""
    return (
        f"Indexing {p.files_done}/{p.files_total} {current} · "
        f"{p.audio_seconds / 60:.1f} min of audio transcribed · {p.chunks} chunks"
    )


def ingest(
    recommender: Recommender,
    uploads: Sequence[str] | None,
    server_paths: str | None,
    manifest_upload: str | None,
    manifest_path: str | None,
    upload_root: Path,
    progress: ProgressFn | Callable[..., Any] | None = None,
    *,
    server_roots: Sequence[Path] = (),
) -> Iterator[str]:
    """Ingest uploads and/or server paths (and a manifest), streaming status lines.

    The ingest runs in a worker thread; its progress events are relayed as they come (and to
    ``progress``, a ``gr.Progress``). Re-ingesting unchanged files is skipped by the library.
    Everything it reads must be under ``upload_root`` or one of ``server_roots`` (the app passes
    ``api.ingest_roots``; with none, server paths are refused), manifest rows included.
    """
    try:
        paths = parse_server_paths(server_paths)
        on_server = bool(paths) or bool(manifest_path and manifest_path.strip())
        if on_server and not server_roots:
            raise PermissionDeniedError(
                "Ingesting files already on the server is turned off in this app",
                expected="uploaded files, or paths under a folder in api.ingest_roots",
                got="server paths",
                hint="Upload the files instead, or start the app with "
                "VIDREC_API__INGEST_ROOTS='[\"/srv/videos\"]'",
            )
        manifest: Path | None = None
        if manifest_path and manifest_path.strip():
            manifest = Path(manifest_path.strip()).expanduser()
            if not manifest.is_file():
                raise InvalidInputError(
                    "Manifest not found",
                    expected="a CSV or JSONL file on the server",
                    got=str(manifest),
                )
        staged, staged_manifest = stage_uploads(uploads, manifest_upload, upload_root)
        paths += staged
        manifest = staged_manifest or manifest
        if not paths and manifest is None:
            raise InvalidInputError(
                "Nothing to ingest",
                expected="uploaded files, server paths or a manifest",
                got="none of them",
                hint="Upload media/caption/transcript files or type paths on the server",
            )
    except Exception as exc:
        message = readable_error(exc)
        warn(message)
        yield error_line(message)
        return

    events: queue.Queue[IngestProgress | None] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            guard = IngestGuard([upload_root, *server_roots])
            outcome["report"] = recommender.ingest(
                paths, manifest=manifest, progress=events.put, guard=guard
            )
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            events.put(None)

    started = time.perf_counter()
    worker = threading.Thread(target=work, name="vidrec-ui-ingest", daemon=True)
    worker.start()
    yield f"Starting: {len(paths)} path(s)" + (
        f" and manifest `{manifest.name}`" if manifest else ""
    )
    while (event := events.get()) is not None:
        if progress is not None:
            progress((event.files_done, event.files_total), desc=progress_line(event))
        yield progress_line(event)
    worker.join()
    if "error" in outcome:
        message = readable_error(outcome["error"])
        warn(message)
        yield error_line(f"Ingest stopped: {message}")
        return
    yield report_markdown(outcome["report"], time.perf_counter() - started)

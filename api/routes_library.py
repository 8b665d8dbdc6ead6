"""Library routes (admin keys): ``POST /v1/videos`` -> background ingest job, ``GET /v1/jobs/{id}``,
``DELETE /v1/videos/{id}``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.auth import Principal
from api.context import ApiContext, get_ctx, principal_dep
from api.errors import invalid_from_pydantic
from api.jobs import Job
from api.media import MediaKind, library_file, media_roots
from api.schemas import IngestPathsRequest, IngestReportOut, JobOut, ProgressOut
from api.uploads import (
    TRANSCRIPT_SUFFIXES,
    check_library_file,
    is_json,
    is_multipart,
    read_json,
    save_all,
    unsupported_body,
)
from retrieval.errors import InvalidInputError, PermissionDeniedError
from retrieval.manifest import MANIFEST_SUFFIXES
from retrieval.paths import resolve_roots

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["library"])
upload_router = APIRouter(prefix="/v1", tags=["library"])

Who = Annotated[Principal, Depends(principal_dep)]
MAX_FILES = 1000

_UPLOAD_FORM = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "media, caption (.srt/.vtt) or transcript (.txt/.md) files",
        },
        "manifest": {
            "type": "string",
            "format": "binary",
            "description": "optional CSV/JSONL manifest; its relative paths name the uploaded files",
        },
    },
}


def _hide_upload_dir(job: Job) -> Callable[[str], str]:
    """Answers name uploaded files by their names, never by the server folder they were saved in."""
    folder = job.upload_dir
    if not folder:
        return lambda text: text
    return lambda text: text.replace(folder + "/", "").replace(folder, "the job's upload folder")


def job_out(job: Job) -> JobOut:
    p = job.progress
    hide = _hide_upload_dir(job)
    report = IngestReportOut.of(job.report) if job.report else None
    if report is not None:
        for failure in report.failed:
            failure.path, failure.error = hide(failure.path), hide(failure.error)
    error = job.error
    if error is not None:
        error = {k: hide(v) if isinstance(v, str) else v for k, v in error.items()}
    return JobOut(
        id=job.id,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        files=[FsPath(f).name for f in job.files],
        progress=ProgressOut(
            files_done=p.files_done,
            files_total=p.files_total,
            current=FsPath(p.current).name if p.current else "",
            audio_seconds=p.audio_seconds,
            chunks=p.chunks,
        )
        if p
        else ProgressOut(),
        report=report,
        error=error,
        status_url=f"/v1/jobs/{job.id}",
    )


def _accepted(job: Job) -> JSONResponse:
    body = job_out(job)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Location": body.status_url}
    )


async def _from_upload(ctx: ApiContext, who: Principal, request: Request) -> JSONResponse:
    ingest = ctx.settings.ingest
    media_ok = [*ingest.media_extensions, *ingest.caption_extensions, *TRANSCRIPT_SUFFIXES]
    async with request.form(max_files=MAX_FILES + 1, max_fields=10) as form:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        manifest = form.get("manifest")
        manifest_file = manifest if isinstance(manifest, UploadFile) else None
        if not files and manifest_file is None:
            raise InvalidInputError(
                "Nothing to ingest",
                expected="multipart file fields 'files' (repeatable) and/or 'manifest'",
                got="no files",
                hint="curl -F files=@talk.mp4 -F files=@talk.srt .../v1/videos",
            )
        for f in files:  # check every name before writing a byte
            check_library_file(f, media_ok)
        if manifest_file is not None:
            check_library_file(manifest_file, MANIFEST_SUFFIXES, manifest=True)
        job_id = uuid.uuid4().hex
        dest = ctx.settings.data_dir / "uploads" / job_id
        uploads = [*files, *([manifest_file] if manifest_file is not None else [])]
        saved = await save_all(uploads, dest)
    manifest_path = str(saved[-1]) if manifest_file is not None else None
    # With a manifest, its rows name the media (ingesting them as bare paths too would duplicate).
    paths = [] if manifest_path else [str(p) for p in saved]
    # the job's run may read only its upload folder (JobManager bounds it, in any worker)
    job = ctx.jobs.submit(paths, manifest_path, upload_dir=dest, key_id=who.key_id, job_id=job_id)
    return _accepted(job)


def _ingest_roots(ctx: ApiContext) -> list[FsPath]:
    return list(resolve_roots(ctx.settings.api.ingest_roots) or ())


def _check_server_paths(ctx: ApiContext, body: IngestPathsRequest) -> list[str]:
    roots = _ingest_roots(ctx)
    if not roots:
        raise PermissionDeniedError(
            "Ingesting server-side paths is turned off",
            expected="uploaded files, or paths under a folder in api.ingest_roots",
            got="server-side paths",
            hint="Upload the files instead, or set VIDREC_API__INGEST_ROOTS='[\"/srv/videos\"]'",
        )
    checked: list[str] = []
    for raw in [*body.paths, *([body.manifest] if body.manifest else [])]:
        path = FsPath(raw).expanduser().resolve()
        if not any(path.is_relative_to(root) for root in roots):
            raise PermissionDeniedError(
                f"The path {raw} is outside the folders this server ingests from",
                expected="a path under " + ", ".join(str(r) for r in roots),
                got=str(path),
                hint="Move the files under an ingest root, or upload them",
            )
        if not path.exists():
            raise InvalidInputError(
                f"The path {raw} does not exist on the server",
                expected="an existing file or folder",
                got=str(path),
            )
        checked.append(str(path))
    return checked


@upload_router.post(
    "/videos",
    status_code=202,
    response_model=JobOut,
    summary="Add videos: upload files or name server-side paths (admin); starts an ingest job",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _UPLOAD_FORM},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "paths": {"type": "array", "items": {"type": "string"}},
                            "manifest": {"type": "string"},
                        },
                    }
                },
            },
        }
    },
)
async def add_videos(request: Request, who: Who) -> JSONResponse:
    """Answers 202 with the job; poll ``GET /v1/jobs/{id}`` until ``succeeded`` or ``failed``.
    The files are saved completely (or not at all) before the job starts."""
    who.check_admin("add videos to the library")
    ctx = get_ctx(request)
    ctx.readiness.require()
    if is_multipart(request):
        return await _from_upload(ctx, who, request)
    if not is_json(request):
        raise unsupported_body(request, "multipart/form-data with 'files', or application/json")
    data = await read_json(request, ctx.limits.max_body_bytes)
    try:
        body = IngestPathsRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None
    checked = _check_server_paths(ctx, body)
    paths = checked[: len(body.paths)]
    manifest = checked[-1] if body.manifest else None
    job = ctx.jobs.submit(paths, manifest, key_id=who.key_id)  # bounded by api.ingest_roots
    return _accepted(job)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Status of an ingest job (admin)")
async def get_job(
    job_id: Annotated[str, Path(max_length=64)], request: Request, who: Who
) -> JobOut:
    who.check_admin("read ingest jobs")
    return job_out(get_ctx(request).jobs.get(job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut, summary="Cancel an ingest job (admin)")
async def cancel_job(
    job_id: Annotated[str, Path(max_length=64)], request: Request, who: Who
) -> JobOut:
    """A queued job never starts; a running one stops between videos (those already written
    stay). A finished job is returned unchanged."""
    who.check_admin("cancel ingest jobs")
    jobs = get_ctx(request).jobs
    jobs.cancel(job_id)
    return job_out(jobs.get(job_id))


@router.get(
    "/videos/{video_id}/{kind}",
    response_class=FileResponse,
    summary="A library video's local media file or thumbnail (any key)",
)
async def video_file(
    video_id: Annotated[str, Path(min_length=1, max_length=200)],
    kind: MediaKind,
    request: Request,
    who: Who,
) -> FileResponse:
    """Where answers' ``play_url`` / ``thumbnail`` point for local files; only files inside the
    library's folders are served (404 otherwise)."""
    ctx = get_ctx(request)
    path = library_file(ctx.recommender.library, video_id, kind, media_roots(ctx.settings))
    return FileResponse(path)


@router.delete("/videos/{video_id}", status_code=204, summary="Remove a video (admin)")
async def delete_video(
    video_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request, who: Who
) -> Response:
    who.check_admin("remove videos from the library")
    ctx = get_ctx(request)
    await ctx.call(ctx.recommender.remove_video, video_id)
    return Response(status_code=204)

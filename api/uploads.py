"""Reading request bodies within limits, and checking and saving uploaded files.

Uploads are written to a ``.partial`` folder and renamed into place only when every file is
complete, so a failed or oversized upload leaves nothing behind.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from api.errors import (
    UnsupportedMediaTypeError,
    invalid_json,
    payload_too_large,
    too_deeply_nested,
)
from retrieval.errors import InvalidInputError

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
COPY_CHUNK = 1024 * 1024
TRANSCRIPT_SUFFIXES = (".txt", ".md")


def is_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, refusing more than ``limit`` bytes (checked before and while reading)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise payload_too_large(limit, int(length), upload=False)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise payload_too_large(limit, None, upload=False)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except RecursionError:
        raise too_deeply_nested() from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid_json(str(exc)) from None


def unsupported_body(request: Request, expected: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        "Unsupported request content type",
        expected=expected,
        got=repr(request.headers.get("content-type", "none")),
        hint="Set the Content-Type header to match the body",
    )


def json_field(form_value: Any, name: str) -> Any:
    """A multipart text field that carries JSON (``filters``, ``messages``)."""
    if form_value is None or form_value == "":
        return None
    if not isinstance(form_value, str):
        raise InvalidInputError(
            f"The form field '{name}' must be text", expected="JSON text", got="a file"
        )
    try:
        return json.loads(form_value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"The form field '{name}' is not valid JSON",
            expected="JSON text, e.g. " + ('{"max_duration": 600}' if name == "filters" else "[]"),
            got=f"{form_value[:60]!r} ({exc.msg})",
        ) from None


def safe_name(filename: str | None, fallback: str = "upload") -> str:
    name = Path(filename or "").name
    name = _SAFE.sub("_", name).strip("._") or fallback
    return name[:150]


def suffix_of(upload: UploadFile) -> str:
    return Path(upload.filename or "").suffix.lower()


def check_audio(upload: UploadFile, media_extensions: Sequence[str]) -> str:
    """Accept an audio/video upload or raise 415; returns the file suffix to save it with."""
    ctype = (upload.content_type or "").split(";")[0].strip().lower()
    suffix = suffix_of(upload)
    media = {e.lower() for e in media_extensions}
    major = ctype.split("/")[0]
    ok = major in ("audio", "video") or (
        ctype in ("", "application/octet-stream") and suffix in media
    )
    if not ok:
        raise UnsupportedMediaTypeError(
            "The upload is not an audio recording",
            expected="an audio or video file (audio/* or video/*, e.g. "
            + ", ".join(sorted(e.lstrip(".") for e in media)[:8])
            + ")",
            got=f"{ctype or 'no type'} ({upload.filename or 'unnamed'})",
            hint="Send the recording as the multipart field 'audio' with its audio/* type",
        )
    return suffix if suffix in media else ".bin"


def check_library_file(
    upload: UploadFile, allowed: Sequence[str], *, manifest: bool = False
) -> None:
    suffix = suffix_of(upload)
    if suffix not in allowed:
        what = "a manifest" if manifest else "a media, caption or transcript file"
        raise UnsupportedMediaTypeError(
            f"Cannot ingest {upload.filename or 'an unnamed file'}",
            expected=f"{what} ({', '.join(allowed)})",
            got=repr(suffix or "no extension"),
            hint="Name files with their real extension; see `vidrec ingest --help`",
        )


async def save_all(uploads: Sequence[UploadFile], dest: Path) -> list[Path]:
    """Save uploads into ``dest`` atomically: all of them, or none (nothing left on failure)."""
    partial = dest.with_name(dest.name + ".partial")
    partial.mkdir(parents=True, exist_ok=False)
    saved: list[str] = []
    try:
        for upload in uploads:
            name = safe_name(upload.filename, fallback=f"file{len(saved)}")
            stem, suffix = Path(name).stem, Path(name).suffix
            while name in saved:
                name = f"{stem}-{uuid.uuid4().hex[:6]}{suffix}"
            with (partial / name).open("wb") as out:
                await upload.seek(0)
                while chunk := await upload.read(COPY_CHUNK):
                    out.write(chunk)
            saved.append(name)
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return [dest / n for n in saved]


async def save_temp(upload: UploadFile, folder: Path, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    try:
        with path.open("wb") as out:
            await upload.seek(0)
            while chunk := await upload.read(COPY_CHUNK):
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path

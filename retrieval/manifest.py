"""Library manifests (CSV or JSONL): one row per video with its metadata and input files.

Columns (CSV header or JSON keys; only ``title`` or a file path is required)::

    id, title, description, tags, duration, published, url, language, speaker,
    media_path, transcript_path, captions_path, thumbnail, synthetic_audio

Accepted spellings: ``tags`` as a JSON list, a Python-list string as in TED's CSV
(``"['a', 'b']"``), or ``"a;b"`` / ``"a,b"``; ``duration`` in seconds or ``mm:ss`` / ``hh:mm:ss``;
``published`` as an ISO date (or date-time) or unix seconds. A few aliases are understood
(``published_date``, ``media``, ``transcript``, ``captions``, ...). Any other column is kept, as
text, in ``extra``. Relative paths are resolved against the manifest's folder and must name existing
regular files (under the allowed roots when the manifest came from outside); ``url`` must be an
http(s) link, ``thumbnail`` one or an image file. A
missing ``id`` is derived from the title and path (stable across runs).

A bad row becomes an :class:`IngestFailure` (``"file:line"`` and one line saying what was expected,
what came and how to fix it); the other rows are kept. Only a manifest that cannot be read at all
(missing, wrong extension, no usable header) raises :class:`InvalidInputError`. Each cell's parser
is in :mod:`retrieval.manifest_fields` (re-exported here).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from retrieval.errors import InvalidInputError
from retrieval.ids import ID_EXAMPLES, id_problem
from retrieval.manifest_fields import (
    RowError,
    cell_text,
    derive_id,
    parse_bool,
    parse_duration,
    parse_published,
    parse_tags,
    parse_thumbnail,
    parse_url,
    resolve_path,
)
from retrieval.paths import resolve_roots
from retrieval.types import IngestFailure, TranscriptSource, Video

__all__ = [
    "FIELDS",
    "MANIFEST_SUFFIXES",
    "ManifestResult",
    "ManifestRow",
    "derive_id",
    "parse_bool",
    "parse_duration",
    "parse_published",
    "parse_tags",
    "read_manifest",
    "write_manifest",
]

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")

FIELDS = (
    "id",
    "title",
    "description",
    "tags",
    "duration",
    "published",
    "url",
    "language",
    "speaker",
    "media_path",
    "transcript_path",
    "captions_path",
    "thumbnail",
    "synthetic_audio",
)
_ALIASES = {
    "published_date": "published",
    "date": "published",
    "media": "media_path",
    "file": "media_path",
    "path": "media_path",
    "transcript": "transcript_path",
    "captions": "captions_path",
    "subtitles": "captions_path",
    "subtitles_path": "captions_path",
    "summary": "description",
    "keywords": "tags",
}
_PATH_FIELDS = ("media_path", "transcript_path", "captions_path")
_OVERFLOW = "\x00overflow"  # csv.DictReader puts cells beyond the header under the key None


@dataclass(frozen=True)
class ManifestRow:
    """One video as a manifest describes it; paths are absolute once read."""

    id: str
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    duration: float | None = None
    published: date | None = None
    url: str | None = None
    language: str | None = None
    speaker: str | None = None
    media_path: str | None = None
    transcript_path: str | None = None
    captions_path: str | None = None
    thumbnail: str | None = None
    synthetic_audio: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def transcript_source(self) -> TranscriptSource:
        """Where the text will come from: captions win, then a transcript, then ASR, then metadata."""
        if self.captions_path:
            return "captions"
        if self.transcript_path:
            return "transcript"
        if self.media_path:
            return "asr"
        return "metadata"

    def to_video(self) -> Video:
        extra = dict(self.extra)
        if self.transcript_source == "transcript":
            extra.setdefault("timestamps", "estimated")  # transcripts carry no times of their own
        return Video(
            id=self.id,
            title=self.title,
            description=self.description,
            tags=self.tags,
            duration=self.duration,
            published=self.published,
            url=self.url,
            language=self.language,
            media_path=self.media_path,
            thumbnail=self.thumbnail,
            speaker=self.speaker,
            synthetic_audio=self.synthetic_audio,
            transcript_source=self.transcript_source,
            extra=extra,
        )

    def to_json(self) -> dict[str, Any]:
        """The row as a JSONL object that :func:`read_manifest` reads back unchanged."""
        data: dict[str, Any] = {"id": self.id, "title": self.title}
        optional: dict[str, Any] = {
            "description": self.description or None,
            "tags": list(self.tags) or None,
            "duration": self.duration,
            "published": self.published.isoformat() if self.published else None,
            "url": self.url,
            "language": self.language,
            "speaker": self.speaker,
            "media_path": self.media_path,
            "transcript_path": self.transcript_path,
            "captions_path": self.captions_path,
            "thumbnail": self.thumbnail,
            "synthetic_audio": self.synthetic_audio or None,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        data.update(self.extra)
        return data


@dataclass
class ManifestResult:
    rows: list[ManifestRow] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)


def _canonical(column: str) -> str:
    name = column.strip().lower().replace(" ", "_").replace("-", "_")
    return _ALIASES.get(name, name)


def _normalise_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key is None:  # csv: more cells than header columns
            out.setdefault(_OVERFLOW, value)
            continue
        name = _canonical(key)
        if name in out and name in FIELDS and cell_text(out[name]):
            continue  # an alias and the canonical column both present: the first one wins
        out[name] = value
    return out


def _row(data: dict[str, Any], base: Path, roots: Sequence[Path] | None) -> ManifestRow:
    overflow = data.get(_OVERFLOW)
    if overflow is not None:
        raise RowError(
            "row",
            "as many cells as header columns",
            f"{len(overflow)} extra cell(s)",
            "quote cells that contain commas",
        )
    paths = {c: resolve_path(c, data.get(c), base, roots) for c in _PATH_FIELDS}
    title = cell_text(data.get("title"))
    if not title:
        first_path = next((p for p in paths.values() if p), None)
        if first_path is None:
            raise RowError(
                "title",
                "a title (or a media/transcript/captions path to name the video after)",
                "",
                "add a title",
            )
        title = Path(first_path).stem.replace("_", " ")
    raw_id = data.get("id")
    video_id = cell_text(raw_id)
    if (raw_id is not None and not isinstance(raw_id, str | int)) or any(
        c.isspace() for c in video_id
    ):
        raise RowError("id", "a string without spaces", raw_id, "fix the id or leave it empty")
    problem = id_problem(video_id)
    if problem is not None:
        raise RowError(
            "id",
            "an id without '/', '\\', '..' or control characters",
            problem,
            f"fix the id ({ID_EXAMPLES}) or leave it empty",
        )
    if not video_id:
        video_id = derive_id(title, paths["media_path"] or paths["transcript_path"])
    extra: dict[str, str] = {}
    for key, value in data.items():
        if key in FIELDS or value is None or value == "":
            continue
        extra[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return ManifestRow(
        id=video_id,
        title=title,
        description=cell_text(data.get("description")),
        tags=parse_tags(data.get("tags")),
        duration=parse_duration(data.get("duration")),
        published=parse_published(data.get("published")),
        url=parse_url(data.get("url")),
        language=cell_text(data.get("language")) or None,
        speaker=cell_text(data.get("speaker")) or None,
        media_path=paths["media_path"],
        transcript_path=paths["transcript_path"],
        captions_path=paths["captions_path"],
        thumbnail=parse_thumbnail(data.get("thumbnail"), base, roots),
        synthetic_audio=parse_bool(data.get("synthetic_audio")),
        extra=extra,
    )


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    lines = text.splitlines(keepends=True)
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    names = {_canonical(h) for h in header if h}
    if not names & {"title", *_PATH_FIELDS}:
        raise InvalidInputError(
            f"Manifest {path.name} has no usable header (line 1)",
            expected="a CSV header with a 'title' column (or media_path / transcript_path)",
            got=repr(",".join(header)[:120]) if header else "an empty file",
            hint="Add the header line, e.g. id,title,description,tags,duration,published,url,media_path",
        )
    while True:
        start = reader.line_num + 1
        while start <= len(lines) and not lines[start - 1].strip():
            start += 1  # the reader skips blank lines before a record
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, f"row: expected valid CSV, got a parse error ({exc}); check the quotes"
            return
        if not any(cell_text(v) for k, v in record.items() if k is not None):
            continue  # blank line
        yield start, record


def _jsonl_records(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (
                number,
                (
                    f"row: expected one JSON object per line, got invalid JSON ({exc.msg} at column "
                    f"{exc.colno}); fix the line or remove it"
                ),
            )
            continue
        if not isinstance(record, dict):
            yield (
                number,
                (
                    f"row: expected a JSON object, got {type(record).__name__}; write the row as "
                    '{"title": ...}'
                ),
            )
            continue
        yield number, record


def read_manifest(path: str | Path, *, roots: Sequence[str | Path] | None = None) -> ManifestResult:
    """Read a CSV or JSONL manifest: good rows in order, one failure per bad row.

    Every file a row names (media, captions, transcript, a local thumbnail) must be a regular file;
    with ``roots`` (inputs from outside: an upload, an API request) it must also resolve, symlinks
    followed, under one of those folders. ``url`` must be an http(s) link.

    Raises:
        InvalidInputError: the manifest itself cannot be read (missing, not UTF-8, wrong extension,
            a CSV without a usable header).
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise InvalidInputError(
            f"{path.name} is not a manifest",
            expected="a .csv or .jsonl file",
            got=repr(path.suffix or "no extension"),
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInputError(f"Manifest {path} does not exist", hint="Check the path") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"Manifest {path.name} is not UTF-8 text (line {line})",
            hint=f"Convert it, e.g. `iconv -f latin1 -t utf-8 {path.name}`",
        ) from exc
    base = path.resolve().parent
    allowed = resolve_roots(roots)
    records = _csv_records(path, text) if suffix == ".csv" else _jsonl_records(text)
    result = ManifestResult()
    seen: dict[str, int] = {}
    for line, record in records:
        where = f"{path}:{line}"
        if isinstance(record, str):
            result.failures.append(IngestFailure(where, record))
            continue
        try:
            row = _row(_normalise_keys(record), base, allowed)
        except RowError as exc:
            result.failures.append(IngestFailure(where, exc.line()))
            continue
        if row.id in seen:
            result.failures.append(
                IngestFailure(
                    where,
                    f"id: expected a unique id, got {row.id!r} again (first on line "
                    f"{seen[row.id]}); give this row another id",
                )
            )
            continue
        seen[row.id] = line
        result.rows.append(row)
    for failure in result.failures:
        log.warning("manifest row skipped: %s: %s", failure.path, failure.error)
    return result


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    """Write ``rows`` as JSONL atomically (a temp file renamed over ``path``); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows)
    if path.is_file() and path.read_text(encoding="utf-8") == body:
        return path  # unchanged: keep the file (and its mtime) as it is
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(path)
    return path

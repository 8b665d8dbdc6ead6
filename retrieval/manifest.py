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
(missing, wrong extension, no usable header) raises :class:`InvalidInputError`.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from retrieval.errors import InvalidInputError
from retrieval.ids import ID_EXAMPLES, id_problem
from retrieval.paths import checked_file, is_web_url, resolve_roots
from retrieval.types import IngestFailure, TranscriptSource, Video

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


class _RowError(Exception):
    """One bad field: becomes the row's IngestFailure."""

    def __init__(self, column: str, expected: str, got: Any, hint: str) -> None:
        super().__init__(column)
        self.column, self.expected, self.got, self.hint = column, expected, got, hint

    def line(self) -> str:
        got = repr(self.got) if not isinstance(self.got, str) or self.got else "an empty value"
        return f"{self.column}: expected {self.expected}, got {got}; {self.hint}"


# --- field parsers ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def parse_tags(value: Any) -> tuple[str, ...]:
    """A JSON list, a Python-list string ``"['a', 'b']"``, ``"a;b"`` or ``"a,b"`` into tags."""
    if value is None or value == "":
        return ()
    items: list[Any]
    if isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                try:
                    parsed = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise _RowError(
                        "tags",
                        "a list like [\"a\", \"b\"] or ['a', 'b'], or 'a;b'",
                        value,
                        "close the brackets and quote every tag",
                    ) from None
            if not isinstance(parsed, list):
                raise _RowError("tags", "a list of tags", value, "write the tags as a list")
            items = parsed
        else:
            sep = ";" if ";" in text else ("|" if "|" in text else ",")
            items = text.split(sep)
    else:
        raise _RowError("tags", "a list of strings or 'a;b'", value, "write the tags as text")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str | int | float):
            raise _RowError("tags", "a list of strings", value, "give each tag as a string")
        tag = " ".join(str(item).split())
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_duration(value: Any) -> float | None:
    """Seconds (``754``, ``"754.5"``) or a clock (``"12:34"``, ``"1:02:03"``) into seconds."""
    if value is None or value == "":
        return None
    expected = "seconds (e.g. 754) or mm:ss / hh:mm:ss"
    hint = "fix the value or leave it empty"
    if isinstance(value, bool):
        raise _RowError("duration", expected, value, hint)
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        match = _CLOCK.match(text)
        if match:
            hours, minutes, secs = match.groups()
            if (int(minutes) >= 60 and hours is not None) or float(secs) >= 60:
                raise _RowError("duration", expected, value, "minutes and seconds go up to 59")
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise _RowError("duration", expected, value, hint) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _RowError("duration", "a non-negative " + expected, value, hint)
    return seconds


def parse_published(value: Any) -> date | None:
    """An ISO date / date-time (``"2006-06-27"``) or unix seconds (``1151367060``) into a date."""
    if value is None or value == "":
        return None
    expected = "an ISO date (2006-06-27) or unix seconds (1151367060)"
    hint = "fix the value or leave it empty"
    if isinstance(value, bool):
        raise _RowError("published", expected, value, hint)
    if isinstance(value, int | float):
        return _from_unix(value, expected, hint)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_unix(float(text), expected, hint)
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _RowError("published", expected, value, hint) from None


def _from_unix(value: float, expected: str, hint: str) -> date:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).date()
    except (OverflowError, OSError, ValueError):
        raise _RowError("published", expected, value, hint) from None


def parse_bool(value: Any, column: str = "synthetic_audio") -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y"}:
        return True
    if text in {"0", "false", "no", "n"}:
        return False
    raise _RowError(column, "true or false", value, "write true/false (or 1/0)")


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:48].strip("-")


def derive_id(title: str, path: str | None = None) -> str:
    """A stable id from the title and (when given) the file the row points at."""
    key = f"{title}\x00{path or ''}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]
    slug = _slug(title) or _slug(Path(path).stem if path else "") or "video"
    return f"{slug}-{digest}"


# --- reading ------------------------------------------------------------------------------------


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
        if name in out and name in FIELDS and _text(out[name]):
            continue  # an alias and the canonical column both present: the first one wins
        out[name] = value
    return out


_WHAT = {
    "media_path": "media",
    "transcript_path": "transcript",
    "captions_path": "caption",
    "thumbnail": "thumbnail",
}


def _resolve_path(column: str, value: Any, base: Path, roots: Sequence[Path] | None) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        return str(checked_file(text, _WHAT[column], base=base, roots=roots))
    except InvalidInputError as exc:
        raise _RowError(column, exc.expected or "a file", exc.got or text, exc.hint or "") from None


def _url(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    if not is_web_url(text):
        raise _RowError(
            "url", "an http(s) link", text, "give the video's web address or leave it empty"
        )
    return text


def _thumbnail(value: Any, base: Path, roots: Sequence[Path] | None) -> str | None:
    """A web image (kept as is) or a local image file (resolved and checked like media)."""
    text = _text(value)
    if not text:
        return None
    if is_web_url(text):
        return text
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", text):
        raise _RowError(
            "thumbnail",
            "an http(s) link or an image file",
            text,
            "give a web address or a file path, or leave it empty",
        )
    return _resolve_path("thumbnail", text, base, roots)


def _row(data: dict[str, Any], base: Path, roots: Sequence[Path] | None) -> ManifestRow:
    overflow = data.get(_OVERFLOW)
    if overflow is not None:
        raise _RowError(
            "row",
            "as many cells as header columns",
            f"{len(overflow)} extra cell(s)",
            "quote cells that contain commas",
        )
    paths = {c: _resolve_path(c, data.get(c), base, roots) for c in _PATH_FIELDS}
    title = _text(data.get("title"))
    if not title:
        first_path = next((p for p in paths.values() if p), None)
        if first_path is None:
            raise _RowError(
                "title",
                "a title (or a media/transcript/captions path to name the video after)",
                "",
                "add a title",
            )
        title = Path(first_path).stem.replace("_", " ")
    raw_id = data.get("id")
    video_id = _text(raw_id)
    if (raw_id is not None and not isinstance(raw_id, str | int)) or any(
        c.isspace() for c in video_id
    ):
        raise _RowError("id", "a string without spaces", raw_id, "fix the id or leave it empty")
    problem = id_problem(video_id)
    if problem is not None:
        raise _RowError(
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
        description=_text(data.get("description")),
        tags=parse_tags(data.get("tags")),
        duration=parse_duration(data.get("duration")),
        published=parse_published(data.get("published")),
        url=_url(data.get("url")),
        language=_text(data.get("language")) or None,
        speaker=_text(data.get("speaker")) or None,
        media_path=paths["media_path"],
        transcript_path=paths["transcript_path"],
        captions_path=paths["captions_path"],
        thumbnail=_thumbnail(data.get("thumbnail"), base, roots),
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
        if not any(_text(v) for k, v in record.items() if k is not None):
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
        except _RowError as exc:
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

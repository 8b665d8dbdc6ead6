"""The cells of a manifest row, one parser each: tags, duration, publication date, flags, links,
thumbnails and file paths, and the id derived for a row without one.

A bad cell raises :class:`RowError`, which :func:`retrieval.manifest.read_manifest` turns into the
row's :class:`~retrieval.types.IngestFailure` (what was expected, what came, how to fix it).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from retrieval.errors import InvalidInputError
from retrieval.paths import checked_file, is_web_url

__all__ = [
    "RowError",
    "cell_text",
    "derive_id",
    "parse_bool",
    "parse_duration",
    "parse_published",
    "parse_tags",
    "parse_thumbnail",
    "parse_url",
    "resolve_path",
]


class RowError(Exception):
    """One bad field: becomes the row's IngestFailure."""

    def __init__(self, column: str, expected: str, got: Any, hint: str) -> None:
        super().__init__(column)
        self.column, self.expected, self.got, self.hint = column, expected, got, hint

    def line(self) -> str:
        got = repr(self.got) if not isinstance(self.got, str) or self.got else "an empty value"
        return f"{self.column}: expected {self.expected}, got {got}; {self.hint}"


def cell_text(value: Any) -> str:
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
                    raise RowError(
                        "tags",
                        "a list like [\"a\", \"b\"] or ['a', 'b'], or 'a;b'",
                        value,
                        "close the brackets and quote every tag",
                    ) from None
            if not isinstance(parsed, list):
                raise RowError("tags", "a list of tags", value, "write the tags as a list")
            items = parsed
        else:
            sep = ";" if ";" in text else ("|" if "|" in text else ",")
            items = text.split(sep)
    else:
        raise RowError("tags", "a list of strings or 'a;b'", value, "write the tags as text")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str | int | float):
            raise RowError("tags", "a list of strings", value, "give each tag as a string")
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
        raise RowError("duration", expected, value, hint)
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        match = _CLOCK.match(text)
        if match:
            hours, minutes, secs = match.groups()
            if (int(minutes) >= 60 and hours is not None) or float(secs) >= 60:
                raise RowError("duration", expected, value, "minutes and seconds go up to 59")
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise RowError("duration", expected, value, hint) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RowError("duration", "a non-negative " + expected, value, hint)
    return seconds


def parse_published(value: Any) -> date | None:
    """An ISO date / date-time (``"2006-06-27"``) or unix seconds (``1151367060``) into a date."""
    if value is None or value == "":
        return None
    expected = "an ISO date (2006-06-27) or unix seconds (1151367060)"
    hint = "fix the value or leave it empty"
    if isinstance(value, bool):
        raise RowError("published", expected, value, hint)
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
        raise RowError("published", expected, value, hint) from None


def _from_unix(value: float, expected: str, hint: str) -> date:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).date()
    except (OverflowError, OSError, ValueError):
        raise RowError("published", expected, value, hint) from None


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
    raise RowError(column, "true or false", value, "write true/false (or 1/0)")


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


_WHAT = {
    "media_path": "media",
    "transcript_path": "transcript",
    "captions_path": "caption",
    "thumbnail": "thumbnail",
}


def resolve_path(column: str, value: Any, base: Path, roots: Sequence[Path] | None) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        return str(checked_file(text, _WHAT[column], base=base, roots=roots))
    except InvalidInputError as exc:
        raise RowError(column, exc.expected or "a file", exc.got or text, exc.hint or "") from None


def parse_url(value: Any) -> str | None:
    text = cell_text(value)
    if not text:
        return None
    if not is_web_url(text):
        raise RowError(
            "url", "an http(s) link", text, "give the video's web address or leave it empty"
        )
    return text


def parse_thumbnail(value: Any, base: Path, roots: Sequence[Path] | None) -> str | None:
    """A web image (kept as is) or a local image file (resolved and checked like media)."""
    text = cell_text(value)
    if not text:
        return None
    if is_web_url(text):
        return text
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", text):
        raise RowError(
            "thumbnail",
            "an http(s) link or an image file",
            text,
            "give a web address or a file path, or leave it empty",
        )
    return resolve_path("thumbnail", text, base, roots)

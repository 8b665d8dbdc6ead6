"""Caption files (.srt via ``srt``, .vtt via ``webvtt-py``) into a timed :class:`Transcript`.

Parsing is strict: a malformed cue is an error naming the file and the line, never silently
dropped, so an operator learns that part of a video would be unsearchable.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import srt
import webvtt
import webvtt.errors
import webvtt.models

from retrieval.errors import MediaError
from retrieval.types import Segment, Transcript

log = logging.getLogger(__name__)

CAPTION_SUFFIXES = (".srt", ".vtt")

# Inline markup the libraries leave in the text: HTML-like tags (<i>, <font ...>) in SRT and
# ASS-style override blocks ({\an8}).
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")


def parse_captions(path: str | Path) -> Transcript:
    """Parse an .srt or .vtt file into segments ordered by start time (source="captions").

    Raises:
        MediaError: the file is missing, not UTF-8, not valid SRT/WebVTT (with the line when it can
            be told), or holds no cue with text.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CAPTION_SUFFIXES:
        raise MediaError(
            f"{path.name} is not a caption file",
            expected="a .srt or .vtt file",
            got=repr(path.suffix or "no extension"),
        )
    text = _read_text(path)
    segments = _parse_srt(path, text) if suffix == ".srt" else _parse_vtt(path, text)
    segments = [s for s in segments if s.text]
    if not segments:
        raise MediaError(
            f"Caption file {path.name} has no cues with text",
            hint="Export the captions again, or remove the empty file so the audio is transcribed",
        )
    segments.sort(key=lambda s: (s.start, s.end))
    return Transcript(segments=_merge_repeats(segments), source="captions")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MediaError(
            f"Caption file {path} does not exist",
            hint="Check the path (relative paths in a manifest are resolved against its folder)",
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise MediaError(
            f"Caption file {path.name} is not UTF-8 text (line {line})",
            hint=f"Convert it, e.g. `iconv -f latin1 -t utf-8 {path.name}`",
        ) from exc
    except OSError as exc:
        raise MediaError(f"Cannot read caption file {path} ({exc.strerror or exc})") from exc


def _clean(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split())


def _parse_srt(path: Path, text: str) -> list[Segment]:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        line = text.count("\n", 0, exc.expected_start) + 1
        snippet = " / ".join(exc.unmatched_content.strip().splitlines()[:2])
        raise MediaError(
            f"Malformed SRT in {path.name} at line {line}",
            expected="blocks of: a number, a 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line, text, a blank line",
            got=repr(snippet[:120]),
            hint=f"Fix or delete that block in {path}",
        ) from exc
    except ValueError as exc:  # srt.TimestampParseError and friends
        raise MediaError(
            f"Malformed SRT timestamp in {path.name} ({exc})",
            hint=f"Fix the timestamp in {path}",
        ) from exc
    return [
        Segment(
            start=sub.start.total_seconds(), end=sub.end.total_seconds(), text=_clean(sub.content)
        )
        for sub in subtitles
    ]


def _seconds(ts: webvtt.models.Timestamp) -> float:
    hours, minutes, seconds, millis = ts.to_tuple()
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def _vtt_line(text: str, message: str) -> tuple[int, str] | None:
    """The first file line quoted in a webvtt-py error message (it quotes the bad block or setting)."""
    quoted = [q for q in re.findall(r"'([^']+)'", message) if q.strip()]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and any(q in line for q in quoted):
            return number, line.strip()
    return None


def _parse_vtt(path: Path, text: str) -> list[Segment]:
    try:
        captions = webvtt.from_string(text, strict=True).captions
    except webvtt.errors.MalformedFileError as exc:
        first = text.lstrip("\ufeff").splitlines()[:1]
        raise MediaError(
            f"{path.name} is not a WebVTT file (line 1)",
            expected="a first line starting with 'WEBVTT'",
            got=repr(first[0][:60]) if first else "an empty file",
            hint="Add the 'WEBVTT' header line, or rename the file to .srt if it is SRT",
        ) from exc
    except webvtt.errors.MalformedCaptionError as exc:
        found = _vtt_line(text, str(exc))
        where = f" at line {found[0]}" if found else ""
        raise MediaError(
            f"Malformed WebVTT cue in {path.name}{where} ({exc})",
            expected="cues of: 'HH:MM:SS.mmm --> HH:MM:SS.mmm [settings]', text, a blank line",
            got=repr(found[1][:120]) if found else str(exc),
            hint=f"Fix or delete that cue in {path}",
        ) from exc
    return [
        Segment(start=_seconds(c.start_time), end=_seconds(c.end_time), text=_clean(c.text))
        for c in captions
    ]


def _merge_repeats(segments: list[Segment]) -> list[Segment]:
    """Join consecutive cues with identical text (roll-up captions repeat a line across cues)."""
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].text == seg.text:
            prev = merged[-1]
            merged[-1] = Segment(prev.start, max(prev.end, seg.end), prev.text)
        else:
            merged.append(seg)
    return merged

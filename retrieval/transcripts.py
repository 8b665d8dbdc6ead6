"""Plain-text / Markdown transcripts without timestamps (e.g. TED's) into a :class:`Transcript`.

The text is cleaned (HTML entities unescaped, translator/reviewer credit lines, Markdown heading
marks and stage directions such as ``(Laughter)`` dropped) and split into sentences with
``sentencex``. Run-on text without punctuation (auto-generated captions) is cut into pieces of at
most :data:`MAX_WORDS` words.

**The times are estimates**, not measurements: each sentence's start and end are proportional to
its character position in the text, scaled to the media duration when it is known and otherwise to
:data:`CHARS_PER_SECOND`, the average speaking rate of the TED corpus. ``Transcript.source`` is
``"transcript"`` so that callers can say so (``ManifestRow.to_video`` records
``extra["timestamps"] = "estimated"``).
"""

from __future__ import annotations

import html
import logging
import math
import re
from pathlib import Path

import sentencex

from retrieval.errors import InvalidInputError
from retrieval.types import Segment, Transcript

log = logging.getLogger(__name__)

# Cleaned characters (spaces included) per second of talk, measured over the 2,098 TED talks that
# ted/talk_transcripts.csv pairs with a transcript: total text / total duration = 13.8.
CHARS_PER_SECOND = 13.8
MAX_WORDS = 40  # a longer "sentence" is unpunctuated text: cut into pieces of <= PIECE_WORDS
PIECE_WORDS = 25

_CREDIT_LINE = re.compile(r"^\s*(translator|reviewer|transcriber)\s*:.*$", re.IGNORECASE | re.M)
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_PARENTHETICAL = re.compile(r"\(([^()]*)\)")
_LABELLED_CUE = re.compile(r"^(music|video|audio|sound|singing|song)\b", re.IGNORECASE)


def _is_stage_direction(inner: str) -> bool:
    """``(Laughter)``, ``(Mock sob)``, ``(Music: "Teardrop")``, not ``(rather than undermines)``."""
    inner = inner.strip()
    if not inner or not inner[0].isupper():
        return False
    if _LABELLED_CUE.match(inner):
        return True
    return ":" not in inner and len(inner.split()) <= 5


def clean_transcript_text(raw: str) -> str:
    """The spoken text of a TED-style transcript on one line (see the module docstring)."""
    text = html.unescape(raw)
    text = _CREDIT_LINE.sub(" ", text)
    text = _HEADING_MARK.sub("", text)
    text = _PARENTHETICAL.sub(
        lambda m: " " if _is_stage_direction(m.group(1)) else m.group(0), text
    )
    return " ".join(text.split())


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of ``text`` (sentencex), long unpunctuated runs cut into word pieces."""
    out: list[str] = []
    for sentence in sentencex.segment(language, text):
        words = sentence.split()
        if not words:
            continue
        if len(words) <= MAX_WORDS:
            out.append(" ".join(words))
            continue
        pieces = math.ceil(len(words) / PIECE_WORDS)
        size = math.ceil(len(words) / pieces)
        out.extend(" ".join(words[i : i + size]) for i in range(0, len(words), size))
    return out


def estimate_segments(sentences: list[str], duration: float | None = None) -> list[Segment]:
    """Timed segments for ``sentences`` proportional to character position (see module docstring)."""
    total = sum(len(s) for s in sentences) + max(len(sentences) - 1, 0)
    if total == 0:
        return []
    rate = total / duration if duration and duration > 0 else CHARS_PER_SECOND
    segments: list[Segment] = []
    offset = 0
    for sentence in sentences:
        start = offset / rate
        offset += len(sentence)
        segments.append(Segment(start=round(start, 3), end=round(offset / rate, 3), text=sentence))
        offset += 1  # the space between sentences
    return segments


def read_transcript(
    path: str | Path, duration: float | None = None, *, language: str = "en"
) -> Transcript:
    """Read a transcript without timestamps into sentence segments with *estimated* times.

    Args:
        path: a UTF-8 text or Markdown file.
        duration: the media duration in seconds, when known; times are scaled to it.
        language: the language code used for sentence splitting.

    Raises:
        InvalidInputError: the file is missing, unreadable, not UTF-8 or has no text left after
            cleaning.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInputError(
            f"Transcript file {path} does not exist",
            hint="Check transcript_path (relative paths are resolved against the manifest's folder)",
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"Transcript {path.name} is not UTF-8 text (line {line})",
            hint=f"Convert it, e.g. `iconv -f latin1 -t utf-8 {path.name}`",
        ) from exc
    except OSError as exc:
        raise InvalidInputError(f"Cannot read transcript {path} ({exc.strerror or exc})") from exc
    sentences = split_sentences(clean_transcript_text(raw), language)
    if not sentences:
        raise InvalidInputError(
            f"Transcript {path.name} has no spoken text",
            expected="text (stage directions like '(Applause)' are dropped)",
            got="an empty file" if not raw.strip() else "only stage directions or markup",
            hint="Fix the file, or remove transcript_path so the media is transcribed",
        )
    segments = estimate_segments(sentences, duration)
    return Transcript(
        segments=segments,
        language=language,
        duration=duration if duration and duration > 0 else segments[-1].end,
        source="transcript",
    )

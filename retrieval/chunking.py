"""Timed segments into overlapping chunks that keep their start and end times.

A chunk is a window of whole segments (so sentences and Whisper segments stay intact) that spans at
most ``target_seconds`` and ``max_chars``; a segment too long for one window on its own is cut
between words, its words' times interpolated by character position. Words are never split. The
next window starts at the first unit beginning at or after ``end - overlap_seconds`` of the previous
one, late enough that the window still takes in the next new unit, so:

* every word of the input is in at least one chunk, in order;
* chunk starts and ends never decrease;
* consecutive chunks overlap by at most ``overlap_seconds`` of time.

Chunk ids are ``f"{video_id}:{index}"``, so the same input always gives the same chunks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.settings import ChunkingSettings
from retrieval.types import Chunk, Segment, chunk_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Unit:
    start: float
    end: float
    text: str


def _split_segment(seg: Segment, text: str, settings: ChunkingSettings) -> list[_Unit]:
    """Cut a segment too long for one window into word groups that fit, times interpolated."""
    words = text.split()
    span = max(seg.end - seg.start, 0.0)
    total = len(text)
    # Each piece fits the budget with room to spare, so neighbouring pieces can share a window.
    max_chars = max(settings.max_chars // 2, 1)
    max_seconds = settings.target_seconds / 2
    units: list[_Unit] = []
    piece: list[str] = []
    piece_start = 0  # char offset of the piece in text
    offset = 0
    for word in words:
        candidate_len = len(" ".join([*piece, word]))
        candidate_secs = span * (offset + len(word) - piece_start) / total if total else 0.0
        if piece and (candidate_len > max_chars or candidate_secs > max_seconds):
            piece_text = " ".join(piece)
            units.append(
                _Unit(
                    start=seg.start + span * piece_start / total,
                    end=seg.start + span * (piece_start + len(piece_text)) / total,
                    text=piece_text,
                )
            )
            piece, piece_start = [], offset
        piece.append(word)
        offset += len(word) + 1
    if piece:
        units.append(
            _Unit(start=seg.start + span * piece_start / total, end=seg.end, text=" ".join(piece))
        )
    return units


def _units(segments: Iterable[Segment], settings: ChunkingSettings) -> list[_Unit]:
    units: list[_Unit] = []
    ordered = sorted(
        (s for s in segments if s.text.strip()), key=lambda s: (s.start, s.end)
    )  # stable: equal times keep their order
    for seg in ordered:
        text = " ".join(seg.text.split())
        end = max(seg.end, seg.start)
        if len(text) > settings.max_chars or end - seg.start > settings.target_seconds:
            units.extend(_split_segment(Segment(seg.start, end, text), text, settings))
        else:
            units.append(_Unit(seg.start, end, text))
    return units


def chunk_segments(
    video_id: str, segments: Iterable[Segment], settings: ChunkingSettings
) -> list[Chunk]:
    """Overlapping windows over ``segments`` (any order; blank ones ignored). Empty in, empty out."""
    units = _units(segments, settings)
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        start = units[first].start
        length = len(units[first].text)
        end = units[first].end
        while last + 1 < len(units):
            nxt = units[last + 1]
            if (
                max(end, nxt.end) - start > settings.target_seconds
                or length + 1 + len(nxt.text) > settings.max_chars
            ):
                break
            last += 1
            length += 1 + len(nxt.text)
            end = max(end, nxt.end)
        window = units[first : last + 1]
        index = len(chunks)
        chunks.append(
            Chunk(
                id=chunk_id(video_id, index),
                video_id=video_id,
                index=index,
                start=round(start, 3),
                end=round(end, 3),
                text=" ".join(u.text for u in window),
            )
        )
        if last == len(units) - 1:
            break
        # Next window: the first unit starting within the overlap, but late enough that the
        # window still reaches the next new unit (no chunk is a subset of the one before).
        boundary = end - settings.overlap_seconds
        new = units[last + 1]
        nxt_first = last + 1
        for j in range(first + 1, last + 1):
            if (
                units[j].start >= boundary
                and new.end - units[j].start <= settings.target_seconds
                and sum(len(u.text) + 1 for u in units[j : last + 2]) - 1 <= settings.max_chars
            ):
                nxt_first = j
                break
        first = nxt_first
    log.debug("%s: %d segment units -> %d chunks", video_id, len(units), len(chunks))
    return chunks

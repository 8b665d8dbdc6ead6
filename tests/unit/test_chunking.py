"""Chunking properties over many seeded random inputs: coverage, order, budgets, overlap, ids."""

from __future__ import annotations

import itertools
import random

import pytest

from retrieval.chunking import chunk_segments
from retrieval.settings import ChunkingSettings
from retrieval.types import Chunk, Segment

SETTINGS = [
    ChunkingSettings(target_seconds=45, max_chars=900, overlap_seconds=10),
    ChunkingSettings(target_seconds=20, max_chars=200, overlap_seconds=5),
    ChunkingSettings(target_seconds=30, max_chars=10_000, overlap_seconds=0),
    ChunkingSettings(target_seconds=10, max_chars=60, overlap_seconds=8),
]


def _segments(seed: int) -> list[Segment]:
    """Random speech: unique numbered words, gaps, and now and then a very long segment."""
    rng = random.Random(seed)
    segments: list[Segment] = []
    t, word = 0.0, 0
    for _ in range(rng.randint(1, 80)):
        t += rng.choice([0.0, 0.0, 0.3, 2.0])
        n = rng.randint(1, 12) if rng.random() > 0.05 else rng.randint(80, 300)
        dur = n * rng.uniform(0.2, 0.6)
        segments.append(Segment(t, t + dur, " ".join(f"w{word + i}" for i in range(n))))
        t += dur
        word += n
    return segments


def _word_ids(chunk: Chunk) -> list[int]:
    return [int(w[1:]) for w in chunk.text.split()]


def _check(segments: list[Segment], settings: ChunkingSettings, chunks: list[Chunk]) -> None:
    total_words = sum(len(s.text.split()) for s in segments)
    seen: set[int] = set()
    previous: Chunk | None = None
    for index, chunk in enumerate(chunks):
        ids = _word_ids(chunk)
        # Ids and order.
        assert chunk.id == f"vid:{index}" and chunk.index == index and chunk.video_id == "vid"
        # Whole words only, consecutive within a chunk.
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        assert chunk.start <= chunk.end
        # Budgets: exceeded only by a single word that alone is longer.
        assert len(chunk.text) <= settings.max_chars or len(ids) == 1
        assert chunk.end - chunk.start <= settings.target_seconds + 1e-6 or len(ids) == 1
        if previous is not None:
            prev_ids = _word_ids(previous)
            # No gap, progress, and every chunk brings new words.
            assert prev_ids[0] < ids[0] <= prev_ids[-1] + 1
            assert ids[-1] > prev_ids[-1]
            # Times never go back; overlap honoured (never more than overlap_seconds).
            assert chunk.start >= previous.start and chunk.end >= previous.end
            assert chunk.start >= previous.end - settings.overlap_seconds - 1e-3
        seen.update(ids)
        previous = chunk
    assert seen == set(range(total_words))  # every word covered


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.target_seconds}s-{s.max_chars}c")
@pytest.mark.parametrize("seed", range(40))
def test_chunk_properties(seed: int, settings: ChunkingSettings) -> None:
    segments = _segments(seed)
    chunks = chunk_segments("vid", segments, settings)
    _check(segments, settings, chunks)
    assert chunk_segments("vid", list(reversed(segments)), settings) == chunks  # any order in
    assert chunk_segments("vid", segments, settings) == chunks  # deterministic


def test_overlap_is_used_when_segments_are_short() -> None:
    segments = [Segment(2.0 * i, 2.0 * i + 2.0, f"w{i}") for i in range(100)]
    settings = ChunkingSettings(target_seconds=30, max_chars=10_000, overlap_seconds=10)
    chunks = chunk_segments("vid", segments, settings)
    assert len(chunks) > 1
    for prev, chunk in itertools.pairwise(chunks):
        shared = prev.end - chunk.start
        assert 8.0 <= shared <= 10.0  # within one 2 s segment of the asked overlap
        assert chunk.end - chunk.start <= 30.0
    _check(segments, settings, chunks)


def test_long_segment_is_split_between_words_with_interpolated_times() -> None:
    words = " ".join(f"w{i}" for i in range(400))
    settings = ChunkingSettings(target_seconds=45, max_chars=900, overlap_seconds=10)
    chunks = chunk_segments("vid", [Segment(100.0, 300.0, words)], settings)
    _check([Segment(100.0, 300.0, words)], settings, chunks)
    assert chunks[0].start == 100.0 and chunks[-1].end == 300.0
    assert len(chunks) >= 200 / 45
    # Interpolated by characters: each chunk starts where its first word sits in the text.
    for chunk in chunks:
        offset = words.index(f" w{_word_ids(chunk)[0]} ") + 1 if chunk.index else 0
        assert chunk.start == pytest.approx(100 + 200 * offset / len(words), abs=0.01)


@pytest.mark.parametrize(
    "segments", [[], [Segment(0, 1, "  ")], [Segment(0, 1, ""), Segment(1, 2, "\n")]]
)
def test_no_text_no_chunks(segments: list[Segment]) -> None:
    assert chunk_segments("vid", segments, ChunkingSettings()) == []


def test_single_short_segment_is_one_chunk() -> None:
    chunks = chunk_segments("talk-1", [Segment(3.0, 5.0, "  hello   world ")], ChunkingSettings())
    assert chunks == [Chunk("talk-1:0", "talk-1", 0, 3.0, 5.0, "hello world")]

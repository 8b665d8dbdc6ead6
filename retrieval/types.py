"""Typed results that cross module borders in the retrieval layer (no dicts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

TranscriptSource = Literal["captions", "transcript", "asr", "metadata"]


@dataclass(frozen=True)
class Segment:
    """A timed piece of speech, seconds from the start of the media."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    language: str | None = None
    duration: float | None = None
    source: TranscriptSource = "asr"

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True)
class Video:
    """A catalogue entry: what the operator's library holds about one video."""

    id: str
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    duration: float | None = None  # seconds
    published: date | None = None
    url: str | None = None
    language: str | None = None
    media_path: str | None = None
    thumbnail: str | None = None
    speaker: str | None = None
    synthetic_audio: bool = (
        False  # audio track synthesised (e.g. espeak-ng), never passed off as real
    )
    transcript_source: TranscriptSource | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Chunk:
    """A window of a transcript that is embedded and indexed; keeps its time span."""

    id: str  # chunk_id(video_id, index)
    video_id: str
    index: int
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class ChunkHit:
    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class VideoHit:
    """Search result: a video with the chunk hits that earned it, best first."""

    video: Video
    score: float
    chunks: tuple[ChunkHit, ...]

    @property
    def best(self) -> ChunkHit:
        return self.chunks[0]


@dataclass(frozen=True)
class QueryText:
    """One text of a search query and how much it counts against the others (e.g. the user's
    latest message 1.0, an earlier turn that still applies 0.5, a rewritten query 0.5)."""

    text: str
    weight: float = 1.0


@dataclass(frozen=True)
class SearchFilters:
    """Hard filters applied before ranking. Durations in seconds, dates inclusive."""

    min_duration: float | None = None
    max_duration: float | None = None
    published_after: date | None = None
    published_before: date | None = None
    languages: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    exclude_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IngestFailure:
    path: str
    error: str  # one readable line: what is wrong and what to do


@dataclass
class IngestReport:
    """What one ingest run did. ``ok`` is False when anything failed (the CLI exits non-zero)."""

    ingested: list[str] = field(default_factory=list)  # video ids (re-)indexed
    unchanged: list[str] = field(default_factory=list)  # skipped: same content hash
    failed: list[IngestFailure] = field(default_factory=list)
    audio_seconds: float = 0.0  # transcribed by ASR
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class IngestProgress:
    """Streamed during ingest (files done, audio minutes, chunks) for progress bars."""

    files_done: int
    files_total: int
    current: str
    audio_seconds: float
    chunks: int


def chunk_id(video_id: str, index: int) -> str:
    """A chunk's id: ``<video id>:<index>``. The vector store reads the video back from it
    (``video_of_chunk``) instead of fetching each hit's metadata, the larger part of a query."""
    return f"{video_id}:{index}"


def video_of_chunk(chunk: str) -> str:
    """The video id inside a ``chunk_id`` (video ids may hold ``:``; the index never does)."""
    return chunk.rpartition(":")[0]

"""The ``VectorStore`` protocol and the typed records that cross it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np

from retrieval.types import Video


def date_key(value: date | None) -> int | None:
    """A date as the integer ``yyyymmdd`` (sortable, and what the store filters on)."""
    return None if value is None else value.year * 10000 + value.month * 100 + value.day


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk as the store keeps it: vector plus the metadata filters need.

    ``published`` is ``yyyymmdd`` as an int; ``language`` and ``tags`` are lower-case.
    """

    id: str
    video_id: str
    index: int
    start: float
    end: float
    embedding: np.ndarray
    duration: float | None = None
    published: int | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class VideoRecord:
    """One video's whole-video vector (the normalised mean of its chunk vectors) and the same
    filter metadata its chunks carry, so a video-level query filters exactly as a chunk query."""

    video_id: str
    embedding: np.ndarray
    duration: float | None = None
    published: int | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreFilter:
    """Hard filters on chunk metadata. ``None``/empty means "no constraint".

    ``video_ids`` restricts to those videos (an empty set matches nothing);
    ``exclude_video_ids`` removes videos. Tags match case-insensitively.
    """

    min_duration: float | None = None
    max_duration: float | None = None
    published_after: int | None = None  # yyyymmdd, inclusive
    published_before: int | None = None  # yyyymmdd, inclusive
    languages: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    video_ids: frozenset[str] | None = None
    exclude_video_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VectorMatch:
    """A stored chunk near a query vector; ``similarity`` is the cosine similarity."""

    chunk_id: str
    video_id: str
    similarity: float


@dataclass(frozen=True)
class VideoMatch:
    """A stored whole-video vector near a query vector (cosine similarity)."""

    video_id: str
    similarity: float


def video_record(video: Video, vectors: np.ndarray) -> VideoRecord:
    """``video``'s whole-video record: the mean of its chunk vectors, L2-normalised (the cosine
    centroid), with the filter metadata its chunk records carry."""
    stacked = np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1])
    if not len(stacked):
        raise ValueError(f"video {video.id!r} has no chunk vectors")
    mean = stacked.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return VideoRecord(
        video_id=video.id,
        embedding=mean / norm if norm > 0 else mean,
        duration=video.duration,
        published=date_key(video.published),
        language=video.language.lower() if video.language else None,
        tags=tuple(video.tags),
    )


class VectorStore(Protocol):
    """Chunk vectors with metadata, and one whole-video vector per video beside them; the same
    calls whether embedded or client/server. ``delete_videos`` removes both kinds."""

    def upsert(self, records: Sequence[ChunkRecord]) -> None:
        """Insert or replace records by id."""
        ...

    def delete_videos(self, video_ids: Sequence[str]) -> None:
        """Delete every chunk of these videos (no error for unknown ids)."""
        ...

    def query(
        self, vector: np.ndarray, n: int, where: StoreFilter | None = None
    ) -> list[VectorMatch]:
        """The ``n`` chunks most similar to ``vector`` that pass ``where``, best first."""
        ...

    def upsert_videos(self, records: Sequence[VideoRecord]) -> None:
        """Insert or replace whole-video vectors by video id."""
        ...

    def query_videos(
        self, vector: np.ndarray, n: int, where: StoreFilter | None = None
    ) -> list[VideoMatch]:
        """The ``n`` whole-video vectors most similar to ``vector`` that pass ``where``."""
        ...

    def video_vector_ids(self) -> set[str]:
        """Ids of the videos that have a whole-video vector."""
        ...

    def video_embeddings(self, video_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stacked chunk vectors per video (``(n_chunks, dim)``); absent videos are left out."""
        ...

    def chunk_ids(self, video_id: str | None = None) -> list[str]:
        """Ids of the stored chunks, of one video or of all."""
        ...

    def count(self) -> int: ...

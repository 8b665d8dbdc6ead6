"""The ``VectorStore`` protocol and the typed records that cross it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np


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


class VectorStore(Protocol):
    """Chunk vectors with metadata; the same calls whether embedded or client/server."""

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

    def video_embeddings(self, video_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stacked chunk vectors per video (``(n_chunks, dim)``); absent videos are left out."""
        ...

    def chunk_ids(self, video_id: str | None = None) -> list[str]:
        """Ids of the stored chunks, of one video or of all."""
        ...

    def count(self) -> int: ...

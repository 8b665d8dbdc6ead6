"""Hybrid search: dense (vector store) + lexical (BM25), fused with reciprocal rank fusion.

Chunk rankings from both sides are fused with RRF (Cormack et al., 2009):
``score(c) = sum over rankings of 1 / (rrf_k + rank(c))`` with 1-based ranks. RRF needs no score
calibration between cosine similarities and BM25 scores, which live on unrelated scales.

Chunk hits are then grouped per video, and a video scores as its **best chunk** (max). A sum over
chunks would favour long videos that mention a word many times over a short one that is squarely
about the query; max-passage scoring is the usual choice for passage-level evidence of a longer
document. Ties break on the sum of the video's other chunk scores, then on id, so the order is
deterministic. Filters are applied on both sides *before* ranking: natively in the vector store's
``where`` and as a document mask in BM25, from the same catalogue fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.catalogue import Catalogue
from retrieval.embed.base import Embedder
from retrieval.errors import InvalidInputError
from retrieval.lexical import LexicalIndex
from retrieval.settings import SearchSettings
from retrieval.store.base import StoreFilter, VectorStore, date_key
from retrieval.types import Chunk, ChunkHit, SearchFilters, VideoHit

log = logging.getLogger(__name__)

_MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class FusedChunk:
    """A chunk's fused score and its 1-based rank on each side (``None``: not retrieved there)."""

    chunk_id: str
    video_id: str
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class VideoScore:
    video_id: str
    score: float
    chunks: tuple[FusedChunk, ...]  # best first


def rrf_fuse(
    dense: Sequence[tuple[str, str]], lexical: Sequence[tuple[str, str]], k: int
) -> list[FusedChunk]:
    """Reciprocal rank fusion of two rankings of ``(chunk_id, video_id)``, best first.

    Args:
        dense: chunks ranked by vector similarity, best first.
        lexical: chunks ranked by BM25, best first.
        k: the RRF constant; larger flattens the advantage of top ranks.

    Returns:
        Every chunk in either ranking with ``sum 1/(k + rank)``, sorted by score then chunk id.
    """
    if k < 0:
        raise InvalidInputError("rrf_k must not be negative", expected="k >= 0", got=str(k))
    video_of: dict[str, str] = {}
    dense_rank: dict[str, int] = {}
    lexical_rank: dict[str, int] = {}
    for rank, (cid, vid) in enumerate(dense, start=1):
        dense_rank.setdefault(cid, rank)
        video_of.setdefault(cid, vid)
    for rank, (cid, vid) in enumerate(lexical, start=1):
        lexical_rank.setdefault(cid, rank)
        video_of.setdefault(cid, vid)
    fused = []
    for cid, vid in video_of.items():
        d, lx = dense_rank.get(cid), lexical_rank.get(cid)
        score = (1.0 / (k + d) if d else 0.0) + (1.0 / (k + lx) if lx else 0.0)
        fused.append(FusedChunk(cid, vid, score, d, lx))
    fused.sort(key=lambda c: (-c.score, c.chunk_id))
    return fused


def group_by_video(chunks: Sequence[FusedChunk]) -> list[VideoScore]:
    """Group chunk hits per video; a video scores as its best chunk (ties: rest of sum, id)."""
    per_video: dict[str, list[FusedChunk]] = {}
    for chunk in chunks:
        per_video.setdefault(chunk.video_id, []).append(chunk)
    scored = []
    for vid, hits in per_video.items():
        hits.sort(key=lambda c: (-c.score, c.chunk_id))
        scored.append((hits[0].score, sum(h.score for h in hits[1:]), vid, tuple(hits)))
    scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
    return [VideoScore(vid, best, hits) for best, _, vid, hits in scored]


def validate_filters(filters: SearchFilters) -> None:
    """Refuse contradictory filters with a message saying which."""
    if (
        filters.min_duration is not None
        and filters.max_duration is not None
        and filters.min_duration > filters.max_duration
    ):
        raise InvalidInputError(
            "The duration filter is empty",
            expected="min_duration <= max_duration",
            got=f"{filters.min_duration} > {filters.max_duration}",
            hint="Swap or widen the duration bounds",
        )
    if (
        filters.published_after is not None
        and filters.published_before is not None
        and filters.published_after > filters.published_before
    ):
        raise InvalidInputError(
            "The date filter is empty",
            expected="published_after <= published_before",
            got=f"{filters.published_after} > {filters.published_before}",
            hint="Swap or widen the date bounds",
        )


def is_unconstrained(filters: SearchFilters) -> bool:
    return filters == SearchFilters()


def store_filter(filters: SearchFilters) -> StoreFilter | None:
    """The vector-store side of ``filters`` (the same fields the catalogue filters on)."""
    if is_unconstrained(filters):
        return None
    return StoreFilter(
        min_duration=filters.min_duration,
        max_duration=filters.max_duration,
        published_after=date_key(filters.published_after),
        published_before=date_key(filters.published_before),
        languages=tuple(filters.languages),
        tags_any=tuple(filters.tags_any),
        tags_none=tuple(filters.tags_none),
        exclude_video_ids=frozenset(filters.exclude_ids),
    )


class HybridSearch:
    """Dense + BM25 chunk retrieval, fused and grouped into ``VideoHit``s."""

    def __init__(
        self,
        catalogue: Catalogue,
        store: VectorStore,
        lexical: LexicalIndex,
        embedder: Callable[[], Embedder],
        settings: SearchSettings,
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        self.lexical = lexical
        self._embedder = embedder  # a provider: the model loads on the first query only
        self.settings = settings

    def search(
        self, query: str, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        """The ``k`` best videos for ``query`` that pass ``filters``."""
        if not query or not query.strip():
            raise InvalidInputError(
                "The search query is empty", expected="some words", got=repr(query)
            )
        if k <= 0:
            return []
        filters = filters or SearchFilters()
        validate_filters(filters)
        allowed = None if is_unconstrained(filters) else self.catalogue.matching_video_ids(filters)
        if allowed is not None and not allowed:
            return []
        where = store_filter(filters)
        vector = self._embedder().encode_queries([query])[0]
        n = max(self.settings.chunk_candidates, k)
        while True:
            dense = [
                (m.chunk_id, m.video_id)
                for m in self.store.query(vector, n, where)
                if allowed is None or m.video_id in allowed
            ]
            lexical = [(m.chunk_id, m.video_id) for m in self.lexical.search(query, n, allowed)]
            grouped = group_by_video(rrf_fuse(dense, lexical, self.settings.rrf_k))
            saturated = len(dense) >= n or len(lexical) >= n
            if len(grouped) >= k or not saturated or n >= _MAX_CANDIDATES:
                break
            n = min(n * 4, _MAX_CANDIDATES)  # a few videos hold all hits: look deeper
        return self._resolve(grouped, k)

    def search_by_vector(
        self, vector: np.ndarray, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        """Dense-only retrieval (e.g. a user-profile vector); score = best chunk's cosine."""
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(vec)) or not np.any(vec):
            raise InvalidInputError(
                "The search vector is empty or not finite",
                expected="a non-zero finite vector",
                got=f"{vec.shape[0]} values",
            )
        if k <= 0:
            return []
        filters = filters or SearchFilters()
        validate_filters(filters)
        allowed = None if is_unconstrained(filters) else self.catalogue.matching_video_ids(filters)
        if allowed is not None and not allowed:
            return []
        where = store_filter(filters)
        n = max(self.settings.chunk_candidates, k)
        while True:
            matches = [
                m
                for m in self.store.query(vec, n, where)
                if allowed is None or m.video_id in allowed
            ]
            chunks = [
                FusedChunk(m.chunk_id, m.video_id, m.similarity, dense_rank=rank)
                for rank, m in enumerate(matches, start=1)
            ]
            grouped = group_by_video(chunks)
            if len(grouped) >= k or len(matches) < n or n >= _MAX_CANDIDATES:
                break
            n = min(n * 4, _MAX_CANDIDATES)
        return self._resolve(grouped, k)

    def _resolve(self, grouped: Sequence[VideoScore], k: int) -> list[VideoHit]:
        """Attach catalogue rows; drops hits whose video/chunk is not (or no longer) in SQL."""
        out: list[VideoHit] = []
        # Resolve a few more than k: a hit mid-write (vectors stored, SQL not yet) is skipped.
        window = list(grouped[: k * 2 + 5])
        videos = self.catalogue.videos_by_ids(v.video_id for v in window)
        chunk_rows = self.catalogue.chunks_by_ids(c.chunk_id for v in window for c in v.chunks)
        for scored in window:
            video = videos.get(scored.video_id)
            hits = _chunk_hits(scored.chunks, chunk_rows)
            if video is None or not hits:
                continue
            out.append(VideoHit(video=video, score=scored.score, chunks=hits))
            if len(out) == k:
                break
        return out


def _chunk_hits(chunks: Sequence[FusedChunk], rows: Mapping[str, Chunk]) -> tuple[ChunkHit, ...]:
    return tuple(
        ChunkHit(rows[c.chunk_id], c.score, c.dense_rank, c.lexical_rank)
        for c in chunks
        if c.chunk_id in rows
    )

"""Hybrid search: dense (vector store) + lexical (BM25), at chunk and at whole-video level.

A query is one text or several weighted ones (``QueryText``: e.g. the user's latest message in
full, earlier turns that still apply, a rewritten query). For each text the search retrieves the
nearest chunks (dense and BM25) and the nearest whole videos (the centroid of a video's chunk
vectors, and BM25 over its whole transcript and metadata, with word pairs as phrase terms), and
``retrieval.fusion.fuse_videos`` fuses them all (z-scores by default, or reciprocal ranks);
``SearchSettings`` weighs each ranking. The
best chunk of a video is its evidence; a video found by whole-video evidence alone gets the chunk
nearest the query as its evidence. Filters are applied on every side *before* ranking: natively in
the vector store's ``where`` and as a document mask in BM25, from the same catalogue fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from retrieval.allowed import AllowedVideos
from retrieval.catalogue import Catalogue
from retrieval.embed.base import Embedder, normalise_rows
from retrieval.embed.cache import QueryVectorCache
from retrieval.errors import InvalidInputError
from retrieval.fusion import (
    FusedChunk,
    FusionWeights,
    QueryRankings,
    VideoScore,
    fuse_videos,
    group_by_video,
    rrf_fuse,
)
from retrieval.lexical import LexicalIndex
from retrieval.settings import SearchSettings
from retrieval.store.base import StoreFilter, VectorMatch, VectorStore, VideoMatch, date_key
from retrieval.types import Chunk, ChunkHit, QueryText, SearchFilters, VideoHit

__all__ = [
    "FusedChunk",
    "HybridSearch",
    "VideoScore",
    "group_by_video",
    "query_texts",
    "rrf_fuse",
    "store_filter",
    "validate_filters",
]

log = logging.getLogger(__name__)

_MAX_CANDIDATES = 5000


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


def query_texts(query: str | Sequence[QueryText]) -> list[QueryText]:
    """The non-empty texts of ``query`` (one text weighs 1), refusing an empty query or a bad
    weight with what was expected."""
    texts = [QueryText(query)] if isinstance(query, str) else list(query)
    kept = [t for t in texts if t.text and t.text.strip()]
    if not kept:
        raise InvalidInputError("The search query is empty", expected="some words", got=repr(query))
    for t in kept:
        if not np.isfinite(t.weight) or t.weight <= 0:
            raise InvalidInputError(
                "A query text's weight must be a positive number",
                expected="weight > 0",
                got=f"{t.weight!r} for {t.text[:40]!r}",
            )
    return kept


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
    """Dense + BM25 retrieval of chunks and whole videos, fused into ``VideoHit``s."""

    def __init__(
        self,
        catalogue: Catalogue,
        store: VectorStore,
        lexical: LexicalIndex,
        embedder: Callable[[], Embedder],
        settings: SearchSettings,
        video_lexical: LexicalIndex | None = None,
        query_vectors: QueryVectorCache | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        self.lexical = lexical
        self.video_lexical = video_lexical  # BM25 over whole videos (None: that side is off)
        # the model loads on the first query only; vectors of recent query texts are kept
        self.query_vectors = (  # not `or`: an empty cache is falsy (it has a length)
            query_vectors
            if query_vectors is not None
            else QueryVectorCache(embedder, settings.query_cache_size)
        )
        self.settings = settings
        self.allowed_videos = AllowedVideos(catalogue)  # filtered searches' allowed ids, kept

    @property
    def weights(self) -> FusionWeights:
        s = self.settings
        return FusionWeights(
            s.chunk_weight, s.video_dense_weight, s.video_lexical_weight, s.rrf_k, s.fusion
        )

    def search(
        self,
        query: str | Sequence[QueryText],
        filters: SearchFilters | None = None,
        k: int = 10,
    ) -> list[VideoHit]:
        """The ``k`` best videos for ``query`` (a text, or weighted texts) that pass ``filters``."""
        texts = query_texts(query)
        scope = self._searchable(filters, k)
        if scope is None:
            return []
        vectors = self.query_vectors.encode([t.text for t in texts])
        whole = [
            self._video_rankings(v, t.text, k, scope) for t, v in zip(texts, vectors, strict=True)
        ]
        allowed = scope.allowed
        n = max(self.settings.chunk_candidates, k)
        while True:
            rankings = []
            saturated = False
            for text, vector, (video_dense, video_lexical) in zip(
                texts, vectors, whole, strict=True
            ):
                dense = [(m.chunk_id, m.video_id) for m in scope.chunks(self.store, vector, n)]
                lexical = [
                    (m.chunk_id, m.video_id)
                    for m in self.lexical.search(text.text, n, allowed, version=scope.version)
                ]
                saturated = saturated or len(dense) >= n or len(lexical) >= n
                rankings.append(
                    QueryRankings(
                        text.weight,
                        dense,
                        lexical,
                        [vid for vid, _ in video_dense],
                        [vid for vid, _ in video_lexical],
                        [score for _, score in video_dense],
                        [score for _, score in video_lexical],
                    )
                )
            grouped = fuse_videos(rankings, self.weights)
            if len(grouped) >= k or not saturated or n >= _MAX_CANDIDATES:
                break
            n = min(n * 4, _MAX_CANDIDATES)  # a few videos hold all hits: look deeper
        weights = np.array([t.weight for t in texts], dtype=np.float32)
        centre = normalise_rows((weights[:, None] * vectors).sum(axis=0))[0]
        main = max(texts, key=lambda t: t.weight).text
        return self._resolve(grouped, k, centre, main)

    def _searchable(self, filters: SearchFilters | None, k: int) -> Scope | None:
        """The scope of ``filters`` (checked), or None when there is nothing to search: ``k``
        not positive, or no video passes them."""
        if k <= 0:
            return None
        filters = filters or SearchFilters()
        validate_filters(filters)
        scope = self._scope(filters)
        return None if scope.allowed is not None and not scope.allowed else scope

    def _scope(self, filters: SearchFilters) -> Scope:
        """What ``filters`` let through, and how the vector store is to apply it."""
        version = self.catalogue.version()  # read once: both BM25 indexes check against it
        if is_unconstrained(filters):
            return Scope(None, None, 1.0, self.settings, version)
        allowed, total = self.allowed_videos.get(filters, version)
        share = len(allowed) / max(1, total)
        return Scope(allowed, store_filter(filters), share, self.settings, version)

    def _video_rankings(
        self, vector: np.ndarray, text: str, k: int, scope: Scope
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """``(video id, score)`` nearest by centroid (cosine) and by whole-video BM25, best first
        (a side weighted 0 is skipped)."""
        n = max(self.settings.video_candidates, k)
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if self.settings.video_dense_weight > 0:
            dense = [(m.video_id, m.similarity) for m in scope.videos(self.store, vector, n)]
        if self.settings.video_lexical_weight > 0 and self.video_lexical is not None:
            lexical = [
                (m.video_id, m.score)
                for m in self.video_lexical.search(text, n, scope.allowed, version=scope.version)
            ]
        return dense, lexical

    def nearest_videos(
        self, vector: np.ndarray, filters: SearchFilters | None = None, k: int = 10
    ) -> list[tuple[str, float]]:
        """``(video id, cosine)`` of the ``k`` whole videos (chunk centroids) nearest ``vector``
        that pass ``filters``, best first."""
        vec = _search_vector(vector)
        scope = self._searchable(filters, k)
        if scope is None:
            return []
        return [(m.video_id, m.similarity) for m in scope.videos(self.store, vec, k)]

    def search_by_vector(
        self, vector: np.ndarray, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        """Dense-only retrieval (e.g. a user-profile vector); score = best chunk's cosine."""
        vec = _search_vector(vector)
        scope = self._searchable(filters, k)
        if scope is None:
            return []
        n = max(self.settings.chunk_candidates, k)
        while True:
            matches = scope.chunks(self.store, vec, n)
            chunks = [
                FusedChunk(m.chunk_id, m.video_id, m.similarity, dense_rank=rank)
                for rank, m in enumerate(matches, start=1)
            ]
            grouped = group_by_video(chunks)
            if len(grouped) >= k or len(matches) < n or n >= _MAX_CANDIDATES:
                break
            n = min(n * 4, _MAX_CANDIDATES)
        return self._resolve(grouped, k)

    def _evidence(
        self, video_ids: Sequence[str], vector: np.ndarray, text: str = ""
    ) -> dict[str, tuple[FusedChunk, ...]]:
        """Evidence for videos that only whole-video rankings found: each one's best chunk by
        BM25 for ``text`` (every chunk of them that shares a word with it is scored: cheap),
        else its chunk nearest ``vector`` (one store query over those left, then one per video
        still left: filtered vector queries are slow, so they come last)."""
        out: dict[str, tuple[FusedChunk, ...]] = {}
        if not video_ids:
            return out
        wanted = frozenset(video_ids)
        if text:
            for lx in self.lexical.best_per_video(text, wanted).values():
                out[lx.video_id] = (FusedChunk(lx.chunk_id, lx.video_id, 0.0),)
        left = wanted - out.keys()
        if left:
            for m in self.store.query(vector, 3 * len(left), StoreFilter(video_ids=left)):
                out.setdefault(m.video_id, (FusedChunk(m.chunk_id, m.video_id, 0.0),))
        for video_id in wanted - out.keys():
            only = StoreFilter(video_ids=frozenset({video_id}))
            for m in self.store.query(vector, 1, only):
                out[video_id] = (FusedChunk(m.chunk_id, m.video_id, 0.0),)
        return out

    def _resolve(
        self,
        grouped: Sequence[VideoScore],
        k: int,
        vector: np.ndarray | None = None,
        text: str = "",
    ) -> list[VideoHit]:
        """Attach catalogue rows; drops hits whose video/chunk is not (or no longer) in SQL."""
        out: list[VideoHit] = []
        # Resolve a few more than k: a hit mid-write (vectors stored, SQL not yet) is skipped.
        window = list(grouped[: k * 2 + 5])
        videos = self.catalogue.videos_by_ids(v.video_id for v in window)
        evidence: dict[str, tuple[FusedChunk, ...]] = {}
        if vector is not None:  # videos only whole-video rankings found: look up their evidence
            bare = [v.video_id for v in window[:k] if not v.chunks and v.video_id in videos]
            evidence = self._evidence(bare, vector, text)
        chunk_rows = self.catalogue.chunks_by_ids(
            c.chunk_id for v in window for c in v.chunks or evidence.get(v.video_id, ())
        )
        for scored in window:
            video = videos.get(scored.video_id)
            chunks = scored.chunks or evidence.get(scored.video_id, ())
            if not chunks and vector is not None and video is not None:  # past the first k
                found = self._evidence([scored.video_id], vector, text)
                chunks = found.get(scored.video_id, ())
                chunk_rows = {
                    **chunk_rows,
                    **self.catalogue.chunks_by_ids(c.chunk_id for c in chunks),
                }
            hits = _chunk_hits(chunks, chunk_rows)
            if video is None or not hits:
                continue
            out.append(VideoHit(video=video, score=scored.score, chunks=hits))
            if len(out) == k:
                break
        return out


class Scope:
    """The videos a search may return (``allowed``: ``None`` is all) and how the vector store
    applies that. Chroma evaluates a ``where`` over the metadata of the whole collection before
    its vector search (about 0.9 s at 100k chunks against 30 ms unfiltered), so when the allowed
    videos are a large enough share (``search.post_filter_min_share``) the store is queried
    unfiltered for proportionally more neighbours, and the others are dropped here; a narrow
    filter still goes to the store's ``where``."""

    def __init__(
        self,
        allowed: set[str] | frozenset[str] | None,
        where: StoreFilter | None,
        share: float,
        settings: SearchSettings,
        version: int | None = None,
    ) -> None:
        self.version = version  # the catalogue version the search started at
        self.allowed = allowed
        self.where = where
        self.share = share
        self.post_filter = allowed is not None and share >= settings.post_filter_min_share

    def chunks(self, store: VectorStore, vector: np.ndarray, n: int) -> list[VectorMatch]:
        """Up to ``n`` nearest chunks of allowed videos, best first."""
        return self._nearest(store.query, vector, n)

    def videos(self, store: VectorStore, vector: np.ndarray, n: int) -> list[VideoMatch]:
        """Up to ``n`` nearest whole-video vectors of allowed videos, best first."""
        return self._nearest(store.query_videos, vector, n)

    def _nearest(self, query: Callable[..., list[Any]], vector: np.ndarray, n: int) -> list[Any]:
        allowed = self.allowed
        if allowed is None:
            return list(query(vector, n, None))
        if not self.post_filter:
            return [m for m in query(vector, n, self.where) if m.video_id in allowed]
        ask = min(_MAX_CANDIDATES, int(n / self.share * 1.25) + 10)
        while True:
            got = query(vector, ask, None)
            kept = [m for m in got if m.video_id in allowed]
            if len(kept) >= n or len(got) < ask:
                return kept[:n]
            if ask >= _MAX_CANDIDATES:  # the allowed ones are far from the query: ask the store
                return [m for m in query(vector, n, self.where) if m.video_id in allowed]
            ask = min(_MAX_CANDIDATES, ask * 4)


def _search_vector(vector: np.ndarray) -> np.ndarray:
    """``vector`` as float32, refused when empty, zero or not finite."""
    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)) or not np.any(vec):
        raise InvalidInputError(
            "The search vector is empty or not finite",
            expected="a non-zero finite vector",
            got=f"{vec.shape[0]} values",
        )
    return vec


def _chunk_hits(chunks: Sequence[FusedChunk], rows: Mapping[str, Chunk]) -> tuple[ChunkHit, ...]:
    return tuple(
        ChunkHit(rows[c.chunk_id], c.score, c.dense_rank, c.lexical_rank)
        for c in chunks
        if c.chunk_id in rows
    )

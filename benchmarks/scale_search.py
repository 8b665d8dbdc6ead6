"""The search timings of ``benchmarks.scale``: every stage alone, the whole search now, and the
search as it was before, all on the same library in the same run (so ratios hold on a busy CPU).

"Before" is the search of the commit before the speed work, rebuilt from today's parts with the
old behaviour switched back on: no query-vector cache (``query_cache_size=0``), the allowed
videos of a filtered search read from SQL every time (``AllowedVideos`` keeping none), filters always
inside Chroma's ``where`` (``post_filter_min_share`` above 1), every vector hit's metadata read
(``LegacyStore``) and BM25 through ``bm25s``' ``retrieve`` with a weight mask over every
document (``LegacyLexical``, the old ``LexicalIndex.search``). It fuses as configured unless
told otherwise (the z-score fusion costs what RRF costs). The catalogue reads (version read by
each BM25 index, ORM rows) are today's. "best chunk" is the search before whole-video scoring (both video
weights 0), on the old parts too: what issue 18 calls today's search.

A hybrid search is timed cold (the query-vector cache emptied before each call: a new text, so
the query is embedded) and warm (the text searched before: its vector comes from the cache).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.scale_index import QUERIES, pct

if TYPE_CHECKING:
    from retrieval.library import Library
    from retrieval.search import HybridSearch

FILTERS = {"published_after": date(2009, 1, 1), "max_duration": 1200.0}


def _legacy_lexical() -> type:
    from retrieval.lexical import LexicalIndex, LexicalMatch

    class LegacyLexical(LexicalIndex):
        """``LexicalIndex.search`` as it was: ``bm25s.retrieve`` with a mask over all documents."""

        def search(
            self,
            query: str,
            n: int,
            allowed_videos: set[str] | frozenset[str] | None = None,
            *,
            version: int | None = None,  # ignored: the old search read it on every call
        ) -> list[LexicalMatch]:
            self.ensure_fresh()
            retriever, chunk_ids, video_ids = self._retriever, self._chunk_ids, self._video_ids
            if retriever is None or n <= 0 or not chunk_ids:
                return []
            tokens = self._tokenize([query])
            if not tokens or not tokens[0]:
                return []
            mask = None
            if allowed_videos is not None:
                if not allowed_videos:
                    return []
                allowed = allowed_videos
                mask = np.fromiter((v in allowed for v in video_ids), np.float32, len(video_ids))
            docs, scores = retriever.retrieve(
                tokens, k=min(n, len(chunk_ids)), show_progress=False, weight_mask=mask
            )
            out: list[LexicalMatch] = []
            for doc, score in zip(docs[0], scores[0], strict=True):
                if score <= 0:
                    break
                out.append(
                    LexicalMatch(chunk_ids[int(doc)], str(video_ids[int(doc)]), float(score))
                )
            return out

    return LegacyLexical


class LegacyStore:
    """The Chroma store as it queried before: every hit's metadata read for its video id."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _query(self, collection: Any, vector: np.ndarray, n: int, where: Any) -> list[Any]:
        from retrieval.store.chroma import where_clause

        if n <= 0 or (where is not None and where.video_ids is not None and not where.video_ids):
            return []
        got = collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where_clause(where),
            include=["metadatas", "distances"],
        )
        return list(zip(got["ids"][0], got["metadatas"][0], got["distances"][0], strict=True))

    def query(self, vector: np.ndarray, n: int, where: Any = None) -> list[Any]:
        from retrieval.store.base import VectorMatch

        found = self._query(self._store.collection, vector, n, where)
        return [VectorMatch(i, str(m["video_id"]), 1.0 - float(d)) for i, m, d in found]

    def query_videos(self, vector: np.ndarray, n: int, where: Any = None) -> list[Any]:
        from retrieval.store.base import VideoMatch

        found = self._query(self._store.videos, vector, n, where)
        return [VideoMatch(str(m["video_id"]), 1.0 - float(d)) for _, m, d in found]


def before(library: Library, **search: Any) -> HybridSearch:
    """The search as it was before the speed work (see the module docstring)."""
    from retrieval.allowed import AllowedVideos
    from retrieval.embed.cache import QueryVectorCache
    from retrieval.lexical import video_documents
    from retrieval.search import HybridSearch

    legacy = _legacy_lexical()
    settings = library.config.search.model_copy(
        update={"query_cache_size": 0, "post_filter_min_share": 1.01, **search}
    )
    data = library.config.data_dir
    searcher = HybridSearch(
        library.catalogue,
        LegacyStore(library.store),
        legacy(library.catalogue, data / "bm25"),
        lambda: library.embedder,
        settings,
        video_lexical=legacy(
            library.catalogue, data / "bm25-videos", video_documents(library.catalogue)
        ),
        query_vectors=QueryVectorCache(lambda: library.embedder, 0),
    )
    searcher.allowed_videos = AllowedVideos(library.catalogue, size=0)  # read on every search
    return searcher


def timed(
    fns: dict[str, Callable[[Any], Any]], repeat: int, items: list[Any], seed: int = 0
) -> dict[str, dict[str, float]]:
    """p50/p95 ms of each function over ``items`` x ``repeat``, wall clock and this process's
    CPU time, interleaved: every item runs through all the functions (in a shuffled order)
    before the next, so a burst of load from other processes falls on all of them alike. On a
    shared CPU the wall clock includes waiting for a core; the CPU time (no stage runs threads
    of its own in parallel) is close to what the same call takes on a free core."""
    rng = random.Random(seed)
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for _ in range(repeat):
        for item in items:
            rng.shuffle(names)
            for name in names:
                t0, c0 = time.perf_counter(), time.process_time()
                fns[name](item)
                cpu[name].append(time.process_time() - c0)
                wall[name].append(time.perf_counter() - t0)
    return {
        name: {
            "p50": pct(wall[name], 0.5) * 1000,
            "p95": pct(wall[name], 0.95) * 1000,
            "cpu p50": pct(cpu[name], 0.5) * 1000,
            "cpu p95": pct(cpu[name], 0.95) * 1000,
        }
        for name in fns
    }


def measure_search(
    library: Library, vectors: np.ndarray, repeat: int, prefix: str = "", legacy: bool = True
) -> dict[str, dict[str, float]]:
    """p50/p95 in ms of each stage and each whole search over ``QUERIES`` x ``repeat``; the
    searches "before" only with ``legacy`` (at 1M chunks a filtered one takes many seconds)."""
    from retrieval.fusion import QueryRankings, fuse_videos
    from retrieval.types import SearchFilters

    filters = SearchFilters(**FILTERS)  # type: ignore[arg-type]
    searcher = library.searcher
    old = before(library)
    old_best_chunk = before(library, video_dense_weight=0.0, video_lexical_weight=0.0)
    n = library.config.search.chunk_candidates
    nv = library.config.search.video_candidates
    store, cache = library.store, library.query_vectors
    collection = store.collection  # type: ignore[attr-defined]
    pairs = list(zip(QUERIES, vectors, strict=True))
    for q, _ in pairs[:3]:  # warm every path (BM25 load, SQLite cache, HNSW pages)
        for s in (searcher, old, old_best_chunk) if legacy else (searcher,):
            s.search(q)
            s.search(q, filters)

    cache.encode(QUERIES)  # every text kept: the "cached" searches find their vector

    def embed_new(p: Any) -> Any:  # the embedder keeps nothing: every call embeds
        return library.embedder.encode_queries([p[0]])

    def cold(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(p: Any) -> Any:
            cache._vectors.pop(p[0], None)  # as if never searched: the query is embedded
            misses = cache.misses
            out = fn(p)
            assert cache.misses == misses + 1, "a cold search did not embed its query"
            return out

        return run

    def cached(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(p: Any) -> Any:
            misses = cache.misses
            out = fn(p)
            assert cache.misses == misses, "a cached search embedded its query"
            return out

        return run

    def rankings(p: Any) -> QueryRankings:
        videos = store.query_videos(p[1], nv)
        whole = library.video_lexical.search(p[0], nv)
        return QueryRankings(
            1.0,
            [(m.chunk_id, m.video_id) for m in store.query(p[1], n)],
            [(m.chunk_id, m.video_id) for m in library.lexical.search(p[0], n)],
            [m.video_id for m in videos],
            [m.video_id for m in whole],
            [m.similarity for m in videos],
            [m.score for m in whole],
        )

    ranked = {p[0]: rankings(p) for p in pairs}
    fused = {q: fuse_videos([r], searcher.weights) for q, r in ranked.items()}
    fns: dict[str, Callable[[Any], Any]] = {
        "raw chroma": lambda p: collection.query(query_embeddings=p[1].reshape(1, -1), n_results=n),
        "raw chroma, ids and distances only": lambda p: collection.query(
            query_embeddings=p[1].reshape(1, -1), n_results=n, include=["distances"]
        ),
        "dense": lambda p: library.search_by_vector(p[1], k=10),
        "dense (before)": lambda p: old.search_by_vector(p[1], k=10),
        "dense+filters": lambda p: library.search_by_vector(p[1], filters, k=10),
        "dense+filters (before)": lambda p: old.search_by_vector(p[1], filters, k=10),
        "hybrid": cold(lambda p: searcher.search(p[0], k=10)),
        "hybrid, query vector cached": cached(lambda p: searcher.search(p[0], k=10)),
        "hybrid (before)": lambda p: old.search(p[0], k=10),
        "hybrid best chunk (before)": lambda p: old_best_chunk.search(p[0], k=10),
        "hybrid+filters": cold(lambda p: searcher.search(p[0], filters, k=10)),
        "hybrid+filters (before)": lambda p: old.search(p[0], filters, k=10),
    }
    if not prefix:  # the stages of one hybrid search, each alone
        allowed = library.catalogue.matching_video_ids(filters)
        lexical, video_lexical = old.lexical, old.video_lexical
        assert video_lexical is not None
        fns |= {
            "stage: query embedding": embed_new,
            "stage: allowed videos (filters)": lambda p: library.catalogue.matching_video_ids(
                filters
            ),
            "stage: chroma chunks": lambda p: store.query(p[1], n),
            "stage: chroma centroids": lambda p: store.query_videos(p[1], nv),
            "stage: bm25 chunks": lambda p: library.lexical.search(p[0], n),
            "stage: bm25 chunks (before)": lambda p: lexical.search(p[0], n),
            "stage: bm25 videos": lambda p: library.video_lexical.search(p[0], nv),
            "stage: bm25 videos (before)": lambda p: video_lexical.search(p[0], nv),
            "stage: bm25 chunks+filters": lambda p: library.lexical.search(p[0], n, allowed),
            "stage: bm25 chunks+filters (before)": lambda p: lexical.search(p[0], n, allowed),
            "stage: fusion": lambda p: fuse_videos([ranked[p[0]]], searcher.weights),
            "stage: catalogue rows": lambda p: searcher._resolve(fused[p[0]], 10, p[1], p[0]),
        }
    if not legacy:
        fns = {name: fn for name, fn in fns.items() if "(before)" not in name}
    out = timed(fns, repeat, pairs)
    return {prefix + k: v for k, v in out.items()}

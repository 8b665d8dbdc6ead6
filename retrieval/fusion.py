"""Rank fusion: chunk rankings into chunk scores, and chunk- plus video-level evidence into videos.

Every ranking is fused with reciprocal rank fusion (Cormack et al., 2009):
``score = sum over rankings of weight / (rrf_k + rank)`` with 1-based ranks. RRF needs no score
calibration between cosine similarities and BM25 scores, which live on unrelated scales.

A video's score fuses, for each query text (weighted), three video rankings:

* **chunks**: videos ordered by their best chunk, a chunk scored by the RRF of its dense and BM25
  ranks (max-passage scoring: the moment squarely about the query);
* **video_lexical**: BM25 over the whole video as one document (transcript and metadata fields);
* **video_dense**: cosine to the video's centroid (the normalised mean of its chunk vectors).

A description of a talk usually matches many of its passages a little rather than one passage
well, which the best chunk alone throws away; the whole-video rankings keep it. The chunks are
still scored, so the evidence of a video is its best chunk. With both video weights at 0 the
order is exactly best-chunk scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from retrieval.errors import InvalidInputError


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


@dataclass(frozen=True)
class QueryRankings:
    """What one query text retrieved, best first on each side, and the text's weight."""

    weight: float
    dense: Sequence[tuple[str, str]] = ()  # (chunk_id, video_id)
    lexical: Sequence[tuple[str, str]] = ()  # (chunk_id, video_id)
    video_dense: Sequence[str] = ()  # video ids
    video_lexical: Sequence[str] = ()  # video ids


@dataclass(frozen=True)
class FusionWeights:
    """How much each video ranking counts (0 leaves it out); ``k`` is the RRF constant."""

    chunks: float = 1.0
    video_dense: float = 1.0
    video_lexical: float = 1.0
    k: int = 60


def _check_k(k: int) -> None:
    if k < 0:
        raise InvalidInputError("rrf_k must not be negative", expected="k >= 0", got=str(k))


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
    _check_k(k)
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


@dataclass
class _Chunk:
    video_id: str
    score: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def add(self, weight: float, chunk: FusedChunk) -> None:
        self.score += weight * chunk.score
        self.dense_rank = _best_rank(self.dense_rank, chunk.dense_rank)
        self.lexical_rank = _best_rank(self.lexical_rank, chunk.lexical_rank)


def _best_rank(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass
class _Video:
    score: float = 0.0
    chunk_ids: list[str] = field(default_factory=list)


def fuse_videos(queries: Sequence[QueryRankings], weights: FusionWeights) -> list[VideoScore]:
    """Videos by the weighted RRF of their chunk and whole-video ranks over every query text.

    A chunk's score is the weighted sum of its per-query dense + BM25 RRF scores (its ranks: the
    best over the queries), and a video's chunks come best first, so ``chunks[0]`` is the
    evidence. Videos found only by a whole-video ranking have no chunks here. Ties break on the
    best chunk's score, then on id.
    """
    _check_k(weights.k)
    k = weights.k
    chunks: dict[str, _Chunk] = {}
    videos: dict[str, _Video] = {}

    def credit(video_ids: Sequence[str], weight: float) -> None:
        if weight <= 0:
            return
        for rank, vid in enumerate(dict.fromkeys(video_ids), start=1):
            videos.setdefault(vid, _Video()).score += weight / (k + rank)

    for query in queries:
        fused = rrf_fuse(query.dense, query.lexical, k)
        for hit in fused:
            chunks.setdefault(hit.chunk_id, _Chunk(hit.video_id)).add(query.weight, hit)
        credit([v.video_id for v in group_by_video(fused)], query.weight * weights.chunks)
        credit(query.video_dense, query.weight * weights.video_dense)
        credit(query.video_lexical, query.weight * weights.video_lexical)
    for cid, chunk in chunks.items():
        videos.setdefault(chunk.video_id, _Video()).chunk_ids.append(cid)
    out = []
    for vid, video in videos.items():
        hits = sorted(
            (
                FusedChunk(cid, vid, c.score, c.dense_rank, c.lexical_rank)
                for cid in video.chunk_ids
                for c in (chunks[cid],)
            ),
            key=lambda c: (-c.score, c.chunk_id),
        )
        out.append(VideoScore(vid, video.score, tuple(hits)))
    out.sort(key=lambda v: (-v.score, -(v.chunks[0].score if v.chunks else 0.0), v.video_id))
    return out

"""Rank fusion: chunk rankings into chunk scores, and chunk- plus video-level evidence into videos.

Chunks are fused with reciprocal rank fusion (Cormack et al., 2009):
``score = sum over rankings of 1 / (rrf_k + rank)`` with 1-based ranks, which needs no calibration
between cosine similarities and BM25 scores (they live on unrelated scales).

A video's score fuses, for each query text (weighted), three video rankings, in one of two ways
(``FusionWeights.method``):

* ``"rrf"``: ``weight / (rrf_k + rank)`` summed over the rankings;
* ``"zscore"`` (the default, ``search.fusion``): each ranking's scores are standardised over the
  videos it retrieved (z-scores), shifted so that its weakest video counts 0 (a video it did not
  retrieve counts 0 too), then summed with the ranking weights. Unlike ranks, this keeps how far
  ahead a video is: over all 2,092 TED talks it is ahead of RRF (docs/search.md).

The three video rankings:

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
    video_dense_scores: Sequence[float] = ()  # cosine of each of video_dense (z-score fusion)
    video_lexical_scores: Sequence[float] = ()  # BM25 score of each of video_lexical


@dataclass(frozen=True)
class FusionWeights:
    """How much each video ranking counts (0 leaves it out); ``k`` is the RRF constant;
    ``method`` how video rankings are fused (``"rrf"`` or ``"zscore"``, see the module)."""

    chunks: float = 1.0
    video_dense: float = 1.0
    video_lexical: float = 1.0
    k: int = 60
    method: str = "rrf"


METHODS = ("rrf", "zscore")


def shifted_zscores(scores: Sequence[float]) -> list[float]:
    """``scores`` standardised (mean 0, deviation 1) and shifted so that the lowest is 0; all 0
    when they are all equal."""
    values = [float(v) for v in scores]
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if sd <= 1e-12:
        return [0.0] * len(values)
    low = min(values)
    return [(v - low) / sd for v in values]


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
    if weights.method not in METHODS:
        raise InvalidInputError(
            "Unknown fusion method", expected=" or ".join(METHODS), got=repr(weights.method)
        )
    k = weights.k
    chunks: dict[str, _Chunk] = {}
    videos: dict[str, _Video] = {}

    def credit(video_ids: Sequence[str], scores: Sequence[float], weight: float) -> None:
        if weight <= 0 or not video_ids:
            return
        if weights.method == "rrf":
            for rank, vid in enumerate(dict.fromkeys(video_ids), start=1):
                videos.setdefault(vid, _Video()).score += weight / (k + rank)
            return
        if len(scores) != len(video_ids):
            raise ValueError("z-score fusion needs a score for every video of a ranking")
        best: dict[str, float] = {}
        for vid, score in zip(video_ids, scores, strict=True):
            best.setdefault(vid, score)  # a ranking is best first: its first score counts
        for vid, z in zip(best, shifted_zscores(list(best.values())), strict=True):
            videos.setdefault(vid, _Video()).score += weight * z

    for query in queries:
        fused = rrf_fuse(query.dense, query.lexical, k)
        for hit in fused:
            chunks.setdefault(hit.chunk_id, _Chunk(hit.video_id)).add(query.weight, hit)
        by_chunk = group_by_video(fused)
        credit(
            [v.video_id for v in by_chunk],
            [v.score for v in by_chunk],
            query.weight * weights.chunks,
        )
        credit(query.video_dense, query.video_dense_scores, query.weight * weights.video_dense)
        credit(
            query.video_lexical, query.video_lexical_scores, query.weight * weights.video_lexical
        )
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

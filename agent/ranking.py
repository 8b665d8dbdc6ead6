"""Personalised candidate generation and scoring.

Candidates come from these sources, merged per video:

1. hybrid search (dense + BM25) on the understood search text (``Library.search``);
2. similar-to-liked: the vectors of the videos the user liked (in this conversation or history),
   each as a query (``Library.search_by_vector``);
3. the user's profile vector (``Library.search_by_vector``);
4. the best videos by collaborative score (``CollabSettings.candidates`` of them, from the
   :class:`agent.collab.CollabScorer`): what people who liked the same videos liked, even when
   nothing in its text matches;
5. what people took in conversations: the videos most taken in sessions, and the best by
   similar requests (:mod:`agent.collab.requests`, the conversation's embedding against logged
   turns'); the learned stage also asks for the most popular videos.

Each candidate is scored ``(1 - h) * content + h * profile + c * collab`` plus, for the two
signals of 5, ``weight * log1p(count) / log1p(best count)``: ``content`` is the
candidate's hybrid-search rank turned into (0, 1] (0 when search did not return it), ``profile``
the cosine to the user's taste minus the weighted cosine to their dislikes, ``collab`` the
collaborative score from a :class:`CollabScorer` when one is plugged in (0 otherwise); ``h`` is
``AgentSettings.history_weight`` when the user has a profile (else 0), ``c`` ``collab_weight``.
Hard filters apply, and everything the user has already seen (watched, liked, disliked, rated) is
excluded unless they asked to see it again. The list is finally diversified by MMR
(``AgentSettings.diversity_lambda``, 1.0 = off).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from agent.collab import CollabScorer
from agent.collab.scores import best_ids, best_score
from agent.diversity import mmr_rerank
from agent.evidence import evidence_of, is_spoken
from agent.hard_filters import passes
from agent.profile import UserProfile
from agent.settings import AgentSettings
from agent.types import Candidate, FeedbackEvent
from retrieval.library import Library
from retrieval.types import ChunkHit, QueryText, SearchFilters, Video, VideoHit

__all__ = ["Ranker", "rank_score"]

log = logging.getLogger(__name__)

CONTENT_RANK_SCALE = 5.0  # content score = (s + 1) / (s + 1 + rank): rank 0 -> 1.0, rank 5 -> 0.55
LIKED_SOURCES = 3  # how many liked videos each seed a similar-to-liked query
LIKED_K = 10
# similar requests are scored beside the search: embedding the conversation is the signal's cost
# (~30 ms), a query embeds on one core (``embedding.query_threads``) and the machine has more
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vidrec-requests")


def rank_score(rank: int | None) -> float:
    """A source's rank as a 0..1 score (rank 0 -> 1, rank 5 -> 0.55: ``CONTENT_RANK_SCALE``; 0
    where the source did not rank the video)."""
    if rank is None:
        return 0.0
    return (CONTENT_RANK_SCALE + 1) / (CONTENT_RANK_SCALE + 1 + rank)


@dataclass
class _Pool:
    video: Video
    hit: VideoHit
    content_rank: int | None = None
    similar_rank: int | None = None  # best rank among the similar-to-liked / profile hits


class Ranker:
    """Candidate generation + personalised scoring over a :class:`retrieval.library.Library`."""

    def __init__(
        self, library: Library, settings: AgentSettings, collab: CollabScorer | None = None
    ) -> None:
        self.library = library
        self.settings = settings
        self.collab = collab

    def rank(
        self,
        query: str | Sequence[QueryText],
        filters: SearchFilters,
        profile: UserProfile,
        *,
        exclude: frozenset[str] = frozenset(),
        liked: Sequence[str] = (),
        history: Sequence[FeedbackEvent] = (),
        limit: int | None = None,
        timings: dict[str, float] | None = None,
        diversify: bool = True,
        popular: int = 0,
        conversation: str = "",
        collab_seeds: Sequence[str] | None = None,
        matched: int = 0,
    ) -> list[Candidate]:
        """Scored candidates, best first.

        Args:
            query: the search text, or weighted texts (``agent.query.turn_query``: the user's
                words and the model's rewrite); "" or none when the turn is about taste only.
            filters: hard filters (duration, date, language, tags).
            profile: the user's taste (may be empty).
            exclude: video ids never to return (seen, disliked, already known).
            liked: video ids to seed similar-to-liked queries with, strongest first.
            history: the user's events (for the collaborative scorer).
            limit: how many to return (default: ``AgentSettings.candidates``).
            timings: if given, seconds spent are added under "retrieve" and "rank".
            diversify: MMR-diversify the list and keep ``limit`` (off when a learned stage
                orders it next: the whole pool is returned).
            popular: also this many of the most popular videos (the collaborative model's
                popularity) as candidates (the learned stage asks for them).
            conversation: the conversation's text (``agent.collab.requests.conversation_text``) for
                the similar-requests signal.
            collab_seeds: the videos the collaborative scorer takes as liked in this conversation,
                newest first, before the history's own (which it orders by recency, as it was
                tuned); default ``liked``.
            matched: also this many of the videos whose centroid is nearest the whole
                ``conversation``'s query vector (the learned stage asks for them; a query encoder
                trained on logged conversations makes them count).
        """
        clock = time.perf_counter()
        n = limit or self.settings.candidates
        filters = replace(filters, exclude_ids=filters.exclude_ids | exclude)
        pool: dict[str, _Pool] = {}

        searching = any(
            t.text.strip() for t in ([QueryText(query)] if isinstance(query, str) else query)
        )
        requests = self._request_scores_beside(conversation)
        if searching:
            for rank, hit in enumerate(self.library.search(query, filters, k=n)):
                if hit.video.id not in pool and passes(hit.video, filters) and hit.chunks:
                    pool[hit.video.id] = _Pool(hit.video, hit, content_rank=rank)

        vector_queries: list[np.ndarray] = []
        seeds = list(dict.fromkeys(liked))[:LIKED_SOURCES]
        if seeds:
            vectors = self.library.video_vectors(seeds)
            vector_queries.extend(vectors[s] for s in seeds if s in vectors)
        per_query = LIKED_K
        if profile.vector is not None:
            vector_queries.append(profile.vector)
            per_query = max(LIKED_K, n // 2)
        for vector in vector_queries:
            hits = self.library.search_by_vector(vector, filters, k=per_query)
            for rank, hit in enumerate(hits):
                if hit.video.id not in pool and passes(hit.video, filters) and hit.chunks:
                    pool[hit.video.id] = _Pool(hit.video, hit)
                if hit.video.id in pool:
                    entry = pool[hit.video.id]
                    if entry.similar_rank is None or rank < entry.similar_rank:
                        entry.similar_rank = rank

        seeds_now = list(liked if collab_seeds is None else collab_seeds)
        collab_ranks = self._add_collab_candidates(pool, filters, history, seeds_now)
        popular_ranks = self._add_popular_candidates(pool, filters, popular)
        taken = self._taken_signals(pool, filters, requests)
        # after the requests signal: its thread has embedded the conversation by now (cached)
        cfg = self.settings
        match = cfg.conversation_match if cfg.conversation_match_weight > 0 else 0
        matched_ranks = self._add_matched_candidates(
            pool, filters, conversation, max(matched, match)
        )

        if timings is not None:
            timings["retrieve"] = timings.get("retrieve", 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()
        if not pool:
            return []
        ids = list(pool)
        video_vectors = self.library.video_vectors(ids) if not profile.empty else {}
        collab, collab_signals = self._collab(history, ids, seeds_now)
        h = self.settings.history_weight if not profile.empty else 0.0
        if not searching:
            h = 1.0 if not profile.empty else 0.0
        # collab (agent/collab): on a ranking by taste alone, the weight tuned with the model
        # (kept in proportion to h; it was tuned as taste + collab, no query); a turn that
        # searches also ranks by content, which that tuning never weighed: the setting
        c = self.settings.collab_weight
        if self.collab is not None and not searching:
            c = float(self.collab.collab_weight(h, c))
        candidates = []
        for i, video_id in enumerate(ids):
            entry = pool[video_id]
            content = rank_score(entry.content_rank)
            vec = video_vectors.get(video_id)
            taste = profile.score(vec) if vec is not None else 0.0
            co = collab[i]
            signals = {n: float(v[i]) for n, v in collab_signals.items() if math.isfinite(v[i])}
            for name, (_, counts, top, _) in taken.items():
                if video_id in counts:
                    signals[name] = math.log1p(counts[video_id]) / top
            score = (1 - h) * content + h * taste + c * co
            score += cfg.conversation_match_weight * rank_score(matched_ranks.get(video_id))
            score += sum(w * signals.get(name, 0.0) for name, (w, *_) in taken.items())
            best = evidence_of(entry.hit)
            ranks = {
                name: r
                for name, r in (
                    ("search", entry.content_rank),
                    ("similar", entry.similar_rank),
                    ("collab", collab_ranks.get(video_id)),
                    ("popular", popular_ranks.get(video_id)),
                    ("conversation", matched_ranks.get(video_id)),
                    *((name, got[3].get(video_id)) for name, got in taken.items()),
                )
                if r is not None
            }
            candidates.append(
                Candidate(
                    video=entry.video,
                    score=score,
                    content_score=content,
                    profile_score=taste,
                    collab_score=co,
                    evidence_chunk_id=best.id,
                    evidence_text=best.text,
                    evidence_start=best.start,
                    evidence_end=best.end,
                    source_ranks=ranks,
                    signals=signals,
                )
            )
        candidates.sort(key=lambda c: -c.score)
        # the learned stage (diversify off) orders the whole pool: nothing is cut here
        ranked = self._diversify(candidates, video_vectors)[:n] if diversify else candidates
        if timings is not None:
            timings["rank"] = timings.get("rank", 0.0) + time.perf_counter() - clock
        return ranked

    def _request_scores_beside(self, conversation: str) -> Future[Mapping[str, float]] | None:
        """The similar-requests scores of ``conversation``, computed in a thread while the
        turn searches (None: the signal is off or nothing was said)."""
        if self.collab is None or self.settings.request_weight <= 0 or not conversation.strip():
            return None
        k, ridge = self.settings.request_neighbours, self.settings.request_ridge
        embed, embedder = self.library.embed_query, self.library.query_embedder_id
        return _BESIDE.submit(self.collab.request_scores, conversation, embed, k, ridge, embedder)

    def _taken_signals(
        self,
        pool: dict[str, _Pool],
        filters: SearchFilters,
        requests: Future[Mapping[str, float]] | None,
    ) -> dict[str, tuple[float, Mapping[str, float], float, dict[str, int]]]:
        """What people took in conversations, each signal as (weight, its count per video, the
        ``log1p`` of the best count, rank of its best videos; a video adds weight x ``log1p``
        of its count scaled to 0..1 by the best): ``conversations``, how many sessions took the
        video; ``requests``, what people took after asking for something like this conversation
        (:mod:`agent.collab.requests`). Each one's best join the candidates."""
        cfg = self.settings
        out = {}
        for name, weight, k in (
            ("conversations", cfg.conversation_popularity_weight, cfg.conversation_popular),
            ("requests", cfg.request_weight, cfg.request_candidates),
        ):
            counts = self._popular_counts(name, requests) if weight > 0 else {}
            ranks = self._add_popular_candidates(pool, filters, k, counts)
            out[name] = (weight, counts, math.log1p(best_score(counts)) or 1.0, ranks)
        return out

    def _popular_counts(
        self, signal: str = "users", requests: Future[Mapping[str, float]] | None = None
    ) -> Mapping[str, float]:
        """The collaborative model's popularity over every user (``users``), over conversation
        sessions (``conversations``) or over requests like the conversation (``requests``, from
        :meth:`_request_scores_beside`); {} without a model."""
        if self.collab is None:
            return {}
        try:
            if signal == "requests":
                return requests.result() if requests is not None else {}
            if signal == "conversations":
                return self.collab.session_popularity()
            return self.collab.popularity()
        except Exception as exc:  # the collaborative signal is optional; never fail a turn on it
            log.warning("%s popularity unavailable: %s", signal, exc)
            return {}

    def _add_popular_candidates(
        self,
        pool: dict[str, _Pool],
        filters: SearchFilters,
        k: int,
        counts: Mapping[str, float] | None = None,
    ) -> dict[str, int]:
        """Add the ``k`` most popular videos (by ``counts``, default the popularity over every
        user) that pass the filters; returns the popularity rank of the most popular ``k``
        (whether or not another source found them first)."""
        if k <= 0:
            return {}
        if counts is None:
            counts = self._popular_counts()
        ranks = {v: r for r, v in enumerate(best_ids(counts, k, filters.exclude_ids))}
        self._add_by_ids(pool, list(ranks), filters)
        return ranks

    def _add_matched_candidates(
        self, pool: dict[str, _Pool], filters: SearchFilters, conversation: str, k: int
    ) -> dict[str, int]:
        """Add the ``k`` videos nearest the conversation's query vector (centroids) that pass
        the filters; returns their ranks."""
        if k <= 0 or not conversation.strip():
            return {}
        vector = self.library.embed_query(conversation)  # the requests signal embeds it too
        ranks = {v: r for r, (v, _) in enumerate(self.library.nearest_videos(vector, filters, k=k))}
        self._add_by_ids(pool, list(ranks), filters)
        return ranks

    def _add_by_ids(
        self,
        pool: dict[str, _Pool],
        video_ids: Sequence[str],
        filters: SearchFilters,
        limit: int | None = None,
    ) -> None:
        """Add videos found by a signal without a text hit, in order, at most ``limit`` new
        ones (evidence: each one's first spoken chunk, else its first chunk); one gone or
        failing the filters is skipped. Their rows are read together: one query for the videos
        and one for their chunks, not two per video (38 videos a ReDial turn)."""
        wanted = [v for v in dict.fromkeys(video_ids) if v not in pool]
        wanted = [v for v in wanted if v not in filters.exclude_ids]
        if not wanted or limit == 0:
            return
        videos = self.library.videos_by_ids(wanted)
        chunks = self.library.chunks_of(v for v in wanted if v in videos)
        added = 0
        for video_id in wanted:
            video, found = videos.get(video_id), chunks.get(video_id)
            if video is None or not found or not passes(video, filters):
                continue
            first = next((c for c in found if is_spoken(c)), found[0])
            pool[video_id] = _Pool(video, VideoHit(video, 0.0, (ChunkHit(first, 0.0),)))
            added += 1
            if limit is not None and added >= limit:
                return

    def _add_collab_candidates(
        self,
        pool: dict[str, _Pool],
        filters: SearchFilters,
        history: Sequence[FeedbackEvent],
        liked: Sequence[str],
    ) -> dict[str, int]:
        """Add the scorer's best videos that pass the filters (evidence: their first spoken
        chunk, else their first chunk); returns each of its candidates' rank among them."""
        k = self.settings.collab.candidates
        if self.collab is None or k <= 0 or self.settings.collab_weight == 0:
            return {}
        try:
            wanted = k + len(filters.exclude_ids)
            video_ids = list(self.collab.collab_candidates(history, list(liked), wanted))
        except Exception as exc:  # the collaborative signal is optional; never fail a turn on it
            log.warning("collaborative candidates unavailable: %s", exc)
            return {}
        self._add_by_ids(pool, video_ids, filters, limit=k)
        return {v: rank for rank, v in enumerate(video_ids)}

    def _collab(
        self, history: Sequence[FeedbackEvent], ids: list[str], liked: Sequence[str]
    ) -> tuple[list[float], dict[str, np.ndarray]]:
        """Collaborative scores (0 where there is no scorer or no signal), and each of its
        signals per video (NaN: none)."""
        if self.collab is None or self.settings.collab_weight == 0:
            return [0.0] * len(ids), {}
        try:
            raw = self.collab.collab_scores(history, ids, seeds=list(liked))
            signals = self.collab.collab_signals(history, ids, seeds=list(liked))
        except Exception as exc:  # the collaborative signal is optional; never fail a turn on it
            log.warning("collaborative scores unavailable: %s", exc)
            return [0.0] * len(ids), {}
        return [0.0 if v is None or math.isnan(float(v)) else float(v) for v in raw], signals

    def _diversify(
        self, candidates: list[Candidate], vectors: dict[str, np.ndarray]
    ) -> list[Candidate]:
        lam = self.settings.diversity_lambda
        if lam >= 1.0 or len(candidates) < 3:
            return candidates
        if not vectors:
            vectors = self.library.video_vectors([c.video.id for c in candidates])
        by_id = {c.video.id: c for c in candidates}
        order = mmr_rerank(
            [c.video.id for c in candidates],
            [c.score for c in candidates],
            vectors,
            len(candidates),
            lam,
        )
        return [by_id[i] for i in order]

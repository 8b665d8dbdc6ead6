"""The candidate pool of a turn: what the user named resolved to videos, their profile, the
ranked candidates and (optionally) the LLM's listwise rerank of them.

``Recommender.rank`` (evaluation, benchmarks, fast surfaces) and ``Recommender.recommend`` /
``stream`` (the whole turn) both rank through :class:`CandidatePool`; it reads the recommender's
parts through :class:`PoolParts`, so it needs no import of the facade.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol

import numpy as np

from agent.coldstart import cold_start_candidates
from agent.collab import CollabScorer
from agent.collab.requests import conversation_text
from agent.conversation import last_user, user_texts
from agent.feedback import is_positive
from agent.learn.features import feature_matrix
from agent.learn.reading import Vocabulary
from agent.learn.stage import RankingModel, diversified, learned_order, turn_context
from agent.llm.base import LLM
from agent.mentions import Mention, conversation_mentions, seeds_of, turn_feedback, unread
from agent.profile import ProfileWeights, UserProfile, build_profile
from agent.query import turn_query, without_watched
from agent.ranking import Ranker
from agent.references import DescribedVideos, resolve_by_search
from agent.rerank import Reranker
from agent.settings import Settings
from agent.text import content_words
from agent.titles import TitleIndex
from agent.turn_log import shown_before
from agent.types import Candidate, FeedbackEvent, Message, TurnUnderstanding
from agent.understand import Understander, merge_filters, search_text_of
from agent.users import UserStore
from retrieval.library import Library
from retrieval.types import SearchFilters

__all__ = ["PROFILE_EVENTS", "CandidatePool", "Pool", "PoolParts", "RankedTurn", "request_text"]

PROFILE_EVENTS = 500  # the most recent events that shape the profile
POPULARITY_CACHE_S = 30.0


@dataclass(frozen=True)
class Pool:
    """The ranked candidates of a turn, the profile that scored them, and the videos the user
    said they like (understood or recorded; a reason may cite them as "which you liked")."""

    candidates: list[Candidate]
    profile: UserProfile
    liked: list[str]
    references: dict[str, str] = field(default_factory=dict)  # what the turn named -> video id
    features: np.ndarray | None = None  # the learned stage's rows, in the candidates' order


@dataclass(frozen=True)
class RankedTurn:
    """What ``Recommender.rank`` returns: the understanding and the ranked candidates."""

    understanding: TurnUnderstanding
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # liked/disliked/seen -> video id
    features: np.ndarray | None = None  # with ``Recommender.ranking_rows``: one row a candidate


Stage = Literal["auto", "rows", "off"]


class PoolParts(Protocol):
    """What the pool reads of the facade (``agent.recommender.Recommender`` provides it)."""

    settings: Settings
    collab: CollabScorer
    learned: RankingModel | None

    @property
    def library(self) -> Library: ...

    @property
    def llm(self) -> LLM: ...

    @property
    def users_store(self) -> UserStore: ...

    def title_index(self, *, refresh: bool = False) -> TitleIndex: ...

    def references(self) -> DescribedVideos: ...

    def vocabulary(self) -> Vocabulary: ...

    def understander(self) -> Understander: ...


def request_text(messages: Sequence[Message], understanding: TurnUnderstanding) -> str:
    """The latest user turn, with the model's search text when it says more; a clause about a
    talk the user watched is no part of it (:func:`agent.query.without_watched`)."""
    latest = without_watched(last_user(messages), understanding.seen)
    search = without_watched(understanding.search_text, understanding.seen)
    if search and search not in latest:
        return f"{latest} ({search})"
    return latest


class CandidatePool:
    """Resolve, profile, retrieve and score, then (optionally) LLM-rerank one turn."""

    def __init__(self, parts: PoolParts) -> None:
        self.parts = parts
        self._popular: tuple[float, Mapping[str, float]] | None = None

    def ranked(
        self,
        messages: Sequence[Message],
        understanding: TurnUnderstanding,
        filters: SearchFilters | None,
        history: list[FeedbackEvent],
        timings: dict[str, float],
        *,
        rerank: bool,
        k: int = 5,
        shown: Sequence[str] = (),
        stage: Stage = "auto",
    ) -> Pool:
        """Retrieve, score, and (optionally) LLM-rerank; fills ``timings``.

        ``stage``: "auto" orders by the learned ranker when one is trained, "rows" keeps the
        blend's order of the whole learned-stage pool and returns its feature rows (training),
        "off" is the blend alone.
        """
        parts = self.parts
        clock = time.perf_counter()
        named = conversation_mentions(messages, parts.title_index().spotter())
        timings["mentions"] = time.perf_counter() - clock
        pool = self.candidates(
            understanding,
            filters,
            history,
            timings,
            shown,
            user_texts(messages),
            stage,
            named,
            conversation_text(messages),
        )
        clock = time.perf_counter()
        if rerank and len(pool.candidates) > 1:
            taste = [
                c.title
                for v in pool.profile.liked[:3]
                if (c := parts.library.get_video(v)) is not None
            ]
            reranker = Reranker(parts.llm, top_n=parts.settings.agent.rerank_top_n)
            pool = replace(
                pool,
                candidates=reranker.rerank(
                    request_text(messages, understanding), pool.candidates, taste, picks=k
                ),
            )
        timings["rerank"] = time.perf_counter() - clock
        return pool

    def rank_turn(
        self,
        messages: Sequence[Message],
        user_id: str,
        k: int,
        filters: SearchFilters | None,
        *,
        rerank: bool,
        understanding: TurnUnderstanding | None,
        stage: Stage,
        history: list[FeedbackEvent] | None,
    ) -> RankedTurn:
        """``Recommender.rank`` after its input checks: understand (unless given), then
        :meth:`ranked` with the user's stored history (unless given)."""
        parts = self.parts
        timings: dict[str, float] = {}
        if understanding is None:
            clock = time.perf_counter()
            understanding = parts.understander().understand(messages)
            timings["understand"] = time.perf_counter() - clock
        if not understanding.search_text:
            # a ranking was asked for: a turn the model read as small talk is searched as said
            understanding = replace(
                understanding,
                search_text=search_text_of(None, messages),
                wants_recommendations=True,
            )
        if history is None:
            history = parts.users_store.history(user_id)
        rows = stage == "rows"
        pool = self.ranked(
            messages,
            understanding,
            filters,
            history,
            timings,
            rerank=False if rows else rerank,
            k=k,
            shown=shown_before(parts.users_store, user_id, messages, history),
            stage=stage,
        )
        if rows:
            return RankedTurn(
                understanding, pool.candidates, timings, pool.references, pool.features
            )
        return RankedTurn(understanding, pool.candidates[:k], timings, pool.references)

    def resolve(
        self, mentions: Sequence[str], shown: Sequence[str], found: dict[str, str]
    ) -> tuple[list[str], list[str]]:
        """Mentions -> video ids (by title, else by description, :mod:`agent.references`) and
        the mentions that name no video (topics); ``found`` gets mention -> id."""
        ids: list[str] = []
        rest = []
        for mention in mentions:
            video_id = self.parts.title_index().resolve(mention) or self.parts.references().resolve(
                mention, shown
            )
            if video_id is None:
                rest.append(mention)
                continue
            found[mention] = video_id
            if video_id not in ids:
                ids.append(video_id)
        return ids, rest

    def resolve_watched(
        self, mentions: Sequence[str], shown: Sequence[str], found: dict[str, str]
    ) -> list[str]:
        """Talks the user watched: by title or description, else by searching what they said
        happens in it (:func:`agent.references.resolve_by_search`)."""
        ids, rest = self.resolve(mentions, shown, found)
        library = self.parts.library
        for mention in rest:
            video_id = resolve_by_search(
                mention, lambda m: [h.video.id for h in library.search(m, k=1)], self._whole_text
            )
            if video_id is not None:
                found[mention] = video_id
                ids.append(video_id)
        return ids

    def _whole_text(self, video_id: str) -> str:
        library = self.parts.library
        video = library.get_video(video_id)
        if video is None:
            return ""
        spoken = " ".join(c.text for c in library.chunks(video_id))
        return " ".join((video.title, video.speaker or "", video.description, *video.tags, spoken))

    def candidates(
        self,
        understanding: TurnUnderstanding,
        filters: SearchFilters | None,
        history: list[FeedbackEvent],
        timings: dict[str, float],
        shown: Sequence[str] = (),
        user_words: Sequence[str] = (),
        stage: Stage = "auto",
        named: Sequence[Mention] = (),
        conversation: str = "",
    ) -> Pool:
        """The turn's candidates. ``named``: the titles the conversation named
        (:mod:`agent.mentions`); with what the turn understood they are the conversation's own
        feedback: likes seed the collaborative model and similar-title retrieval (newest
        first), dislikes count against their neighbours, and none of them is answered but those
        the latest turn asks for by name (``Mention.asked``). ``conversation``: its text for the
        similar-requests signal (:func:`agent.collab.requests.conversation_text`)."""
        parts = self.parts
        clock = time.perf_counter()
        if not parts.settings.agent.opinions:
            understanding, named = unread(understanding, named)
        references: dict[str, str] = {}
        liked_ids, _ = self.resolve(understanding.liked, shown, references)
        disliked_ids, disliked_topics = self.resolve(understanding.disliked, shown, references)
        seen_ids = self.resolve_watched(understanding.seen, shown, references)
        now = datetime.now(UTC)
        said = turn_feedback(named, liked_ids, disliked_ids, history, now)
        events = [e for e in history if e.kind != "impression"][-PROFILE_EVENTS:] + said
        reacted = list(dict.fromkeys(e.video_id for e in events))
        vectors = parts.library.video_vectors(reacted) if reacted else {}
        negatives: list[np.ndarray] = [
            parts.library.embed_query(t) for t in disliked_topics[:3] if content_words(t)
        ]
        cfg = parts.settings.agent
        profile = build_profile(
            events,
            vectors,
            now=now,
            weights=ProfileWeights(
                half_life_days=cfg.profile_half_life_days, negative_weight=cfg.negative_weight
            ),
            extra_negatives=negatives,
        )
        if understanding.include_seen:
            exclude = frozenset(profile.disliked) - set(liked_ids)
        else:
            # a title the latest turn asks for by name is answered, unless the turn's understanding
            # or the user's own feedback says they know it
            asked = {m.video_id for m in named if m.asked} - {
                *liked_ids,
                *disliked_ids,
                *seen_ids,
                *(e.video_id for e in history if e.kind != "impression"),
            }
            exclude = (profile.seen | set(seen_ids) | {e.video_id for e in said}) - asked
        merged = merge_filters(understanding.filters, filters)
        query = understanding.search_text if content_words(understanding.search_text) else ""
        # this turn's likes first, then the conversation's newest first, then the history's
        seeds = list(dict.fromkeys([*liked_ids, *seeds_of(said), *profile.liked]))
        # a title merely named (or one the assistant named) seeds the ranking, but no reason may
        # call it liked
        named_only = (
            {m.video_id for m in named}
            - set(liked_ids)
            - {e.video_id for e in history if is_positive(e)}
        )
        liked = [v for v in seeds if v not in named_only]
        timings["retrieve"] = time.perf_counter() - clock
        if not query and profile.empty:
            # collab (agent/coldstart.py): nothing known and nothing asked: popular-but-diverse
            # picks (the turn still gets the clarifying question)
            clock = time.perf_counter()
            picks = cold_start_candidates(
                parts.library,
                parts.collab,
                parts.users_store,
                parts.settings,
                exclude=exclude,
                filters=merged,
            )
            timings["rank"] = time.perf_counter() - clock
            return Pool(picks, profile, liked, references)
        model = None
        if stage == "auto" and cfg.learned.enabled and parts.learned is not None:
            model = parts.learned.current()
        learned = model is not None or stage == "rows"
        ranker = Ranker(parts.library, cfg, parts.collab)
        watched = [m for m in understanding.seen if m in references]
        candidates = ranker.rank(
            # the user's words count too, but not those describing a talk they watched
            turn_query(user_words, query, watched=watched) if query else "",
            merged,
            profile,
            exclude=frozenset(exclude),
            liked=seeds,
            history=[*history, *said],  # the conversation's dislikes count against neighbours
            timings=timings,
            limit=max(cfg.learned.pool, cfg.candidates) if learned else None,
            diversify=not learned,
            popular=cfg.learned.popular if learned else 0,
            matched=cfg.learned.matched if learned else 0,
            conversation=conversation,
            # the history's own likes reach the collaborative scorer through ``history``, in the
            # order it was tuned with (newest first), not the profile's strongest-first order
            collab_seeds=list(dict.fromkeys([*liked_ids, *seeds_of(said)])),
        )
        if not learned or not candidates:
            return Pool(candidates, profile, liked, references)
        clock = time.perf_counter()
        ids = [c.video.id for c in candidates]
        vectors = {**vectors, **parts.library.video_vectors(ids)}
        context = turn_context(
            _searched_turns(user_words, watched, searched=bool(query)),
            embed=parts.library.embed_query,
            vectors=vectors,
            liked=liked_ids,
            disliked=disliked_ids,
            profile=profile,
            popularity=self._popularity(),
            vocabulary=parts.vocabulary() if cfg.learned.reading else None,
            conversation=conversation,
        )
        features = feature_matrix(candidates, vectors, context)
        if model is not None:
            candidates, features = learned_order(model, candidates, features)
            candidates, features = diversified(candidates, features, vectors, cfg.diversity_lambda)
            candidates, features = candidates[: cfg.candidates], features[: cfg.candidates]
        timings["learned"] = time.perf_counter() - clock
        return Pool(candidates, profile, liked, references, features)

    def _popularity(self) -> Mapping[str, float]:
        """The collaborative model's popularity, refreshed every 30 s like the titles."""
        now = time.monotonic()
        if self._popular is None or now - self._popular[0] > POPULARITY_CACHE_S:
            self._popular = (now, self.parts.collab.popularity())
        return self._popular[1]


def _searched_turns(
    user_words: Sequence[str], watched: Sequence[str], *, searched: bool
) -> list[str]:
    """The user's turns, oldest first, as the search embedded them (so that the learned stage's
    dialogue vectors cost no new embedding); without a search, the latest turn alone."""
    if not searched:
        return [" ".join(user_words[-1].split())] if user_words else []
    return [t.text for t in reversed(turn_query(user_words, "", watched=watched))]

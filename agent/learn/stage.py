"""The learned ranking stage of a turn: features of the pool's candidates, then (when a trained
version exists) their order by the learned ranker instead of the hand-tuned blend.

:class:`RankingModel` is what the facade holds: :class:`agent.learn.store.RankerStore` (the
newest version ``vidrec train`` saved) in the product, a :class:`~agent.learn.model.LearnedRanker`
fitted in memory in the evaluation's cross-fitting. ``current()`` None means "no model": the
blend's order stands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from agent.diversity import mmr_rerank
from agent.learn.features import TurnContext
from agent.learn.model import LearnedRanker
from agent.learn.reading import Reading, Vocabulary, read_dialogue
from agent.profile import UserProfile
from agent.types import Candidate

__all__ = ["DIALOGUE_TURNS", "RankingModel", "diversified", "learned_order", "turn_context"]

log = logging.getLogger(__name__)

DIALOGUE_TURNS = 4  # the dialogue vector: the mean of the newest user turns' vectors


class RankingModel(Protocol):
    def current(self) -> LearnedRanker | None:
        """The ranker to order candidates with, or None (keep the blend)."""
        ...


def turn_context(
    user_words: Sequence[str],
    *,
    embed: Callable[[str], np.ndarray],
    vectors: Mapping[str, np.ndarray],
    liked: Sequence[str],
    disliked: Sequence[str],
    profile: UserProfile,
    popularity: Mapping[str, float],
    vocabulary: Vocabulary | None,
    conversation: str = "",
) -> TurnContext:
    """What the features of this turn share.

    Args:
        user_words: the user's turns, oldest first, as the search embedded them
            (``agent.pool``: the turns ``agent.query.turn_query`` searched).
        embed: the library's query embedder.
        vectors: content vectors of (at least) the ``liked`` and ``disliked`` videos.
        liked / disliked: videos the conversation liked / disliked (resolved ids).
        vocabulary: the catalogue's metadata vocabulary (None: no dialogue reading).
        conversation: the whole conversation's text (``agent.collab.requests.conversation_text``,
            embedded already by the similar-requests signal and the conversation candidates).
    """
    # the texts as the search embedded them (agent.query.turn_query), so that the embedder's
    # query cache answers: no new embedding for a turn the search already read
    texts = [" ".join(t.split()) for t in user_words if t.strip()]
    latest = embed(texts[-1]) if texts else None
    dialogue = latest
    if len(texts) > 1:
        earlier = [embed(t) for t in texts[-DIALOGUE_TURNS:]]
        mean = np.mean(earlier, axis=0)
        norm = float(np.linalg.norm(mean))
        dialogue = mean / norm if norm > 0 else latest
    reading = read_dialogue(texts, vocabulary) if vocabulary is not None else Reading()
    return TurnContext(
        latest=latest,
        dialogue=dialogue,
        conversation=embed(conversation) if conversation.strip() else None,
        liked=tuple(vectors[v] for v in liked if v in vectors),
        disliked=tuple(vectors[v] for v in disliked if v in vectors),
        reading=reading,
        popularity=popularity,
        history_liked=frozenset(profile.liked),
        history_disliked=frozenset(profile.disliked),
        history_seen=frozenset(profile.seen),
        user_turns=max(1, len(texts)),
    )


def learned_order(
    model: LearnedRanker, candidates: Sequence[Candidate], features: np.ndarray
) -> tuple[list[Candidate], np.ndarray]:
    """The candidates by the learned score, best first (ties: the blend's order), each with the
    learned score as its ``score``; and their feature rows in that order."""
    scores = model.score(features)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    ranked = [replace(candidates[i], score=float(scores[i])) for i in order]
    return ranked, features[order]


def diversified(
    candidates: Sequence[Candidate],
    features: np.ndarray,
    vectors: Mapping[str, np.ndarray],
    diversity_lambda: float,
) -> tuple[list[Candidate], np.ndarray]:
    """MMR over the learned order (``agent.diversity``, as the blend's order gets it), the learned
    scores scaled to [0, 1] over the pool first so that ``diversity_lambda`` means the same."""
    if diversity_lambda >= 1.0 or len(candidates) < 3:
        return list(candidates), features
    scores = np.array([c.score for c in candidates], dtype=np.float64)
    spread = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
    ids = [c.video.id for c in candidates]
    order = mmr_rerank(ids, relevance, vectors, len(ids), diversity_lambda)
    position = {video_id: n for n, video_id in enumerate(ids)}
    rows = [position[video_id] for video_id in order]
    return [candidates[i] for i in rows], features[rows]

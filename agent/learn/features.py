"""Features of one (conversation, candidate) pair, the learned ranker's input.

One row per candidate of a turn's pool (``agent.ranking.Ranker`` output, in its blend order), one
column per name in :data:`FEATURES`:

* the hand-tuned blend: its score and the candidate's rank by it;
* content: the hybrid-search score and rank, the rank among the similar-to-liked / profile
  vector hits, the cosine of the candidate's vector to the latest user turn, to everything
  the user said and to the whole conversation (both sides, the text the similar-requests signal
  embeds), and the rank among the videos nearest that conversation vector (the query encoder);
* taste: the profile score, the closest liked and disliked video of this conversation (cosine);
* collaborative (what :class:`agent.collab.CollabScorer` gives): the blended score, whether there
  was a signal, the rank among its candidates, the log of its popularity and the popularity rank
  (the stage adds the most popular videos as candidates), the rank among the videos most taken
  in conversations and among those similar requests took (:mod:`agent.collab.requests`); and
  the blend's parts one by one (``Candidate.signals``): each collaborative signal's z-score (ALS
  fold-in, recent neighbours, session co-occurrence, popularity, what people watch next) and the
  0..1 scores of what conversations and similar requests took, which the blend weighs by fixed
  or tuned weights;
* the dialogue reading (:mod:`agent.learn.reading`): tags asked for / said against, the years,
  the speaker;
* the user: whether the history liked, disliked or saw the candidate (normally excluded, seen
  when the user asks again), how many user turns and liked videos the conversation has.

A missing rank is :data:`MISSING_RANK`. A feature the turn cannot compute (no vectors, no reading)
is 0; LightGBM learns what 0 means beside the flags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.collab.blend import SIGNALS
from agent.learn.reading import Reading, agreement
from agent.types import Candidate

__all__ = ["FEATURES", "MISSING_RANK", "READING_FEATURES", "TurnContext", "feature_matrix"]

MISSING_RANK = 200.0
# the blend's parts (``Candidate.signals``): agent.collab.blend.SIGNALS, then the taken signals
SIGNAL_FEATURES = (*SIGNALS, "conversations", "requests")
FEATURES: tuple[str, ...] = (
    "blend_score",
    "blend_rank",
    "search_score",
    "search_rank",
    "similar_rank",
    "sim_latest",
    "sim_dialogue",
    "sim_conversation",
    "conversation_rank",
    "profile_score",
    "liked_sim_max",
    "disliked_sim_max",
    "collab_score",
    "collab_known",
    "collab_rank",
    "popularity_log",
    "popular_rank",
    "conversations_rank",
    "requests_rank",
    "tag_hits",
    "tag_share",
    "tags_avoided",
    "year_agree",
    "speaker_named",
    "history_liked",
    "history_disliked",
    "history_seen",
    "user_turns",
    "liked_in_dialogue",
    *(f"{name}_signal" for name in SIGNAL_FEATURES),
)

READING_FEATURES = ("tag_hits", "tag_share", "tags_avoided", "year_agree", "speaker_named")


@dataclass(frozen=True)
class TurnContext:
    """What the features of a turn share: query vectors, the reading, the user's sets."""

    latest: np.ndarray | None = None  # embedded latest user turn
    dialogue: np.ndarray | None = None  # embedded user turns together
    conversation: np.ndarray | None = None  # embedded conversation text (both sides)
    liked: tuple[np.ndarray, ...] = ()  # vectors of videos liked in this conversation
    disliked: tuple[np.ndarray, ...] = ()
    reading: Reading = field(default_factory=Reading)
    popularity: Mapping[str, float] = field(default_factory=dict)
    history_liked: frozenset[str] = frozenset()
    history_disliked: frozenset[str] = frozenset()
    history_seen: frozenset[str] = frozenset()
    user_turns: int = 1


def _cos(vector: np.ndarray | None, query: np.ndarray | None) -> float:
    if vector is None or query is None:
        return 0.0
    norm = float(np.linalg.norm(vector) * np.linalg.norm(query))
    return float(vector @ query) / norm if norm > 0 else 0.0


def _rank(ranks: Mapping[str, int], source: str) -> float:
    value = ranks.get(source)
    return float(value) if value is not None else MISSING_RANK


def feature_matrix(
    candidates: Sequence[Candidate],
    vectors: Mapping[str, np.ndarray],
    context: TurnContext,
) -> np.ndarray:
    """``len(candidates) x len(FEATURES)`` float32 rows, in the candidates' order."""
    out = np.zeros((len(candidates), len(FEATURES)), dtype=np.float32)
    for row, candidate in enumerate(candidates):
        video_id = candidate.video.id
        vec = vectors.get(video_id)
        ranks = candidate.source_ranks
        agree = agreement(candidate.video, context.reading)
        collab_known = candidate.collab_score != 0.0  # the ranker turns "no signal" into 0
        out[row] = (
            candidate.score,
            float(row),
            candidate.content_score,
            _rank(ranks, "search"),
            _rank(ranks, "similar"),
            _cos(vec, context.latest),
            _cos(vec, context.dialogue),
            _cos(vec, context.conversation),
            _rank(ranks, "conversation"),
            candidate.profile_score,
            max((_cos(vec, v) for v in context.liked), default=0.0),
            max((_cos(vec, v) for v in context.disliked), default=0.0),
            candidate.collab_score,
            1.0 if collab_known else 0.0,
            _rank(ranks, "collab"),
            math.log1p(max(0.0, context.popularity.get(video_id, 0.0))),
            _rank(ranks, "popular"),
            _rank(ranks, "conversations"),
            _rank(ranks, "requests"),
            float(agree.tags),
            agree.tag_share,
            float(agree.avoided),
            float(agree.year),
            float(agree.speaker),
            1.0 if video_id in context.history_liked else 0.0,
            1.0 if video_id in context.history_disliked else 0.0,
            1.0 if video_id in context.history_seen else 0.0,
            float(context.user_turns),
            float(len(context.liked)),
            *(candidate.signals.get(name, 0.0) for name in SIGNAL_FEATURES),
        )
    return out

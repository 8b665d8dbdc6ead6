"""A user's taste as vectors, built from their feedback history.

Each video the user reacted to gets a signed weight, its sign from ``agent.feedback.polarity``: a
like counts +1, a dislike -1, a rating maps [0, 5] to [-1, +1], and a watch adds its watched fraction times ``watch_weight`` (unless the
latest explicit reaction was negative). Weights decay with age (half-life in days). The profile is
the weighted mean of the positive videos' vectors minus ``negative_weight`` times the weighted mean
of the negative ones, normalised; it is both a retrieval query (``Library.search_by_vector``) and a
scoring signal (``UserProfile.score``). Pure functions over numpy: no I/O here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from agent.feedback import RATING_MID, polarity
from agent.types import FeedbackEvent

log = logging.getLogger(__name__)


def normalise(vector: np.ndarray) -> np.ndarray | None:
    """``vector`` scaled to unit length, or None when it is (nearly) zero."""
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-9:
        return None
    return (vector / norm).astype(np.float32)


@dataclass(frozen=True)
class ProfileWeights:
    """How feedback turns into weights (defaults from ``AgentSettings``)."""

    half_life_days: float = 60.0
    negative_weight: float = 0.5
    watch_weight: float = 0.5


@dataclass(frozen=True)
class UserProfile:
    """Taste vectors and the videos behind them.

    Attributes:
        positive: normalised weighted mean of liked / watched / well-rated video vectors.
        negative: normalised weighted mean of disliked / badly rated video (or topic) vectors.
        weights: video id -> signed, recency-decayed weight.
        seen: every video the user already reacted to (watched, liked, disliked, rated).
        negative_weight: how much similarity to ``negative`` is subtracted in ``score``.
    """

    positive: np.ndarray | None = None
    negative: np.ndarray | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()
    negative_weight: float = 0.5

    @property
    def empty(self) -> bool:
        return self.positive is None and self.negative is None

    @property
    def liked(self) -> list[str]:
        """Videos with positive weight, strongest first."""
        return [v for v, w in sorted(self.weights.items(), key=lambda kv: -kv[1]) if w > 0]

    @property
    def disliked(self) -> frozenset[str]:
        return frozenset(v for v, w in self.weights.items() if w < 0)

    @property
    def vector(self) -> np.ndarray | None:
        """The retrieval query: positive minus weighted negative, normalised (None if no positive)."""
        if self.positive is None:
            return None
        if self.negative is None:
            return self.positive
        combined = normalise(self.positive - self.negative_weight * self.negative)
        return self.positive if combined is None else combined

    def score(self, vector: np.ndarray) -> float:
        """Cosine to the positive taste minus ``negative_weight`` times cosine to the negative."""
        value = 0.0
        if self.positive is not None:
            value += float(np.dot(vector, self.positive))
        if self.negative is not None:
            value -= self.negative_weight * float(np.dot(vector, self.negative))
        return value


def _age_days(now: datetime, when: datetime) -> float:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (now - when).total_seconds() / 86400.0)


def event_weights(
    events: Iterable[FeedbackEvent],
    *,
    now: datetime | None = None,
    weights: ProfileWeights = ProfileWeights(),
) -> dict[str, float]:
    """Signed, recency-decayed weight per video from its events (impressions carry none)."""
    now = now or datetime.now(UTC)
    reaction: dict[str, tuple[float, datetime]] = {}  # latest explicit reaction
    watched: dict[str, tuple[float, datetime]] = {}  # latest watch
    for ev in sorted(events, key=lambda e: e.timestamp):
        sign = polarity(ev)  # agent.feedback: for, against, or nothing
        if ev.kind in ("like", "dislike"):
            reaction[ev.video_id] = (float(sign), ev.timestamp)
        elif ev.kind == "rating" and ev.value is not None:
            strength = abs(ev.value - RATING_MID) / RATING_MID  # 0-5 stars -> 0..1 either way
            reaction[ev.video_id] = (sign * strength, ev.timestamp)
        elif ev.kind == "watched":
            fraction = 1.0 if ev.value is None else ev.value
            watched[ev.video_id] = (fraction * weights.watch_weight, ev.timestamp)
    out: dict[str, float] = {}
    for video_id in set(reaction) | set(watched):
        value, when = reaction.get(video_id, (0.0, datetime.min.replace(tzinfo=UTC)))
        if video_id in watched and value >= 0:
            watch_value, watch_when = watched[video_id]
            value += watch_value
            when = max(when, watch_when)
        decay = 0.5 ** (_age_days(now, when) / weights.half_life_days)
        if value:
            out[video_id] = value * decay
    return out


def seen_videos(events: Iterable[FeedbackEvent]) -> frozenset[str]:
    """Videos the user already knows: watched, liked, disliked or rated (not mere impressions)."""
    return frozenset(e.video_id for e in events if e.kind != "impression")


def _weighted_mean(
    items: Sequence[tuple[str, float]], vectors: Mapping[str, np.ndarray]
) -> np.ndarray | None:
    rows = [(vectors[v], w) for v, w in items if v in vectors]
    if not rows:
        return None
    total = sum(w for _, w in rows)
    mean = sum((vec * (w / total) for vec, w in rows), np.zeros_like(rows[0][0]))
    return normalise(np.asarray(mean, dtype=np.float32))


def build_profile(
    events: Sequence[FeedbackEvent],
    vectors: Mapping[str, np.ndarray],
    *,
    now: datetime | None = None,
    weights: ProfileWeights = ProfileWeights(),
    extra_negatives: Sequence[np.ndarray] = (),
) -> UserProfile:
    """Build the taste profile from events and the videos' vectors (``Library.video_vectors``).

    Args:
        events: the user's feedback (history plus anything said in this conversation).
        vectors: video id -> normalised video vector; videos without one are skipped.
        now: the reference time for recency decay (default: now, UTC).
        weights: decay and negative weighting.
        extra_negatives: further normalised vectors to steer away from (e.g. disliked topics).
    """
    per_video = event_weights(events, now=now, weights=weights)
    positives = [(v, w) for v, w in per_video.items() if w > 0]
    negatives = [(v, -w) for v, w in per_video.items() if w < 0]
    positive = _weighted_mean(positives, vectors)
    negative = _weighted_mean(negatives, vectors)
    if extra_negatives:
        parts = [np.asarray(v, dtype=np.float32) for v in extra_negatives]
        if negative is not None:
            parts.append(negative)
        negative = normalise(np.mean(parts, axis=0))
    return UserProfile(
        positive=positive,
        negative=negative,
        weights=per_video,
        seen=seen_videos(events),
        negative_weight=weights.negative_weight,
    )

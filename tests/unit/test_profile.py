from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agent.profile import ProfileWeights, build_profile, event_weights, seen_videos
from agent.types import FeedbackEvent

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def ev(video: str, kind: str, value: float | None = None, days_ago: float = 0) -> FeedbackEvent:
    return FeedbackEvent("u", video, kind, value, NOW - timedelta(days=days_ago))  # type: ignore[arg-type]


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


VECS = {"a": unit(1, 0, 0), "b": unit(0, 1, 0), "c": unit(0, 0, 1), "d": unit(1, 1, 0)}


def test_signs_and_watch_fraction() -> None:
    w = event_weights(
        [ev("a", "like"), ev("b", "dislike"), ev("c", "watched", 0.5), ev("d", "impression")],
        now=NOW,
        weights=ProfileWeights(watch_weight=0.5),
    )
    assert w["a"] == pytest.approx(1.0)
    assert w["b"] == pytest.approx(-1.0)
    assert w["c"] == pytest.approx(0.25)
    assert "d" not in w  # impressions carry no taste


def test_latest_reaction_wins_and_dislike_cancels_watch() -> None:
    w = event_weights(
        [ev("a", "like", days_ago=2), ev("a", "dislike", days_ago=1), ev("a", "watched", 1.0)],
        now=NOW,
    )
    assert w["a"] < 0
    w2 = event_weights([ev("a", "dislike", days_ago=2), ev("a", "like", days_ago=1)], now=NOW)
    assert w2["a"] > 0


def test_ratings_map_around_the_middle() -> None:
    w = event_weights([ev("a", "rating", 5.0), ev("b", "rating", 1.0)], now=NOW)
    assert w["a"] == pytest.approx(1.0)
    assert w["b"] == pytest.approx(-0.6)


def test_recency_halves_weight_per_half_life() -> None:
    w = event_weights(
        [ev("a", "like", days_ago=30), ev("b", "like")],
        now=NOW,
        weights=ProfileWeights(half_life_days=30),
    )
    assert w["a"] == pytest.approx(0.5)
    assert w["b"] == pytest.approx(1.0)


def test_profile_points_to_recent_likes_and_away_from_dislikes() -> None:
    events = [ev("a", "like"), ev("b", "like", days_ago=120), ev("c", "dislike")]
    profile = build_profile(events, VECS, now=NOW, weights=ProfileWeights(half_life_days=30))
    assert profile.positive is not None and profile.negative is not None
    assert profile.vector is not None
    assert float(np.linalg.norm(profile.vector)) == pytest.approx(1.0, abs=1e-5)
    # the recent like dominates the old one
    assert profile.score(VECS["a"]) > profile.score(VECS["b"])
    # the disliked direction scores below a neutral one
    assert profile.score(VECS["c"]) < 0
    assert profile.liked == ["a", "b"]
    assert profile.disliked == {"c"}
    assert profile.seen == {"a", "b", "c"}


def test_extra_negative_topics_lower_the_score() -> None:
    plain = build_profile([ev("a", "like")], VECS, now=NOW)
    steered = build_profile([ev("a", "like")], VECS, now=NOW, extra_negatives=[VECS["d"]])
    assert steered.score(VECS["d"]) < plain.score(VECS["d"])


def test_empty_history_gives_empty_profile() -> None:
    profile = build_profile([], VECS, now=NOW)
    assert profile.empty and profile.vector is None
    assert profile.score(VECS["a"]) == 0.0


def test_videos_without_vectors_are_skipped() -> None:
    profile = build_profile([ev("zzz", "like")], VECS, now=NOW)
    assert profile.positive is None
    assert profile.seen == {"zzz"}


def test_seen_ignores_impressions() -> None:
    assert seen_videos([ev("a", "impression"), ev("b", "watched", 0.1)]) == {"b"}

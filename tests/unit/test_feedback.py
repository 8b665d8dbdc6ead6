"""The one definition of a positive / negative event, and that its users follow it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.coldstart import popularity_from_events
from agent.collab import event_strength
from agent.feedback import polarity
from agent.profile import event_weights
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, FeedbackKind

NOW = datetime(2025, 1, 1, tzinfo=UTC)

TABLE: list[tuple[FeedbackKind, float | None, int]] = [
    ("like", None, 1),
    ("dislike", None, -1),
    ("watched", None, 1),
    ("watched", 0.4, 1),
    ("watched", 0.0, 0),
    ("rating", 5.0, 1),
    ("rating", 2.5, 1),
    ("rating", 2.0, -1),
    ("rating", 0.5, -1),
    ("rating", None, 0),
    ("impression", None, 0),
]


def event(kind: FeedbackKind, value: float | None, user: str = "u") -> FeedbackEvent:
    return FeedbackEvent(user, "v", kind, value, NOW)


@pytest.mark.parametrize(("kind", "value", "expected"), TABLE)
def test_polarity_table(kind: FeedbackKind, value: float | None, expected: int) -> None:
    assert polarity(event(kind, value)) == expected


@pytest.mark.parametrize(("kind", "value", "expected"), TABLE)
def test_the_collaborative_strength_has_the_sign_of_the_polarity(
    kind: FeedbackKind, value: float | None, expected: int
) -> None:
    strength = event_strength(event(kind, value), CollabSettings())
    assert (strength > 0) - (strength < 0) == expected


@pytest.mark.parametrize(("kind", "value", "expected"), TABLE)
def test_cold_start_counts_exactly_the_positive_events(
    kind: FeedbackKind, value: float | None, expected: int
) -> None:
    assert popularity_from_events([event(kind, value)]) == ({"v": 1.0} if expected > 0 else {})


@pytest.mark.parametrize(("kind", "value", "expected"), TABLE)
def test_the_profile_never_weighs_against_the_polarity(
    kind: FeedbackKind, value: float | None, expected: int
) -> None:
    weight = event_weights([event(kind, value)], now=NOW).get("v", 0.0)
    assert weight * expected >= 0 and (weight == 0 or expected != 0)

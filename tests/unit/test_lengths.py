from __future__ import annotations

import pytest

from agent.lengths import read_vague_length, strip_vague_length
from agent.settings import LengthSettings
from agent.understand import parse_rules

CFG = LengthSettings()


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        (
            "I'd like something inspiring about the ocean, not too long",
            CFG.not_too_long_max_minutes,
        ),
        ("nothing too long about robots", CFG.not_too_long_max_minutes),
        ("a short talk on bees", CFG.short_max_minutes),
        ("something quick on negotiation", CFG.short_max_minutes),
        ("a brief one about sleep", CFG.short_max_minutes),
        ("shorter ones please", CFG.short_max_minutes),
        ("I only have a few minutes, anything on design?", CFG.few_minutes_max_minutes),
        ("a bite-sized talk on happiness", CFG.few_minutes_max_minutes),
        ("something for my coffee break about music", CFG.few_minutes_max_minutes),
        ("something to watch over lunch about space", CFG.lunch_max_minutes),
        ("I have half an hour, teach me about the brain", CFG.half_hour_max_minutes),
        ("half an hour free, teach me about creativity", CFG.half_hour_max_minutes),
        ("I've got an hour, anything on history?", CFG.hour_max_minutes),
        ("I'm short on time, something on leadership", CFG.not_too_long_max_minutes),
    ],
)
def test_vague_upper_limits(text: str, minutes: float) -> None:
    assert read_vague_length(text).max_duration == minutes * 60
    assert read_vague_length(text).min_duration is None
    assert parse_rules(text).max_duration == minutes * 60


@pytest.mark.parametrize(
    "text",
    [
        "something long about the universe",
        "a deep dive into climate science",
        "an in-depth talk on economics",
        "longer ones please",
        "a lengthy lecture on philosophy",
    ],
)
def test_vague_lower_limits(text: str) -> None:
    assert read_vague_length(text).min_duration == CFG.long_min_minutes * 60
    assert read_vague_length(text).max_duration is None
    assert parse_rules(text).min_duration == CFG.long_min_minutes * 60


@pytest.mark.parametrize(
    "text",
    [
        "how long does it take to learn a language",
        "long-term thinking and the future",
        "short-term memory and the brain",
        "a short story writer on fiction",
        "the secret of longevity",
        "people who lived a long time ago",
        "not too short please, something on art",
        "I long for the ocean",
        "talks about long distance running",
        "no longer afraid of public speaking",
    ],
)
def test_words_that_only_look_like_lengths(text: str) -> None:
    assert read_vague_length(text).max_duration is None
    assert read_vague_length(text).min_duration is None


def test_a_number_wins_over_a_vague_phrase() -> None:
    rules = parse_rules("a short one, under 25 minutes")
    assert rules.max_duration == 25 * 60
    assert parse_rules("something long, at least 40 minutes").min_duration == 40 * 60


def test_limits_come_from_settings() -> None:
    custom = LengthSettings(short_max_minutes=4, long_min_minutes=30)
    assert read_vague_length("a short talk", custom).max_duration == 240
    assert parse_rules("a deep dive on AI", custom).min_duration == 1800


def test_a_length_is_not_a_topic_to_avoid() -> None:
    assert parse_rules("about whales, not too lengthy").avoid == ()
    assert parse_rules("about whales, not too long").max_duration is not None


def test_length_phrases_are_not_searched() -> None:
    assert (
        strip_vague_length("something quick on negotiation over lunch")
        == "something on negotiation"
    )

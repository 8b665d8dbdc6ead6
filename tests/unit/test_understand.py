"""The understander reading a turn through the model: the model's form is normalised and kept
only where the user's words ground it, rules fill what it missed. The parser-first modes and the
rules parser on its own: ``test_understand_parser.py``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from agent.llm.base import LLMOutputError
from agent.settings import LengthSettings
from agent.text import content_words
from agent.types import Message
from agent.understand import (
    UNDERSTAND_SCHEMA,
    Understander,
    merge_filters,
    normalise_understanding,
    parse_rules,
    taste_only,
)
from prompts.loader import load_prompt
from retrieval.types import SearchFilters
from tests.fakes.llm import FakeLLM
from tests.understand_data import form

UNDERSTAND = load_prompt("understand").tag


def understand(text: str | list[Message], data: Any) -> Any:
    llm = FakeLLM().enqueue(data)
    messages = [Message("user", text)] if isinstance(text, str) else text
    result = Understander(llm, mode="model").understand(messages)
    return result, llm


def test_llm_form_becomes_understanding_with_seconds() -> None:
    result, llm = understand(
        "Something on space exploration under 15 minutes, in Spanish, after 2015, no politics",
        form(
            search_text="space exploration",
            max_minutes=15,
            language="Spanish",
            from_year=2015,
            avoid_topics=["politics"],
        ),
    )
    assert result.wants_recommendations
    assert result.search_text == "space exploration"
    assert result.filters.max_duration == 900.0
    assert result.filters.languages == ("es",)
    assert result.filters.published_after == date(2015, 1, 1)
    assert result.filters.tags_none == ("politics",)
    call = llm.calls[0]
    assert call.tag == UNDERSTAND
    assert call.schema == UNDERSTAND_SCHEMA
    assert "under 15 minutes" in call.last_user


def test_hours_are_understood() -> None:
    result, _ = understand("a long one, at least an hour", form(search_text="long", min_minutes=60))
    assert result.filters.min_duration == 3600.0


@pytest.mark.parametrize("minutes", [0, -5, 100000])
def test_nonsense_durations_are_dropped(minutes: float) -> None:
    result, _ = understand(f"talks about bees {minutes} minutes", form(max_minutes=minutes))
    assert result.filters.max_duration is None


def test_unstated_limits_are_dropped() -> None:
    """A 0.5B model likes to invent filters; only what the user wrote is kept."""
    result, _ = understand(
        "talks about bees",
        form(search_text="bees", max_minutes=10, from_year=2012, language="fr"),
    )
    assert result.filters == SearchFilters()


def test_rules_fill_what_the_model_missed() -> None:
    result, _ = understand(
        "anything on climate change shorter than 12 minutes from before 2010?",
        form(search_text="climate change"),
    )
    assert result.filters.max_duration == 720.0
    assert result.filters.published_before == date(2009, 12, 31)


def test_contradictory_durations_fall_back_to_rules() -> None:
    result, _ = understand(
        "cooking under 10 minutes", form(search_text="cooking", max_minutes=10, min_minutes=10)
    )
    assert result.filters.max_duration == 600.0
    assert result.filters.min_duration is None


def test_empty_search_text_falls_back_to_user_words() -> None:
    result, _ = understand("recommend me talks about octopus intelligence", form(search_text=""))
    assert "octopus intelligence" in result.search_text


def test_bare_refinement_carries_previous_topic() -> None:
    conversation = [
        Message("user", "talks about octopus intelligence"),
        Message("assistant", "Here are three."),
        Message("user", "shorter ones please"),
    ]
    result, _ = understand(conversation, form(search_text="shorter ones"))
    assert "octopus" in result.search_text


def test_chitchat_is_not_a_request() -> None:
    result, _ = understand("thanks, that was great!", form(wants_recommendations=False))
    assert not result.wants_recommendations
    assert result.search_text == ""


def test_request_cue_overrides_a_wrong_false() -> None:
    result, _ = understand(
        "can you recommend something about volcanoes?",
        form(wants_recommendations=False, search_text="volcanoes"),
    )
    assert result.wants_recommendations
    assert result.search_text == "volcanoes"


def test_items_must_be_grounded_in_what_the_user_said() -> None:
    result, _ = understand(
        "I loved Do schools kill creativity, but I disliked the one about dieting. "
        "Already seen Averting the climate crisis. More on education please",
        form(
            search_text="education",
            liked=["Do schools kill creativity", "Inception"],
            disliked=["dieting", "education"],
            seen=["Averting the climate crisis", "  "],
        ),
    )
    assert result.liked == ("Do schools kill creativity",)  # "Inception" never said
    assert result.disliked == ("dieting",)  # repeating the search topic is not a dislike
    assert result.seen == ("Averting the climate crisis",)


def test_include_seen_needs_the_user_to_ask() -> None:
    asked, _ = understand("I want to rewatch the pasta one", form(search_text="pasta"))
    assert asked.include_seen
    not_asked, _ = understand("pasta recipes", form(search_text="pasta", include_seen=True))
    assert not not_asked.include_seen


def test_unusable_model_output_falls_back_to_rules() -> None:
    llm = FakeLLM().enqueue(LLMOutputError("bad json"))
    result = Understander(llm, mode="model").understand(
        [Message("user", "jazz history under 20 minutes")]
    )
    assert result.wants_recommendations
    assert "jazz history" in result.search_text
    assert result.filters.max_duration == 1200.0


def test_garbage_types_are_tolerated() -> None:
    result = normalise_understanding(
        {"max_minutes": "ten", "liked": "x", "language": 3, "from_year": True},
        [Message("user", "science talks")],
    )
    assert result.filters == SearchFilters()
    assert result.liked == ()


def test_given_filters_win_and_exclusions_add_up() -> None:
    understood = SearchFilters(
        max_duration=600, tags_none=("politics",), exclude_ids=frozenset("a")
    )
    given = SearchFilters(max_duration=300, tags_none=("war",), exclude_ids=frozenset("b"))
    merged = merge_filters(understood, given)
    assert merged.max_duration == 300
    assert merged.tags_none == ("politics", "war")
    assert merged.exclude_ids == {"a", "b"}
    assert merge_filters(understood, None) is understood


def test_topics_to_avoid_from_the_phrase_when_the_model_misses_them() -> None:
    result, _ = understand(
        "space exploration under 15 minutes, nothing about politics",
        form(search_text="space exploration", max_minutes=15),
    )
    assert result.filters.tags_none == ("politics",)
    assert parse_rules("no more than 10 minutes, not too long").avoid == ()
    assert parse_rules("I want no violence and no war").avoid == ("violence", "war")


def test_already_seen_is_not_a_like() -> None:
    """What the real 0.5B model answered for this turn: the seen talk put under "liked"."""
    conversation = [
        Message("user", "show me cooking videos"),
        Message("assistant", "Here are some cooking videos."),
        Message("user", "shorter ones please, I already saw Baking bread at home"),
    ]
    result, _ = understand(
        conversation,
        form(search_text="shorter cooking videos", max_minutes=12, liked=["Baking bread at home"]),
    )
    assert result.seen == ("Baking bread at home",)
    assert result.liked == ()
    # "12" was never said; "shorter" is the vague "short" limit of the settings (agent.lengths)
    assert result.filters.max_duration == LengthSettings().short_max_minutes * 60


def test_naming_a_kind_of_video_is_a_request() -> None:
    """The real 0.5B model answered wants_recommendations=false for exactly this turn."""
    result, _ = understand(
        "a short talk on meditation and mindfulness, 10 minutes max",
        form(wants_recommendations=False, search_text=""),
    )
    assert result.wants_recommendations
    assert "meditation" in result.search_text
    assert result.filters.max_duration == 600.0


@pytest.mark.parametrize(
    "turn",
    [
        "how to break a bad habit like smoking",
        "how do I sleep better?",
        "teach me about black holes",
        "tell me about the history of jazz",
    ],
)
def test_a_how_to_question_is_a_request(turn: str) -> None:
    """The real 0.5B model read "how to break a bad habit like smoking" as small talk."""
    result, _ = understand(turn, form(wants_recommendations=False, search_text=""))
    assert result.wants_recommendations
    assert set(content_words(result.search_text)) == set(content_words(turn))


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        ("I'd like something in the same spirit as what I liked before", True),
        ("more like the ones I enjoyed", True),
        ("surprise me with something based on my taste", True),
        ("something about space like what I liked before", False),  # names a topic
        ("more data about the world like that one", False),
        ("a talk on the spirit of adventure", False),  # "spirit" here is the topic
    ],
)
def test_taste_only_requests_are_told_from_requests_with_a_topic(turn: str, expected: bool) -> None:
    assert taste_only(turn) is expected
    result, _ = understand(turn, form(search_text=turn))
    assert result.wants_recommendations
    assert (result.search_text == "") is expected


def test_the_schema_bounds_a_degenerate_search_text() -> None:
    from agent.llm.base import schema_error

    def answer(search_text: str) -> str:
        return json.dumps(form(search_text=search_text))

    # what qwen2.5-0.5b wrote for a ReDial turn until max_tokens: a constrained decoder may not
    _, why = schema_error(
        answer("rare horror " + "psychological thriller " * 20), UNDERSTAND_SCHEMA
    )
    assert why is not None and "search_text" in why
    data, why = schema_error(answer("rare horror psychological thriller"), UNDERSTAND_SCHEMA)
    assert why is None and data["search_text"] == "rare horror psychological thriller"

"""The rules parser, and the parser-first modes of the understander: which turns the parser
reads alone, which it hands to the model, and what it makes of references to talks."""

from __future__ import annotations

from datetime import date

import pytest

from agent.settings import LengthSettings
from agent.types import Message
from agent.understand import Understander, needs_model, parse_rules
from retrieval.errors import ConfigError
from tests.fakes.llm import FakeLLM
from tests.understand_data import form


def test_parse_rules_phrases() -> None:
    rules = parse_rules("something under ten minutes, not in french, since 2014")
    assert rules.max_duration == 600.0
    assert rules.published_after == date(2014, 1, 1)
    assert parse_rules("over half an hour please").min_duration == 1800.0
    assert parse_rules("hello!").wants_recommendations is False


def test_auto_mode_reads_a_plain_turn_without_the_model() -> None:
    llm = FakeLLM()
    turn = "I'd like something inspiring about the ocean, not too long"
    result = Understander(llm).understand([Message("user", turn)])
    assert llm.calls == []
    assert result.source == "parser"
    assert result.wants_recommendations
    assert result.filters.max_duration == LengthSettings().not_too_long_max_minutes * 60
    assert "not too long" not in result.search_text and "ocean" in result.search_text


@pytest.mark.parametrize(
    "turn",
    [
        "more like the stress one you showed me",
        "I already saw the one by the astronaut about fear and danger, so not that one",
        "I loved the talk about octopuses",
        "something about music instead",
    ],
)
def test_auto_mode_asks_the_model_what_the_parser_cannot_decide(turn: str) -> None:
    llm = FakeLLM().enqueue(form(wants_recommendations=True, search_text="music"))
    result = Understander(llm).understand([Message("user", turn)])
    assert len(llm.calls) == 1
    assert result.source == "model"


@pytest.mark.parametrize(
    "turn",
    [
        "how to break a bad habit by being curious instead of using willpower",
        "I'd like something in the same spirit as what I liked before",
    ],
)
def test_look_alike_cues_stay_with_the_parser(turn: str) -> None:
    assert needs_model([Message("user", turn)]) is None


def test_parser_mode_never_calls_the_model_and_reads_references() -> None:
    llm = FakeLLM()
    parser = Understander(llm, mode="parser")
    more = parser.understand([Message("user", "more like the stress one you showed me")])
    assert more.liked == ("stress",)
    seen = parser.understand(
        [
            Message(
                "user",
                "I already saw the one by the astronaut about fear and danger, so not that one",
            )
        ]
    )
    assert seen.seen == ("the one by the astronaut about fear and danger",)
    assert llm.calls == []


def test_a_later_turn_refines_the_previous_request() -> None:
    conversation = [
        Message("user", "I'd like something about the ocean"),
        Message("assistant", "Here are a few talks."),
        Message("user", "actually it needs to be short, under 10 minutes"),
    ]
    result = Understander(None, mode="parser").understand(conversation)
    assert "ocean" in result.search_text
    assert result.filters.max_duration == 600.0


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown understanding mode"):
        Understander(None, mode="guess")


def test_a_talk_said_seen_in_an_earlier_turn_stays_seen() -> None:
    conversation = [
        Message("user", "I already watched the one about whales singing across the ocean"),
        Message("assistant", "Here are a few talks."),
        Message("user", "anything about rockets and space travel?"),
    ]
    result = Understander(None, mode="parser").understand(conversation)
    assert result.seen == ("whales singing across the ocean",)
    assert not result.liked


@pytest.mark.parametrize(
    ("said", "mention"),
    [
        (
            "I saw the one about octopus camouflage. Anything on deep sea fish?",
            "octopus camouflage",
        ),
        (
            "watched the one where the astronaut went blind on a spacewalk because the tears "
            "would not fall, loved it",
            "the one where the astronaut went blind on a spacewalk because the tears would not "
            "fall",
        ),
        (
            "we already watched the talk by the bee lady so something on ants",
            "the talk by the bee lady",
        ),
        ("I saw a talk about octopus camouflage once, can you find it?", None),  # the one sought
        (
            "I just finished the one about octopus camouflage, anything on deep sea fish?",
            "octopus camouflage",
        ),
        (
            "already did the octopus camouflage one, so something on squid",
            "the octopus camouflage one",
        ),
        ("I've just finished the talk by the bee lady. More on ants?", "the talk by the bee lady"),
        (
            "we finished the one where a honeybee dances, and now ants",
            "the one where a honeybee dances",
        ),
        ("I already did my homework on bees, any talks about ants?", None),  # no talk named
        ("I finished a talk about octopus camouflage, what else is there?", None),
    ],
)
def test_the_parser_reads_a_watched_talk_said_in_common_ways(
    said: str, mention: str | None
) -> None:
    seen = parse_rules(said).seen
    assert seen == ((mention,) if mention else ())


def test_an_opinion_about_a_named_title_stays_with_the_parser() -> None:
    def names(text: str) -> bool:
        return "Heat (1995)" in text

    assert needs_model([Message("user", "I loved Heat (1995)")]) == "I loved"
    assert needs_model([Message("user", "I loved Heat (1995)")], names) is None
    # an opinion about something the clause does not name still needs the model
    assert needs_model([Message("user", "I loved Heat (1995). I liked that one too")], names)
    llm = FakeLLM()
    result = Understander(llm, names_title=names).understand(
        [Message("user", "I really enjoyed Heat (1995), any thrillers?")]
    )
    assert llm.calls == [] and result.source == "parser"

"""The request a turn's cards and rerank are explained against leaves out a watched talk's clause."""

from __future__ import annotations

from agent.pool import request_text
from agent.types import Message, TurnUnderstanding


def test_the_clause_about_a_watched_talk_is_not_part_of_the_request() -> None:
    said = (
        "something about why we procrastinate, I already watched the one about schools killing "
        "creativity"
    )
    understanding = TurnUnderstanding(
        search_text="procrastination", seen=("the one about schools killing creativity",)
    )
    text = request_text([Message("user", said)], understanding)
    assert "procrastinate" in text
    assert "creativity" not in text and "schools" not in text


def test_without_a_watched_talk_the_request_is_the_latest_turn_and_the_search_text() -> None:
    understanding = TurnUnderstanding(search_text="habits of original thinkers")
    text = request_text([Message("user", "why do we put things off")], understanding)
    assert text == "why do we put things off (habits of original thinkers)"

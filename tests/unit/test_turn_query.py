"""The texts a turn searches: the user's words first, earlier turns and the rewrite lighter."""

from __future__ import annotations

import pytest

from agent.query import EARLIER_DECAY, LATEST, REWRITE, turn_query
from retrieval.types import QueryText


def test_latest_turn_in_full_then_earlier_turns_then_the_rewrite() -> None:
    texts = turn_query(
        ["a talk about octopus intelligence", "the one  where it   escapes a jar"],
        "octopus escapes jar",
    )
    assert texts == [
        QueryText("the one where it escapes a jar", LATEST),
        QueryText("a talk about octopus intelligence", LATEST * EARLIER_DECAY),
    ]  # the rewrite adds no word the user did not write: left out


def test_a_rewrite_with_new_words_joins_at_a_lower_weight_never_alone() -> None:
    texts = turn_query(["something like that jar thing"], "octopus problem solving")
    assert texts[0] == QueryText("something like that jar thing", LATEST)
    assert texts[1] == QueryText("octopus problem solving", REWRITE)
    assert max(t.weight for t in texts[1:]) < texts[0].weight


def test_a_bare_refinement_leans_on_the_earlier_turn_and_the_rewrite() -> None:
    texts = turn_query(["talks on climate policy", "shorter ones?"], "climate policy carbon tax")
    assert [t.text for t in texts] == ["talks on climate policy", "climate policy carbon tax"]
    assert texts[0].weight == LATEST * EARLIER_DECAY
    only_rewrite = turn_query(["?"], "climate")
    assert only_rewrite == [QueryText("climate", LATEST)]
    assert turn_query([], "") == []


def test_no_earlier_turn_weighs_as_much_as_the_latest_and_older_ones_weigh_less() -> None:
    turns = ["first about bees", "then about ants", "now wasps", "latest about hornets"]
    texts = turn_query(turns, "")
    weights = [t.weight for t in texts]
    assert texts[0].text == "latest about hornets" and weights[0] == LATEST
    assert weights == sorted(weights, reverse=True) and len(set(weights)) == len(weights)


def test_the_words_that_describe_a_watched_talk_are_not_searched() -> None:
    turns = [
        "any good space talks?",
        "I already watched the one where the astronaut went blind, the tears would not fall",
        "something else: a screen with petals that blocks starlight",
    ]
    watched = ["the one where the astronaut went blind"]
    texts = turn_query(turns, f"{turns[-1]} {turns[-2]}", watched=watched)
    searched = " ".join(t.text for t in texts)
    assert "astronaut" not in searched and "tears" not in searched
    assert texts[0] == QueryText(turns[-1], LATEST)
    assert QueryText("any good space talks?", LATEST * EARLIER_DECAY**2) in texts
    # the parser's rewrite (the latest turn and the one before) keeps what is asked now
    rewrite = turn_query(["?"], f"{turns[-1]} {turns[-2]}", watched=watched)
    assert rewrite == [QueryText(turns[-1], LATEST)]


def test_only_the_watched_clause_goes_and_the_rest_of_the_turn_stays() -> None:
    texts = turn_query(
        ["talks on the sea, not the one about octopus camouflage. deep sea fish maybe?"],
        "",
        watched=["about octopus camouflage"],
    )
    assert [t.text for t in texts] == ["talks on the sea. deep sea fish maybe?"]
    texts = turn_query(
        ["I've seen the one about octopus camouflage, so anything on deep sea fish?"],
        "",
        watched=["octopus camouflage"],
    )
    assert [t.text for t in texts] == ["so anything on deep sea fish?"]


def test_a_so_inside_the_description_does_not_end_it() -> None:
    said = "I've seen the one about perfect girls, where she deleted it so it looked like nothing"
    assert turn_query([said], "", watched=["perfect girls"]) == []


@pytest.mark.parametrize(
    ("said", "watched"),
    [
        (
            "Something on deep sea fish since I already did the octopus camouflage one",
            "the octopus camouflage one",
        ),
        (
            "Something on deep sea fish since I just finished the one about octopus camouflage",
            "octopus camouflage",
        ),
    ],
)
def test_a_finished_talk_goes_from_its_cue_and_the_request_before_it_stays(
    said: str, watched: str
) -> None:
    assert turn_query([said], "", watched=[watched]) == [
        QueryText("Something on deep sea fish since", LATEST)
    ]

"""Titles named in a conversation: found without the model, read for polarity, and carried to the
ranker (collaborative seeds, exclusion), so a disliked title never pulls its neighbours up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.collab import Collaborative, train
from agent.feedback import polarity
from agent.mentions import (
    TitleSpotter,
    clause_polarity,
    conversation_mentions,
    mention_events,
    unread,
)
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, Message, TurnUnderstanding
from retrieval.types import Video

VIDEOS = [
    Video("m1", "The Matrix (1999)"),
    Video("m2", "Inception (2010)"),
    Video("m3", "It (2017)"),
    Video("m4", "It (1990)"),
    Video("m5", "Up (2009)"),
    Video("m6", "The Matrix Reloaded (2003)"),
    Video("m7", "Heat (1995)"),
    Video("m8", "Jack (1996)"),
    Video("m9", "Date Night (2010)"),
    Video("m10", "Star Wars"),
    Video("m11", "I'm Here (2010)"),
]


def test_titles_are_found_with_or_without_their_year() -> None:
    spot = TitleSpotter(VIDEOS)
    assert spot.find("I loved The Matrix (1999) and Inception") == ["m1", "m2"]
    assert spot.find("The Matrix Reloaded was weaker than The Matrix") == ["m6", "m1"]
    assert spot.find("the matrix reloaded was weaker than the matrix") == ["m6"]
    # an ordinary word is no title, and a title two videos share names neither
    assert spot.find("it was up to you, I felt the heat") == []
    assert spot.find("have you seen It?") == []
    assert spot.find("It (2017) scared me") == ["m3"]
    assert spot.find("I think Heat is a classic") == ["m7"]
    assert spot.find("Heat is a classic") == []  # a sentence's first word is capitalised anyway
    assert spot.find("I saw it with Jack Nicholson") == []  # part of a name
    assert spot.find("we had a date night") == []
    assert spot.find("Date Night (2010) was fun, so was Date Night") == ["m9"]
    assert spot.find("star wars") == [] and spot.find("loved Star Wars!") == ["m10"]
    assert spot.find("Hi, I'm here to help") == []  # three words, one that means anything


def test_a_clause_against_a_title_is_negative() -> None:
    assert clause_polarity("I hated The Matrix") == -1
    assert clause_polarity("not a fan of Inception") == -1
    assert clause_polarity("have you seen Inception") == 1
    assert clause_polarity("Heat was too long") == -1
    assert clause_polarity("something like Heat, not too long") == 1  # a length asked for
    assert clause_polarity("I've seen The Matrix, loved it") == 1


def test_conversation_mentions_keep_each_title_once_with_the_users_latest_word() -> None:
    spot = TitleSpotter(VIDEOS)
    messages = [
        Message("user", "I loved The Matrix (1999) but Inception was boring."),
        Message("assistant", "Have you seen Heat (1995)?"),
        Message("user", "Yes! And Inception grew on me."),
    ]
    mentions = conversation_mentions(messages, spot)
    assert [(m.video_id, m.by_user, m.polarity) for m in mentions] == [
        ("m1", True, 1),
        ("m2", True, 1),  # the later clause wins
        ("m7", False, 1),
    ]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    events = mention_events(
        conversation_mentions([Message("user", "I hated Inception")], spot), now
    )
    assert [(e.video_id, polarity(e)) for e in events] == [("m2", -1)]


def _crowd_recommender(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Crowd A likes creativity + pasta, crowd B climate + classroom (as in test_collab)."""
    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM

    rec = build_recommender(
        tmp_path, FakeLLM(), rerank=False, diversity_lambda=1.0, collab_weight=5.0
    )
    crowd = [
        FeedbackEvent(f"{g}{u}", v, "like", None, datetime(2026, 1, 1, 0, m, tzinfo=UTC))
        for g, videos in (("a", ("creativity", "pasta")), ("b", ("climate", "classroom")))
        for u in range(10)
        for m, v in enumerate(videos)
    ]
    cfg = CollabSettings(factors=2, iterations=20, regularization=0.1, threads=1)
    assert isinstance(rec.collab, Collaborative)
    train(crowd, cfg, rec.collab.store, tune=False)
    return rec


def test_a_title_named_without_a_like_seeds_the_collaborative_model(tmp_path: Path) -> None:
    rec = _crowd_recommender(tmp_path)
    quiet = TurnUnderstanding(search_text="")  # nothing understood: the titles alone must count

    def collab_of(text: str) -> tuple[dict[str, float], list[str]]:
        ranked = rec.rank(text, "u-new", k=20, rerank=False, understanding=quiet)
        return {c.video.id: c.collab_score for c in ranked.candidates}, [
            c.video.id for c in ranked.candidates
        ]

    scores, order = collab_of("Yesterday I watched Do schools kill creativity? Anything else?")
    assert "creativity" not in order  # named: the user knows it
    assert scores["pasta"] > scores.get("classroom", -np.inf)  # its crowd's other video
    rec.close()


def test_a_disliked_title_does_not_pull_its_neighbours_up(tmp_path: Path) -> None:
    rec = _crowd_recommender(tmp_path)
    quiet = TurnUnderstanding(search_text="")

    def collab_of(text: str) -> dict[str, float]:
        ranked = rec.rank(text, "u-new", k=20, rerank=False, understanding=quiet)
        return {c.video.id: c.collab_score for c in ranked.candidates}

    loved = collab_of("I loved Do schools kill creativity?")
    assert loved["pasta"] > loved.get("classroom", -np.inf)  # a liked title pulls its crowd up
    liked_only = collab_of("I loved Averting the climate crisis.")
    both = collab_of(
        "I loved Averting the climate crisis. I hated Do schools kill creativity, so boring."
    )
    assert liked_only["classroom"] > liked_only.get("pasta", -np.inf)
    assert "creativity" not in both
    assert both["classroom"] > both.get("pasta", -np.inf)
    # the disliked title's crowd is not pulled up (scores are z-scored: equal up to rounding)
    assert both.get("pasta", -np.inf) <= liked_only.get("pasta", -np.inf) + 1e-6
    rec.close()


def test_with_opinions_off_a_disliked_title_pulls_its_neighbours_like_a_liked_one(
    tmp_path: Path,
) -> None:
    """``agent.opinions`` off (the eval's ``nolikes`` row): the same turn, no dislike read."""
    from tests.agent_data import with_settings

    rec = _crowd_recommender(tmp_path)
    unread_rec = with_settings(rec, rec.llm, opinions=False)
    quiet = TurnUnderstanding(search_text="")
    hated = "I loved Averting the climate crisis. I hated Do schools kill creativity, so boring."

    def collab_of(recommender: Any, text: str) -> dict[str, float]:
        ranked = recommender.rank(text, "u-new", k=20, rerank=False, understanding=quiet)
        return {c.video.id: c.collab_score for c in ranked.candidates}

    read, unread_scores = collab_of(rec, hated), collab_of(unread_rec, hated)
    assert "creativity" not in read and "creativity" not in unread_scores  # named: left out
    # read: the hated title's crowd stays below the liked one's; unread: it is pulled up too
    assert unread_scores["pasta"] > read.get("pasta", -np.inf) + 1e-6
    # the setting changes only the reading: a turn without an opinion ranks the same
    plain = "Averting the climate crisis and Do schools kill creativity"
    assert collab_of(rec, plain) == collab_of(unread_rec, plain)
    rec.close()


def test_unread_turns_every_opinion_into_a_plain_mention() -> None:
    spot = TitleSpotter(VIDEOS)
    named = conversation_mentions([Message("user", "I hated Inception. I loved Heat (1995)")], spot)
    understood = TurnUnderstanding(
        search_text="x", liked=("Heat",), disliked=("Inception", "horror"), seen=("Up (2009)",)
    )
    plain, mentions = unread(understood, named)
    assert plain.liked == ("Heat", "Inception", "horror", "Up (2009)")
    assert plain.disliked == () and plain.seen == () and plain.search_text == "x"
    assert [m.polarity for m in named] == [-1, 1] and [m.polarity for m in mentions] == [1, 1]


def test_that_one_points_back_at_what_the_assistant_just_named() -> None:
    spot = TitleSpotter(VIDEOS)
    messages = [
        Message("user", "I want a thriller"),
        Message("assistant", "Have you seen Heat (1995)?"),
        Message("user", "I didn't like that one, too slow."),
    ]
    assert [(m.video_id, m.polarity) for m in conversation_mentions(messages, spot)] == [("m7", -1)]
    # nothing named before: "that one" points at nothing
    assert conversation_mentions([Message("user", "I didn't like that one")], spot) == []


def test_that_one_after_a_named_title_stays_off_the_model() -> None:
    from agent.understand import needs_model

    spot = TitleSpotter(VIDEOS)

    def names(text: str) -> bool:
        return bool(spot.find(text))

    after_title = [Message("assistant", "Try Heat (1995)"), Message("user", "seen that one")]
    after_none = [Message("assistant", "What do you like?"), Message("user", "seen that one")]
    assert needs_model(after_title, names) is None
    assert needs_model(after_none, names) == "that one"
    assert needs_model(after_title) == "that one"  # without the title reader: the model


def test_a_title_merely_named_is_never_called_liked_in_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.turn_flow as turn_flow_module
    from agent.explain import ReasonContext
    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM
    from tests.unit.test_recommender import form

    offered: list[dict[str, str]] = []  # the titles each turn's reasons may call liked

    def recording(**kwargs: Any) -> ReasonContext:
        offered.append(dict(kwargs["liked"]))
        return ReasonContext(**kwargs)

    monkeypatch.setattr(turn_flow_module, "ReasonContext", recording)
    llm = FakeLLM()
    rec = build_recommender(tmp_path, llm, rerank=False, explain=False, understand="model")
    title = "Do schools kill creativity?"
    llm.enqueue(form("teaching children", liked=[title]))
    rec.recommend(f"I loved {title} Something about teaching children?", "u1", k=3)
    llm.enqueue(form("teaching children"))
    rec.recommend(f"Have you seen {title} Something about teaching children?", "u2", k=3)
    assert offered == [{"creativity": title}, {}]  # named, not said to be liked
    rec.close()


def test_a_title_the_latest_turn_asks_for_is_answered_not_left_out(tmp_path: Path) -> None:
    """A video asked for by its title (no opinion, not said seen) is what the user wants: it
    stays in the answer; one named with an opinion or said seen, or named in an earlier turn,
    is left out as before."""
    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM

    rec = build_recommender(tmp_path, FakeLLM(), rerank=False)

    def ids(*texts: str) -> list[str]:
        conversation = [
            Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)
        ]
        ranked = rec.rank(conversation, "u-ask", k=5, rerank=False)
        assert "Do schools kill creativity?" not in ranked.understanding.seen
        return [c.video.id for c in ranked.candidates]

    assert ids("Do schools kill creativity? Not too long please")[:1] == ["creativity"]
    # "not too long" in the title's own clause asks for a length, it says nothing against it
    assert ids("the secret of perfect pasta, not too long")[:1] == ["pasta"]
    assert "creativity" not in ids("I loved Do schools kill creativity? Not too long please")
    assert "creativity" not in ids("I've seen Do schools kill creativity? Something new")
    assert "creativity" not in ids(
        "Do schools kill creativity? Not too long",
        "Here is one on schools.",
        "Something else about schools",
    )
    rec.close()


def test_the_latest_turns_plain_mentions_are_its_requests() -> None:
    spot = TitleSpotter(VIDEOS)

    def asked(*texts: str) -> set[str]:
        messages = [Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]
        return {m.video_id for m in conversation_mentions(messages, spot) if m.asked}

    assert asked("Heat (1995), not too long") == {"m7"}
    assert asked("Something like Heat (1995)") == {"m7"}  # the understanding reads "like"
    for said in ("I loved Heat (1995)", "I hated Heat (1995)", "I've seen Heat (1995) twice"):
        assert asked(said) == set(), said
    assert asked("Heat (1995), not too long. I loved Heat (1995)!") == set()
    # earlier turns keep their rule: named before, never asked for; the assistant asks nothing
    assert asked("Have you seen Heat (1995)?", "Try The Matrix (1999)", "Inception (2010)?") == {
        "m2"
    }
    assert asked("Heat (1995)", "Try The Matrix (1999)", "Heat (1995) then") == set()
    assert asked("a thriller", "Try The Matrix (1999)", "The Matrix (1999), fine") == set()

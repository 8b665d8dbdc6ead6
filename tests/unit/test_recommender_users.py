"""What the facade remembers of a user across turns: feedback excludes and reorders, the
profile answers vague requests, sessions and impressions are kept, forgetting clears every store
(the same setup as ``test_recommender.py``, from ``tests.recommender_data``)."""

from __future__ import annotations

import pytest

from agent.recommender import CLARIFYING_QUESTION, Recommender
from agent.types import Message
from retrieval.errors import InvalidInputError, NotFoundError
from tests.fakes.llm import FakeLLM
from tests.recommender_data import (
    base_fixture,  # noqa: F401  (fixture)
    ids,
    llm_fixture,  # noqa: F401  (fixture)
    rec_fixture,  # noqa: F401  (fixture)
)
from tests.understand_data import form


def test_watched_and_disliked_are_excluded_next_turn(rec: Recommender, llm: FakeLLM) -> None:
    user = "u-feedback"
    llm.enqueue(form("cooking food at home"))
    first = ids(rec.recommend("cooking at home", user, k=4))
    top, second = first[0], first[1]
    rec.feedback(user, top, "dislike")
    rec.feedback(user, second, "watched", 0.9)
    llm.enqueue(form("cooking food at home"))
    again = ids(rec.recommend("cooking at home", user, k=4))
    assert top not in again and second not in again
    assert again  # others still come


def test_asking_again_brings_seen_back(rec: Recommender, llm: FakeLLM) -> None:
    user = "u-rewatch"
    rec.feedback(user, "mars", "watched", 1.0)
    llm.enqueue(form("mars space"))
    assert "mars" not in ids(rec.recommend("mars", user, k=3))
    llm.enqueue(form("mars space", include_seen=True))
    assert "mars" in ids(rec.recommend("I want to watch the Mars one again", user, k=3))


def test_a_like_reorders_the_next_turn(rec: Recommender, llm: FakeLLM) -> None:
    """Liking a video lifts its neighbours: kitchen shares pasta, sauce and cooking with pasta."""
    llm.enqueue(form("food baking children"))
    before = ids(rec.recommend("food", "u-like", k=6))
    assert "kitchen" in before and "pasta" in before
    rec.feedback("u-like", "pasta", "like")
    llm.enqueue(form("food baking children"))
    after = ids(rec.recommend("food", "u-like", k=6))
    assert "pasta" not in after  # known now
    assert after.index("kitchen") < before.index("kitchen")


def test_liked_in_conversation_seeds_and_is_excluded(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("", liked=["The secret of perfect pasta"]))
    answer = rec.recommend("I loved The secret of perfect pasta, more like that", "u-conv", k=3)
    assert "pasta" not in ids(answer)
    assert ids(answer)[0] == "kitchen"


def test_vague_request_from_new_user_gets_a_question(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("something"))
    answer = rec.recommend("recommend me something", "u-vague")
    # collab (agent/coldstart.py): cold start picks (popular-but-diverse) come with the question
    assert answer.recommendations and len(answer.recommendations) <= 5
    assert answer.clarifying_question == CLARIFYING_QUESTION


def test_vague_request_from_known_user_uses_the_profile(rec: Recommender, llm: FakeLLM) -> None:
    rec.feedback("u-profile", "pasta", "like")
    llm.enqueue(form(""))
    answer = rec.recommend("recommend me something", "u-profile", k=2)
    assert answer.clarifying_question is None
    assert ids(answer) and "pasta" not in ids(answer)
    assert ids(answer)[0] == "kitchen"


def test_asking_for_more_of_my_taste_ranks_by_the_profile_not_the_words(
    rec: Recommender, llm: FakeLLM
) -> None:
    """The model copies the words into its query; searched literally, "same spirit" finds
    whatever mentions spirits. A taste-only turn is ranked by the profile instead."""
    rec.feedback("u-spirit", "pasta", "like")
    llm.enqueue(form("same spirit liked before"))
    answer = rec.recommend(
        "I'd like something in the same spirit as what I liked before", "u-spirit", k=2
    )
    assert answer.understanding.search_text == ""
    assert answer.understanding.wants_recommendations
    assert ids(answer)[0] == "kitchen"


def test_turns_and_impressions_are_kept(rec: Recommender, llm: FakeLLM) -> None:
    user = "u-session"
    llm.enqueue(form("ocean"))
    conv = [Message("user", "ocean please")]
    first = rec.recommend(conv, user, k=2)
    llm.enqueue(form("ocean whales"))
    conv2 = [*conv, Message("assistant", first.text), Message("user", "whales too")]
    rec.recommend(conv2, user, k=2)
    data = rec.export_user(user)
    sessions = data["sessions"]
    assert isinstance(sessions, list) and len(sessions) == 1  # the follow-up joined the session
    assert len(sessions[0]["turns"]) == 2
    assert sessions[0]["turns"][0]["recommended"] == ids(first)
    kinds = {e.kind for e in rec.history(user)}
    assert kinds == {"impression"}
    assert user in rec.users()


def test_forget_user_clears_every_store(rec: Recommender, llm: FakeLLM) -> None:
    called: list[str] = []
    rec.forget_hooks.append(called.append)
    rec.feedback("u-forget", "mars", "like")
    llm.enqueue(form("mars"))
    rec.recommend("mars", "u-forget", k=1)
    rec.forget_user("u-forget")
    assert rec.history("u-forget") == []
    assert "u-forget" not in rec.users()
    assert called == ["u-forget"]
    with pytest.raises(NotFoundError):
        rec.export_user("u-forget")


def test_feedback_during_a_conversation_joins_its_session(rec: Recommender, llm: FakeLLM) -> None:
    rec.feedback("u-sess", "mars", "like")  # no conversation yet
    llm.enqueue(form("mars"))
    rec.recommend("mars", "u-sess", k=1)
    rec.feedback("u-sess", "mars", "watched", 1.0)
    likes = [e for e in rec.history("u-sess") if e.kind != "impression"]
    impression = next(e for e in rec.history("u-sess") if e.kind == "impression")
    assert likes[0].session_id is None
    assert likes[1].session_id == impression.session_id is not None


def test_feedback_is_validated(rec: Recommender) -> None:
    with pytest.raises(NotFoundError, match="vidrec videos"):
        rec.feedback("u-bad", "no-such-video", "like")
    with pytest.raises(InvalidInputError):
        rec.feedback("u-bad", "mars", "watched", 2.0)
    with pytest.raises(InvalidInputError):
        rec.feedback("u-bad", "mars", "adore")  # type: ignore[arg-type]
    assert rec.history("u-bad") == []

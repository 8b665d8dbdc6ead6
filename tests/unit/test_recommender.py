"""The facade end to end: fake LLM + fake embedder + real Chroma and SQLite in a tmp dir.
Answers, streaming, reranking, bad input, ranking and the parser-first default; what the facade
remembers of a user (feedback, profile, sessions, forgetting): ``test_recommender_users.py``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.llm.base import LLMOutputError
from agent.recommender import CLARIFYING_QUESTION, Recommender
from agent.types import Message
from prompts.loader import load_prompt
from retrieval.errors import InvalidInputError, NotFoundError
from retrieval.types import SearchFilters
from tests.agent_data import build_recommender, fake_settings, with_settings
from tests.fakes.llm import FakeLLM
from tests.recommender_data import (
    base_fixture,  # noqa: F401  (fixture)
    ids,
    llm_fixture,  # noqa: F401  (fixture)
    rec_fixture,  # noqa: F401  (fixture)
)
from tests.understand_data import form

UNDERSTAND = load_prompt("understand").tag
RERANK = load_prompt("rerank").tag
CHAT = load_prompt("chat").tag
EXPLAIN = load_prompt("explain").tag


def test_recommend_end_to_end(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("cooking pasta sauce at home"))
    answer = rec.recommend("I want to cook pasta at home", "u-e2e", k=3)
    assert 1 <= len(answer.recommendations) <= 3
    assert ids(answer)[0] in {"pasta", "kitchen"}
    assert [r.rank for r in answer.recommendations] == list(range(1, len(ids(answer)) + 1))
    for r in answer.recommendations:
        chunk = rec.library.chunk(r.evidence_chunk_id)
        assert chunk is not None and chunk.video_id == r.video.id
        assert r.video.duration is not None
        assert 0 <= r.evidence_start < r.video.duration
        assert r.reason and r.evidence_quote
    assert answer.text == ""  # no limits to state: the cards say enough
    assert answer.understanding is not None
    assert answer.understanding.search_text == "cooking pasta sauce at home"
    stages = {"understand", "retrieve", "rank", "rerank", "cards", "first_card", "explain"}
    assert set(answer.timings) >= stages
    # one short request per card for the reasons, none for a lead-in
    n = len(answer.recommendations)
    assert [c.tag for c in llm.calls] == [UNDERSTAND, RERANK] + [EXPLAIN] * n


def test_stream_event_order(base: Recommender, llm: FakeLLM) -> None:
    rec = with_settings(base, llm, diversity_lambda=1.0, understand="model", rerank=False)
    # grounded in the talk's title, speaker and tags (whichever chunk the search quotes)
    good = "Elena Example argues that we should go to Mars for space exploration and science."
    llm.enqueue(form("space exploration mars"))
    llm.route("Video: Why we should go to Mars", good)  # the mars card's own request
    llm.route("Viewer's request", "The video is about going to Mars and also about")
    events = list(rec.stream("anything about going to Mars, under 10 minutes?", "u-stream", k=2))
    kinds = [e.kind for e in events]
    assert kinds[0] == "understanding" and events[0].understanding is not None
    assert kinds[-1] == "done"
    # the cards come first, each with its grounded reason, before any model writes a word
    assert kinds[1:3] == ["recommendation", "recommendation"]
    cards = [e.recommendation for e in events if e.kind == "recommendation"]
    assert all(c is not None and c.reason for c in cards)
    # then the limits the cards do not state, then the model's reason where it passed the check
    assert kinds[3:-1] == ["text", "reason"]
    assert events[3].text == "All 10 min or shorter."
    answer = events[-1].answer
    assert answer is not None
    assert answer.text == events[3].text
    assert answer.recommendations[0].video.id == "mars"
    assert answer.recommendations[0].reason == good  # replaced: it passed the check
    assert answer.recommendations[1] == cards[1]  # kept: boilerplate and cut
    assert answer.timings["first_card"] <= answer.timings["first_card"] + answer.timings["explain"]


def test_grounded_reason_quotes_the_moment_and_the_limit(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("space exploration mars", max_minutes=10), LLMOutputError("bad"))
    answer = rec.recommend("space exploration on Mars, under 10 minutes", "u-grounded", k=1)
    card = answer.recommendations[0]
    assert card.video.id == "mars"
    assert f"at {card.timestamp}, elena example says" in card.reason.lower()
    assert card.evidence_quote in card.reason
    assert card.reason.endswith("4 min, within your 10.")


def test_chat_text_is_streamed_in_pieces(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("", wants_recommendations=False), "Hello there, happy to help you today.")
    texts = [e.text for e in rec.stream("hello!", "u-pieces", k=1) if e.kind == "text"]
    assert len(texts) > 3


def test_filters_from_the_turn_and_from_the_caller(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("cooking food", max_minutes=2))
    answer = rec.recommend("cooking food under 2 minutes", "u-filter", k=5)
    assert ids(answer) and all(r.video.duration <= 120 for r in answer.recommendations)  # type: ignore[operator]
    llm.enqueue(form("cooking food"))
    answer = rec.recommend(
        "cooking food", "u-filter", k=5, filters=SearchFilters(tags_none=("baking",))
    )
    assert ids(answer) and "bread" not in ids(answer)


def test_chitchat_gets_a_short_reply_and_new_users_a_question(
    rec: Recommender, llm: FakeLLM
) -> None:
    llm.enqueue(form("", wants_recommendations=False), "Hello! Happy to help.")
    answer = rec.recommend("hello!", "u-new")
    assert answer.recommendations == []
    assert answer.text == "Hello! Happy to help."
    assert answer.clarifying_question == CLARIFYING_QUESTION
    assert [c.tag for c in llm.calls] == [UNDERSTAND, CHAT]

    rec.feedback("u-old", "mars", "like")
    llm.enqueue(form("", wants_recommendations=False))
    assert rec.recommend("thanks!", "u-old").clarifying_question is None


@pytest.mark.parametrize(
    ("conversation", "user", "k", "needle"),
    [
        ("", "u", 5, "Nothing to answer"),
        ([Message("user", "hi"), Message("assistant", "hello")], "u", 5, "end with the user"),
        ("cooking", "", 5, "user id"),
        ("cooking", "u", 0, "k is out of range"),
        ("x" * 5000, "u", 5, "too long"),
    ],
)
def test_bad_input_raises_before_any_work(
    rec: Recommender, llm: FakeLLM, conversation: Any, user: str, k: int, needle: str
) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        rec.recommend(conversation, user, k=k)
    with pytest.raises(InvalidInputError, match=needle):
        rec.stream(conversation, user, k=k)  # raises at once, not on first next()
    assert llm.calls == []


def test_failure_mid_stream_is_an_error_event(rec: Recommender, llm: FakeLLM) -> None:
    from retrieval.errors import BackendUnavailableError

    llm.enqueue(form("mars"), BackendUnavailableError("model server went away"))
    events = list(rec.stream("mars", "u-err", k=2))
    assert events[-1].kind == "error"
    assert "model server went away" in events[-1].text


def test_no_rerank_setting_skips_the_llm_rerank(base: Recommender, llm: FakeLLM) -> None:
    rec = with_settings(base, llm, rerank=False)
    llm.enqueue(form("mars"))
    rec.recommend("mars", "u-norerank", k=2)
    assert RERANK not in [c.tag for c in llm.calls]


def test_rerank_order_is_applied(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("cooking food"))
    plain = ids(rec.recommend("cooking", "u-rr1", k=3))
    llm.enqueue(form("cooking food"), {"ranking": ["3", "1"]})  # numbers in the listed order
    reranked = ids(rec.recommend("cooking", "u-rr2", k=3))
    assert reranked == [plain[2], plain[0], plain[1]]


def test_llm_calls_are_serialised_across_threads(base: Recommender) -> None:
    class SlowLLM(FakeLLM):
        inside = 0
        overlap = False

        def _chat(self, call: Any) -> Any:
            SlowLLM.inside += 1
            if SlowLLM.inside > 1:
                SlowLLM.overlap = True
            time.sleep(0.01)
            SlowLLM.inside -= 1
            return super()._chat(call)

    rec = with_settings(base, SlowLLM())
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            rec.recommend("cooking", f"u-thread-{i}", k=2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not SlowLLM.overlap


def test_library_passthrough_and_lazy_build(base: Recommender, tmp_path: Path) -> None:
    lazy = Recommender(fake_settings(tmp_path))
    assert lazy._library is None and lazy._llm is None and lazy._users is None
    hits = base.search("salted boiling water", k=2)
    assert hits and hits[0].video.id == "pasta"


def test_remove_video_drops_it_from_answers(tmp_path: Path) -> None:
    llm = FakeLLM()
    rec = build_recommender(tmp_path, llm=llm, diversity_lambda=1.0)
    llm.enqueue(form("mars space"))
    assert "mars" in ids(rec.recommend("mars", "u", k=3))
    rec.remove_video("mars")
    llm.enqueue(form("mars space"))
    assert "mars" not in ids(rec.recommend("mars", "u", k=3))
    with pytest.raises(NotFoundError):
        rec.remove_video("mars")
    rec.close()


def test_rank_returns_candidates_without_storing_anything(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("cooking food"))
    ranked = rec.rank("cooking", "u-rank", k=3, rerank=False)
    assert ranked.understanding.search_text == "cooking food"
    assert 1 <= len(ranked.candidates) <= 3
    assert all(c.evidence_chunk_id for c in ranked.candidates)
    assert RERANK not in [c.tag for c in llm.calls]
    assert rec.history("u-rank") == []
    again = rec.rank("cooking", "u-rank", k=3, rerank=True, understanding=ranked.understanding)
    assert [c.tag for c in llm.calls] == [UNDERSTAND, RERANK]
    assert {c.video.id for c in again.candidates} == {c.video.id for c in ranked.candidates}


def test_rank_searches_the_request_when_the_model_reads_small_talk(
    rec: Recommender, llm: FakeLLM
) -> None:
    llm.enqueue(form("", wants_recommendations=False))
    ranked = rec.rank("pasta sauce", "u-rank2", k=3, rerank=False)
    assert ranked.understanding.search_text == "pasta sauce"
    assert ranked.understanding.wants_recommendations
    assert "pasta" in [c.video.id for c in ranked.candidates]


def test_the_users_own_words_count_beside_the_rewrite(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("space exploration"))  # a rewrite that lost what the user described
    said = "the one where every child is born an artist and mistakes are fine"
    ranked = rec.rank(said, "u-words", k=3, rerank=False)
    # searched on the rewrite alone, "mars" came first; the user's words in full outweigh it
    assert ranked.candidates[0].video.id == "creativity"


def test_invented_links_never_reach_the_user(rec: Recommender, llm: FakeLLM) -> None:
    from agent.recommender import without_links

    pieces = ["Sure, watch ", "https://www.you", "tube.com/watch?v=x ", "or www.evil.org ", "now."]
    assert "".join(without_links(iter(pieces))) == "Sure, watch or now."
    llm.enqueue(form("", wants_recommendations=False), "Hi! See https://example.com/x for more.")
    answer = rec.recommend("hello", "u-links")
    assert "http" not in answer.text and answer.text.startswith("Hi! See")


@pytest.fixture
def auto(base: Recommender, llm: FakeLLM) -> Recommender:
    """The default: the parser reads plain turns, the model only what it cannot."""
    return with_settings(base, llm, diversity_lambda=1.0, rerank=False, explain=False)


def test_a_plain_turn_is_answered_without_the_model(auto: Recommender, llm: FakeLLM) -> None:
    answer = auto.recommend("something about cooking, not too long", "u-plain", k=3)
    assert llm.calls == []
    assert answer.understanding is not None and answer.understanding.source == "parser"
    assert ids(answer) and "not too long" not in answer.understanding.search_text
    limit = auto.settings.agent.lengths.not_too_long_max_minutes * 60
    assert all(
        r.video.duration is not None and r.video.duration <= limit for r in answer.recommendations
    )


def test_a_talk_described_as_seen_is_left_out(auto: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(form("cooking"))  # the model reads the reference turn, the rules add the seen talk
    answer = auto.recommend(
        "cooking please. I already saw the one by Tom about kids, so not that one", "u-seen", k=4
    )
    assert len(llm.calls) == 1
    assert "kitchen" not in ids(answer)
    assert {"pasta", "bread"} <= set(ids(answer))


def test_more_like_the_one_shown_resolves_against_the_conversation(
    auto: Recommender, llm: FakeLLM
) -> None:
    first = [Message("user", "show me something about science and animals")]
    shown = auto.recommend(first, "u-more", k=3)
    assert "ocean" in ids(shown)
    conversation = [
        *first,
        Message("assistant", "Here you are."),
        Message("user", "more like the deep ocean one you showed me"),
    ]
    llm.enqueue(form("", liked=[]))  # the model finds nothing: the rule and the library do
    answer = auto.recommend(conversation, "u-more", k=3)
    assert answer.understanding is not None and answer.understanding.liked == ("deep ocean",)
    assert "ocean" not in ids(answer)  # the liked talk seeds the turn and is not shown again


def test_a_talk_watched_in_an_earlier_turn_is_left_out_and_does_not_steer(
    auto: Recommender, llm: FakeLLM
) -> None:
    watched = (
        "I already watched the one where whales sing to each other and plastic reaches the "
        "deepest trenches"
    )
    conversation = [
        Message("user", watched),
        Message("assistant", "Here are a few talks."),
        Message("user", "anything about science and exploration?"),
    ]
    ranked = auto.rank(conversation, "u-watched-earlier", k=3, rerank=False)
    assert llm.calls == []  # the parser reads it; the talk is found from its transcript's words
    assert list(ranked.references.values()) == ["ocean"]
    picks = [c.video.id for c in ranked.candidates]
    assert "ocean" not in picks and picks[0] == "mars"


def test_warm_up_loads_every_part_a_first_turn_would_wait_for(tmp_path: Path) -> None:
    from agent.collab import Collaborative
    from agent.learn.store import RankerStore, ranker_root

    asked: list[object] = []

    class Collab(Collaborative):
        def prepare(self, request_ridge: float) -> None:
            asked.append(("collab", request_ridge))

    class Ranker(RankerStore):
        def current(self) -> None:
            asked.append("ranker")

    base = build_recommender(tmp_path)
    settings = base.settings

    def facade(collab: Collaborative) -> Recommender:
        learned = Ranker(ranker_root(settings.data_dir))
        return Recommender(
            settings,
            library=base.library,
            llm=FakeLLM(),
            users=base.users_store,
            collab=collab,
            learned=learned,
        )

    rec = facade(Collab(settings.data_dir, settings.agent.collab))
    try:
        seconds = rec.warmup()
        assert set(seconds) == {"embedder", "index", "catalogue", "collaborative", "learned"}
        assert asked == [("collab", settings.agent.request_ridge), "ranker"]
        views = rec._catalogue
        built = (views._titles, views._described, views._vocabulary)
        assert all(v is not None for v in built)  # built now, not by the first turn
    finally:
        rec.close()

    class Broken(Collaborative):
        def prepare(self, request_ridge: float) -> None:
            raise OSError("unreadable model file")

    rec = facade(Broken(settings.data_dir, settings.agent.collab))
    try:  # an optional signal that cannot load leaves the server ready (a turn ranks without it)
        assert set(rec.warmup()) == {"embedder", "index", "catalogue", "learned"}
    finally:
        rec.close()
        base.close()

"""The blend weighs how near each video is to the whole conversation
(``agent.conversation_match_weight``): the videos nearest the conversation's query vector join the
candidates and each adds ``weight x rank_score(its rank)`` to its blend score."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.collab.requests import conversation_text
from agent.ranking import rank_score
from agent.recommender import Recommender
from agent.types import Message
from tests.agent_data import build_recommender, with_settings
from tests.fakes.llm import FakeLLM

CONVERSATION = [
    Message("user", "hello"),
    Message("assistant", "Maybe something about the oceans and the climate?"),
    Message("user", "yes, talks about going to sea"),
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recommender]:
    rec = build_recommender(
        tmp_path_factory.mktemp("match"),
        understand="parser",
        rerank=False,
        explain=False,
        diversity_lambda=1.0,
        candidates=50,
    )
    yield rec
    rec.close()


def test_the_videos_nearest_the_conversation_are_lifted_by_their_rank(base: Recommender) -> None:
    vector = base.library.embed_query(conversation_text(CONVERSATION))
    nearest = [v for v, _ in base.library.nearest_videos(vector, k=3)]
    off = base.rank(CONVERSATION, "u-off", stage="off").candidates
    weighted = with_settings(base, FakeLLM(), conversation_match_weight=2.0, conversation_match=3)
    on = weighted.rank(CONVERSATION, "u-on", stage="off").candidates
    before = {c.video.id: c.score for c in off}
    after = {c.video.id: c for c in on}
    assert any(v in before for v in nearest)  # the score check below runs
    for rank, video_id in enumerate(nearest):
        assert after[video_id].source_ranks["conversation"] == rank
        if video_id in before:  # its score: the same blend plus the weighted rank
            assert after[video_id].score == pytest.approx(before[video_id] + 2.0 * rank_score(rank))
    for video_id, score in before.items():
        if video_id not in nearest and video_id in after:
            assert after[video_id].score == pytest.approx(score)  # the others: unchanged
    assert not any("conversation" in c.source_ranks for c in off)  # weight 0: no such source

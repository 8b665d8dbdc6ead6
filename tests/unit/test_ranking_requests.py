"""The similar-requests signal is scored beside the turn's search, not after it.

Embedding the conversation for the signal (:mod:`agent.collab.requests`) was the signal's whole
cost on a turn (+35 ms p50, +107 ms p95 on the ReDial benchmark) and ran after the search, on the
one core a query embeds with. The ranker now starts it before searching, in a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from agent.collab.service import EmbedText
from agent.profile import UserProfile
from agent.ranking import Ranker
from agent.settings import AgentSettings
from retrieval.types import Chunk, ChunkHit, QueryText, SearchFilters, Video, VideoHit

IDS = ("searched", "asked")


def _chunk(video_id: str) -> Chunk:
    return Chunk(f"{video_id}:0", video_id, 0, 0.0, 10.0, f"what {video_id} says")


class _Library:
    """Search waits (up to 5 s) until the conversation has been embedded for requests."""

    query_embedder_id = "fake"

    def __init__(self) -> None:
        self.embedded = threading.Event()
        self.searched_after_embedding: bool | None = None

    def search(
        self, query: str | Sequence[QueryText], filters: SearchFilters, k: int
    ) -> list[VideoHit]:
        self.searched_after_embedding = self.embedded.wait(5.0)
        video = Video("searched", "Searched")
        return [VideoHit(video, 1.0, (ChunkHit(_chunk("searched"), 1.0),))]

    def embed_query(self, text: str) -> np.ndarray:
        self.embedded.set()
        return np.ones(4, np.float32) / 2

    def videos_by_ids(self, ids: Iterable[str]) -> dict[str, Video]:
        return {v: Video(v, v.title()) for v in ids if v in IDS}

    def chunks_of(self, ids: Iterable[str]) -> dict[str, list[Chunk]]:
        return {v: [_chunk(v)] for v in ids if v in IDS}


class _Requests:
    """A collaborative scorer with similar requests only (``asked`` took them)."""

    def collab_scores(self, history: object, video_ids: list[str], seeds: object = ()) -> list:
        return [float("nan")] * len(video_ids)

    def collab_candidates(self, history: object, seeds: object, k: int) -> list[str]:
        return []

    def collab_signals(
        self, history: object, video_ids: Sequence[str], seeds: object = ()
    ) -> dict[str, np.ndarray]:
        return {}

    def collab_weight(self, profile_weight: float, default: float) -> float:
        return default

    def popularity(self) -> dict[str, float]:
        return {}

    def prepare(self, request_ridge: float) -> None:
        pass

    def session_popularity(self) -> dict[str, float]:
        return {}

    def request_scores(
        self, text: str, embed: EmbedText, k: int, ridge: float = 0.0, embedder: str = ""
    ) -> dict[str, float]:
        embed(text)
        return {"asked": 3.0}


def test_the_conversation_is_embedded_for_similar_requests_while_the_turn_searches() -> None:
    library = _Library()
    ranker = Ranker(library, AgentSettings(diversity_lambda=1.0), _Requests())  # type: ignore[arg-type]
    ranked = ranker.rank(
        "films like this",
        SearchFilters(),
        UserProfile(),
        diversify=False,
        conversation="I loved Alien, anything as scary?",
    )
    # the old ranker embedded the conversation after the search returned: the search waited 5 s
    assert library.searched_after_embedding is True
    assert {c.video.id for c in ranked} == set(IDS)
    asked = next(c for c in ranked if c.video.id == "asked")
    assert asked.source_ranks["requests"] == 0


def test_a_failing_requests_signal_still_ranks_the_turn() -> None:
    class Broken(_Requests):
        def request_scores(
            self, text: str, embed: EmbedText, k: int, ridge: float = 0.0, embedder: str = ""
        ) -> dict[str, float]:
            embed(text)
            raise RuntimeError("model file vanished")

    library = _Library()
    ranker = Ranker(library, AgentSettings(diversity_lambda=1.0), Broken())  # type: ignore[arg-type]
    ranked = ranker.rank(
        "films like this", SearchFilters(), UserProfile(), conversation="anything scary?"
    )
    assert [c.video.id for c in ranked] == ["searched"]

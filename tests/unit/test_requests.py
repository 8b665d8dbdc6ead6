"""Similar requests (agent.collab.requests): what people took after asking for something alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from agent.collab import Collaborative, ModelStore, load_model, model_root, train
from agent.collab.requests import (
    FILE,
    MAX_CHARS,
    LinearMap,
    Request,
    RequestIndex,
    conversation_text,
)
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, Message
from retrieval.embed.factory import create_embedder
from retrieval.settings import EmbeddingSettings

EMBEDDER = create_embedder(EmbeddingSettings(backend="fake"))  # through the real factory


def embed(text: str) -> np.ndarray:
    return EMBEDDER.encode_queries([text])[0]


def fitted(requests: list[Request]) -> RequestIndex:
    index = RequestIndex.fit(requests, EMBEDDER.encode_queries, "fake")
    assert index is not None
    return index


ASKED = [
    Request("u1", "I want something really scary, a horror movie with ghosts", ("shining",)),
    Request("u2", "any horror films? ghosts and haunted houses scare me the most", ("conjuring",)),
    Request("u3", "a scary horror night with friends, ghosts please", ("shining", "it")),
    Request("u4", "a light romantic comedy for a date night", ("notting-hill",)),
    Request("u5", "romantic comedies with a happy ending", ("notting-hill", "love-actually")),
    Request("u6", "", ("ignored",)),  # says nothing
    Request("u7", "documentaries about the ocean", ()),  # took nothing
]


def test_a_request_scores_what_people_took_after_asking_alike() -> None:
    index = fitted(ASKED)
    assert len(index) == 5  # the empty and the untaken ones are not kept
    got = index.scores(embed("Got any good horror? I love ghosts"), k=3)
    assert set(got) == {"shining", "conjuring", "it"}  # the three horror requests
    assert got["shining"] > got["conjuring"] > 0  # two similar requests took it
    romance = index.scores(embed("something romantic please, a comedy"), k=2)
    assert max(romance, key=lambda v: romance[v]) == "notting-hill"
    assert index.scores(np.ones(3, dtype=np.float32), k=3) == {}  # another embedder's size


def test_requests_embedded_by_another_model_of_the_same_size_score_nothing() -> None:
    """After `vidrec train --embedder` the library's embedder has the old one's size: the logged
    turns' vectors still belong to the old model and must not be compared with the new one's."""
    index = fitted(ASKED)  # embedded by "fake"
    query = embed("Got any good horror? I love ghosts")
    assert index.scores(query, k=3, embedder="fake")  # the same model: scored
    assert index.scores(query, k=3, embedder="sentence-transformers:/models/adapted/x") == {}
    assert index.scores(query, k=3, ridge=1.0, embedder="another") == {}


def test_only_the_k_most_similar_requests_vote() -> None:
    index = fitted(ASKED)
    text = embed("a scary horror night with friends, ghosts please")
    assert "notting-hill" in index.scores(text, k=5)  # "night" is shared with a romance request
    assert set(index.scores(text, k=1)) == {"shining", "it"}  # the one nearest request (u3)


def test_the_index_survives_a_save_and_holds_no_text(tmp_path: Path) -> None:
    index = fitted(ASKED)
    index.save(tmp_path)
    loaded = RequestIndex.load(tmp_path)
    assert loaded is not None and loaded.items == index.items and loaded.users == index.users
    assert loaded.embedder == "fake"
    query = embed("ghosts and horror")
    assert loaded.scores(query, 10) == pytest.approx(index.scores(query, 10))
    assert b"ghosts" not in (tmp_path / FILE).read_bytes()
    assert RequestIndex.load(tmp_path / "missing") is None


def test_conversation_text_keeps_the_newest_words() -> None:
    long = [
        Message("user", "old " * MAX_CHARS),
        Message("assistant", "try Alien"),
        Message("user", ""),
    ]
    text = conversation_text(long)
    assert len(text) == MAX_CHARS and text.endswith("old \ntry Alien")


def _events() -> list[FeedbackEvent]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        FeedbackEvent(f"u{n}", f"v{(n + k) % 7}", "like", None, start + timedelta(minutes=k))
        for n in range(12)
        for k in range(3)
    ]


def test_training_saves_the_requests_and_forgetting_a_user_drops_theirs(tmp_path: Path) -> None:
    cfg = CollabSettings(factors=4, iterations=2)
    collab = Collaborative(tmp_path, cfg)
    train(_events(), cfg, collab.store, tune=False, requests=fitted(ASKED))
    assert collab.request_scores("horror with ghosts", embed, 3)["shining"] > 0
    assert collab.forget_user("u1") == 1
    assert collab.forget_user("u3") == 1
    left = collab.request_scores("horror with ghosts", embed, 3)
    assert "shining" not in left and "conjuring" in left  # u1 and u3 took it, both forgotten
    reloaded = load_model(collab.store.versions()[-1])
    assert reloaded.requests is not None and "u1" not in reloaded.requests.users


def test_a_model_without_requests_scores_nothing(tmp_path: Path) -> None:
    cfg = CollabSettings(factors=4, iterations=2)
    store = ModelStore(model_root(tmp_path))
    path = train(_events(), cfg, store, tune=False).path
    assert not (path / FILE).exists()
    assert Collaborative(tmp_path, cfg).request_scores("horror with ghosts", embed, 3) == {}


def test_vidrec_train_embeds_the_logged_turns_and_a_later_turn_is_lifted_by_them(
    tmp_path: Path,
) -> None:
    from agent.collab import train_from_log
    from tests.agent_data import build_recommender, with_settings
    from tests.fakes.llm import FakeLLM

    rec = build_recommender(tmp_path, understand="parser", rerank=False, explain=False)
    try:
        asked = [Message("user", "a talk about cooking pasta at home")]
        for n in range(3):
            user = f"cook-{n}"
            answer = rec.recommend(asked, user, k=3)
            taken = answer.recommendations[-1].video.id  # the lowest pick: not search's first
            rec.feedback(user, taken, "like")
        report = train_from_log(rec.settings, tune=False)
        assert report.meta.n_requests == 3
        index = RequestIndex.load(report.path)
        assert index is not None and sorted(index.users) == ["cook-0", "cook-1", "cook-2"]
        assert index.embedder == "fake:all-MiniLM-L6-v2"  # the library's embedder made them
        scores = rec.collab.request_scores(
            conversation_text(asked), rec.library.embed_query, rec.settings.agent.request_neighbours
        )
        assert max(scores, key=lambda v: scores[v]) == taken
        # the sessions' popularity off, so that only similar requests can lift it
        on = with_settings(rec, FakeLLM(), conversation_popularity_weight=0.0)
        ranked = on.rank(asked, "newcomer", k=5).candidates
        assert ranked[0].video.id == taken and ranked[0].source_ranks["requests"] == 0
        off = with_settings(rec, FakeLLM(), conversation_popularity_weight=0.0, request_weight=0.0)
        assert off.rank(asked, "newcomer", k=5).candidates[0].video.id != taken
    finally:
        rec.close()


def test_the_ridge_map_is_the_closed_form_ridge_regression() -> None:
    index = fitted(ASKED)
    x = embed("Got any good horror? I love ghosts")
    got = index.scores(x, k=0, ridge=0.05)
    vectors = index.vectors.astype(np.float64)
    videos = sorted({v for row in index.items for v in row})
    taken = np.array([[v in row for v in videos] for row in index.items], dtype=np.float64)
    n = len(vectors)
    mean, prior = vectors.mean(axis=0), taken.mean(axis=0)
    centred = vectors - mean
    gram = centred.T @ centred + 0.05 * n * np.eye(vectors.shape[1])
    expected = (x - mean) @ np.linalg.solve(gram, centred.T @ (taken - prior)) + prior
    want = {v: s for v, s in zip(videos, expected, strict=True) if s > 0}
    assert got == pytest.approx(want, abs=1e-6)
    assert max(got, key=lambda v: got[v]) == "shining"
    romance = index.scores(embed("something romantic please, a comedy"), k=0, ridge=0.05)
    assert max(romance, key=lambda v: romance[v]) == "notting-hill"


def test_the_ridge_map_forgets_a_dropped_users_requests() -> None:
    index = fitted(ASKED)
    x = embed("any horror films? ghosts and haunted houses scare me the most")
    before = index.scores(x, k=0, ridge=0.05)
    assert before["conjuring"] > 0.5  # u2 asked exactly this and took it
    assert index.drop_user("u2")
    after = index.scores(x, k=0, ridge=0.05)
    assert "conjuring" not in after  # refitted without u2: no request took it any more
    assert after == pytest.approx(
        fitted([r for r in ASKED if r.user_id != "u2"]).scores(x, 0, 0.05)
    )


def test_a_servers_warm_up_fits_the_ridge_map_before_the_first_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map was fitted by the first turn that scored (at scale, seconds of that turn)."""
    cfg = CollabSettings(factors=4, iterations=2)
    train(_events(), cfg, Collaborative(tmp_path, cfg).store, tune=False, requests=fitted(ASKED))
    collab = Collaborative(tmp_path, cfg)  # a new server's: nothing loaded yet
    fits: list[float] = []
    real_fit = LinearMap.fit.__func__  # type: ignore[attr-defined]

    def counted(cls: type[LinearMap], vectors: np.ndarray, items: object, ridge: float) -> object:
        fits.append(ridge)
        return real_fit(cls, vectors, items, ridge)

    monkeypatch.setattr(LinearMap, "fit", classmethod(counted))
    collab.prepare(0.05)
    assert fits == [0.05]
    assert collab.request_scores("horror with ghosts", embed, 0, 0.05)["shining"] > 0
    assert fits == [0.05]  # the turn used the warm map
    collab.request_scores("horror with ghosts", embed, 0, 0.1)
    assert fits == [0.05, 0.1]  # another penalty is another map

"""The collaborative model on a synthetic log whose right answer is known (``tests.collab_data``):
confidence weighting, fitting, fold-in of live feedback, versions on disk, forgetting a user.
Blending and tuning: ``test_collab_blend.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.collab import (
    BlendWeights,
    CollabError,
    CollabModel,
    Collaborative,
    ModelStore,
    build_matrix,
    event_strength,
    load_model,
    model_root,
    train,
)
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from tests.collab_data import (
    ALL,
    A,
    cfg_fixture,  # noqa: F401  (fixture)
    ev,
    log_events_fixture,  # noqa: F401  (fixture)
    model_fixture,  # noqa: F401  (fixture)
    scored,
    top,
)


# --- confidence weighting ----------------------------------------------------------------------
def test_event_strengths_follow_the_stated_weighting() -> None:
    cfg = CollabSettings(like_strength=2.0, watch_strength=1.5, rating_strength=1.0)
    assert event_strength(ev("u", "v", "like"), cfg) == 2.0
    assert event_strength(ev("u", "v", "dislike"), cfg) == -1.0
    assert event_strength(ev("u", "v", "watched", 0.5), cfg) == pytest.approx(0.75)
    assert event_strength(ev("u", "v", "watched", None), cfg) == pytest.approx(1.5)
    assert event_strength(ev("u", "v", "rating", 4.0), cfg) == pytest.approx(0.8)
    assert event_strength(ev("u", "v", "rating", 1.0), cfg) == -1.0
    assert event_strength(ev("u", "v", "impression"), cfg) == 0.0


def test_matrix_sums_events_per_pair_and_keeps_dislikes_negative() -> None:
    cfg = CollabSettings(alpha=10.0)
    events = [
        ev("u1", "v1", "like"),
        ev("u1", "v1", "watched", 0.5),
        ev("u1", "v2", "dislike"),
        ev("u2", "v1", "impression"),
    ]
    data = build_matrix(events, cfg)
    assert data.user_ids == ["u1"]  # u2 only has an impression: nothing to learn
    assert data.item_ids == ["v1", "v2"]
    assert data.n_events == 4
    dense = data.matrix.toarray()
    assert dense[0, 0] == pytest.approx(1 + 10 * 1.5)
    assert dense[0, 1] == pytest.approx(-(1 + 10 * 1.0))


def test_fit_without_positive_interactions_says_what_to_do(cfg: CollabSettings) -> None:
    with pytest.raises(CollabError, match="vidrec train"):
        CollabModel.fit_events([ev("u", "v", "dislike")], cfg)


# --- the known right answer ---------------------------------------------------------------------
def test_stored_user_of_cluster_a_gets_cluster_a(model: CollabModel) -> None:
    for user in ("a0", "a5", "a17"):
        vector = model.stored_user_vector(user)
        assert vector is not None
        scores = model.take(model.item_factors @ vector, ALL)
        assert set(top(scores, ALL, 10)) == set(A)


def test_new_user_who_liked_cluster_a_items_is_folded_in_to_cluster_a(model: CollabModel) -> None:
    history = [ev("newbie", "A0", "like"), ev("newbie", "A1", "watched", 0.9)]
    scores = scored(model, history, ALL)
    picks = top(scores, ALL, 5, exclude={"A0", "A1"})
    assert all(p.startswith("A") for p in picks), picks
    # standardised: above this user's average for A, below for B
    assert np.nanmin(scores[:10]) > np.nanmax(scores[10:])


def test_conversation_seeds_use_item_neighbours_for_a_user_without_history(
    model: CollabModel,
) -> None:
    scores = scored(model, [], ALL, seeds=["B3"])
    picks = top(scores, ALL, 5, exclude={"B3"})
    assert all(p.startswith("B") for p in picks), picks
    similar, cosines = model.similar_items("B3", 5)
    assert len(similar) == 5 and all(v.startswith("B") for v in similar)
    assert list(cosines) == sorted(cosines, reverse=True) and "B3" not in similar


def test_recent_videos_put_conversation_seeds_first_then_the_newest_likes(
    model: CollabModel,
) -> None:
    history = [
        ev("u", "A0", minute=1),
        ev("u", "A1", minute=3),
        ev("u", "A2", "rating", 4.0, minute=2),
        ev("u", "A3", minute=4),
        ev("u", "A3", "dislike", minute=5),  # net zero: no longer liked
        ev("u", "unknown-video", minute=9),  # not in the model
    ]
    assert model.recent_videos(history, seeds=["B1"]) == ["B1", "A1", "A2", "A0"]
    short = CollabModel(
        model._als,
        model.user_ids,
        model.item_ids,
        model.popularity,
        model.meta,
        model.cfg.model_copy(update={"recent_items": 2}),
    )
    assert short.recent_videos(history) == ["A1", "A2"]
    assert model.recent_scores([ev("u", "unknown-video")]) is None


def test_recent_neighbours_follow_a_change_of_taste_that_the_user_vector_averages_away(
    model: CollabModel,
) -> None:
    # eight A likes long ago, then two B likes: the newest taste is B
    history = [ev("u", a, minute=i) for i, a in enumerate(A[:8])]
    history += [ev("u", "B0", minute=100), ev("u", "B1", minute=101)]
    seen = {e.video_id for e in history}
    als_only = scored(model, history, ALL, weights=BlendWeights(collab=1.0, recent=0.0))
    recent_only = scored(model, history, ALL, weights=BlendWeights(collab=0.0, recent=1.0))
    assert top(als_only, ALL, 1, exclude=seen)[0].startswith("A")
    assert all(v.startswith("B") for v in top(recent_only, ALL, 5, exclude=seen))
    both = scored(model, history, ALL, weights=BlendWeights(collab=1.0, recent=1.0))
    np.testing.assert_allclose(both, (np.asarray(als_only) + recent_only) / 2, atol=1e-6)


def test_no_signal_and_unknown_videos_are_nan(model: CollabModel) -> None:
    assert np.isnan(scored(model, [], ALL)).all()
    scores = scored(model, [ev("x", "A0")], ["A1", "brand-new-video"])
    assert not np.isnan(scores[0]) and np.isnan(scores[1])


def test_popularity_counts_users_with_a_positive_pair(
    model: CollabModel, log_events: list[FeedbackEvent]
) -> None:
    counts: dict[str, set[str]] = {}
    for e in log_events:
        counts.setdefault(e.video_id, set()).add(e.user_id)
    best_video, best_count = model.popular(1)[0]
    assert best_count == max(len(u) for u in counts.values())
    assert len(counts[best_video]) == best_count
    assert best_video not in [v for v, _ in model.popular(3, exclude={best_video})]


# --- live feedback: fold-in without retrain ------------------------------------------------------
def test_a_new_like_changes_the_next_scores_without_a_retrain(
    tmp_path: Path, log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    collab = Collaborative(tmp_path, cfg)
    train(log_events, cfg, collab.store, tune=False)
    before_versions = collab.store.versions()
    history = [ev("alice", "A0"), ev("alice", "A1")]
    first = collab.collab_scores(history, ALL)
    assert top(first, ALL, 1, exclude={"A0", "A1"})[0].startswith("A")

    history += [ev("alice", b, minute=5) for b in ("B0", "B1", "B2", "B3", "B4")]
    second = collab.collab_scores(history, ALL)
    assert np.nanmean(second[10:]) > np.nanmean(first[10:])
    seen = {e.video_id for e in history}
    assert top(second, ALL, 1, exclude=seen)[0].startswith("B")
    assert collab.store.versions() == before_versions  # nothing was refitted


def test_a_dislike_lowers_that_video(model: CollabModel) -> None:
    # raw scores: in this rank-2 world a dislike of an A video can only shrink the A direction
    liked = [ev("u", "A0"), ev("u", "A1")]
    plain = model.raw_scores(liked)
    disliked = model.raw_scores([*liked, ev("u", "A2", "dislike")])
    assert plain is not None and disliked is not None
    a2 = model.item_rows(["A2"])[0]
    assert disliked[a2] < plain[a2]


# --- versions on disk --------------------------------------------------------------------------
def test_versions_are_kept_newest_loaded_and_incomplete_ones_ignored(
    tmp_path: Path, log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    store = ModelStore(model_root(tmp_path), keep_versions=2)
    paths = [train(log_events, cfg, store, tune=False).path for _ in range(3)]
    assert [p.name for p in paths] == ["v0001", "v0002", "v0003"]
    assert [p.name for p in store.versions()] == ["v0002", "v0003"]  # oldest pruned
    (store.root / "v0009").mkdir()  # a crashed save: no meta.json
    loaded = store.load_latest()
    assert loaded is not None and loaded.meta.version == 3
    meta = json.loads((paths[-1] / "meta.json").read_text())
    assert meta["n_users"] == 60 and meta["n_items"] == 20 and meta["n_events"] == len(log_events)
    assert meta["settings"]["factors"] == 2 and meta["fitted_at"]
    np.testing.assert_allclose(loaded.item_factors.shape, (20, 2))


def test_collaborative_picks_up_a_version_trained_elsewhere(
    tmp_path: Path, log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    collab = Collaborative(tmp_path, cfg)
    assert collab.model is None
    assert np.isnan(collab.collab_scores([ev("u", "A0")], ALL)).all()
    train(log_events, cfg, ModelStore(model_root(tmp_path)), tune=False)
    assert collab.model is not None and collab.model.has_user("a1")


def test_forgetting_a_user_drops_their_factors_from_every_version(
    tmp_path: Path, log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    collab = Collaborative(tmp_path, cfg)
    for _ in range(2):
        train(log_events, cfg, collab.store, tune=False)
    assert collab.model is not None and collab.model.has_user("a3")
    assert set(collab.export_user("a3")) == {"v0001", "v0002"}
    assert collab.forget_user("a3") == 2
    assert collab.model is not None and not collab.model.has_user("a3")
    for path in collab.store.versions():
        reloaded = load_model(path)
        assert not reloaded.has_user("a3")
        assert reloaded.user_factors.shape[0] == len(reloaded.user_ids) == 59
        assert json.loads((path / "meta.json").read_text())["n_users"] == 59
    assert collab.export_user("a3") == {}
    assert collab.forget_user("a3") == 0


# --- through the facade ------------------------------------------------------------------------
def test_the_facade_folds_in_a_like_for_the_next_turn(tmp_path: Path) -> None:
    """Crowd A likes creativity + pasta, crowd B climate + classroom. A user's like, recorded
    through ``Recommender.feedback``, moves the collaborative scores of the very next ranking;
    the model on disk is not refitted."""
    from agent.recommender import Recommender
    from agent.types import TurnUnderstanding
    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM

    rec: Recommender = build_recommender(
        tmp_path, FakeLLM(), rerank=False, diversity_lambda=1.0, collab_weight=5.0
    )
    crowd = [
        ev(f"{group}{u}", video, minute=m)
        for group, videos in (("a", ("creativity", "pasta")), ("b", ("climate", "classroom")))
        for u in range(10)
        for m, video in enumerate(videos)
    ]
    cfg = CollabSettings(factors=2, iterations=20, regularization=0.1, threads=1)
    assert isinstance(rec.collab, Collaborative)  # the facade's default scorer
    train(crowd, cfg, rec.collab.store, tune=False)
    versions = rec.collab.store.versions()
    quiet = TurnUnderstanding(search_text="")

    def collab_of_turn() -> dict[str, float]:
        ranked = rec.rank("anything", "u", k=20, rerank=False, understanding=quiet)
        return {c.video.id: c.collab_score for c in ranked.candidates}

    rec.feedback("u", "creativity", "like")
    first = collab_of_turn()
    assert first["pasta"] > first.get("classroom", -np.inf)
    assert max(first, key=lambda v: first[v]) == "pasta"

    rec.feedback("u", "climate", "like")
    rec.feedback("u", "climate", "watched", 1.0)
    second = collab_of_turn()
    assert second["classroom"] > first["classroom"]  # the new like counted at once
    assert rec.collab.store.versions() == versions  # no retrain
    rec.close()


# --- the implicit-style API ----------------------------------------------------------------------
def test_recommend_returns_ids_and_scores_best_first_with_filters(model: CollabModel) -> None:
    history = [ev("newbie", "A0"), ev("newbie", "A1")]
    ids, scores = model.recommend(history, n=5, filter_already_liked_items=True)
    assert len(ids) == 5 and "A0" not in ids and "A1" not in ids
    assert all(v.startswith("A") for v in ids), ids
    assert list(scores) == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, model.take(model.scores(history), ids))
    kept, _ = model.recommend(history, n=20, filter_items=["A2", "A3"])
    assert "A2" not in kept and "A3" not in kept and "A0" in kept
    assert model.recommend([], n=5)[0] == []  # no signal: nothing to recommend


def test_dropping_a_user_leaves_the_fold_in_of_everyone_else_unchanged(
    log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    fitted = CollabModel.fit_events(log_events, cfg)
    history = [ev("newbie", "B0"), ev("newbie", "A1", "watched", 0.5)]
    before = fitted.fold_in(history)
    stored = fitted.stored_user_vector("b4")
    assert fitted.drop_user("a3") and not fitted.drop_user("a3")
    assert not fitted.has_user("a3") and fitted.user_factors.shape[0] == 59
    np.testing.assert_allclose(fitted.fold_in(history), before, rtol=1e-5)  # type: ignore[arg-type]
    np.testing.assert_array_equal(fitted.stored_user_vector("b4"), stored)  # type: ignore[arg-type]


def test_the_service_reloads_only_when_a_new_version_appears(
    tmp_path: Path,
    log_events: list[FeedbackEvent],
    cfg: CollabSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.collab.service as service

    loads: list[Path] = []

    def counted(folder: Path) -> CollabModel:
        loads.append(folder)
        return load_model(folder)

    monkeypatch.setattr(service, "load_model", counted)
    collab = Collaborative(tmp_path, cfg)
    train(log_events, cfg, collab.store, tune=False)
    listings: list[int] = []
    versions = collab.store.versions
    monkeypatch.setattr(collab.store, "versions", lambda: listings.append(1) or versions())
    first = collab.model
    for _ in range(5):
        assert collab.model is first
        collab.collab_scores([ev("u", "A0")], ALL)
    assert len(loads) == 1 and listings == []  # one read of LATEST per call, no folder listing
    train(log_events, cfg, ModelStore(model_root(tmp_path)), tune=False)  # another process
    assert collab.model is not first and [p.name for p in loads] == ["v0001", "v0002"]

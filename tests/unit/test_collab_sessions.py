"""Conversation sessions in the collaborative model: co-occurrence, session popularity, tuning.

Synthetic log whose answer is known: in every conversation session the user likes a pair
(P_i, Q_i), ``HOT`` is liked in most sessions, and an imported MovieLens-style log (one
``import:`` session per user) likes P_i with R_i, which must not count as a session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from agent.collab import (
    CollabModel,
    Collaborative,
    SessionWeights,
    build_sessions,
    leave_last_in_session,
    load_model,
    train,
    tune_sessions,
)
from agent.collab.blend import SIGNALS
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, FeedbackKind

T0 = datetime(2025, 1, 1, tzinfo=UTC)
PAIRS = 8


def ev(
    user: str, video: str, session: str | None, minute: int, kind: FeedbackKind = "like"
) -> FeedbackEvent:
    return FeedbackEvent(user, video, kind, None, T0 + timedelta(minutes=minute), session)


def session_log() -> list[FeedbackEvent]:
    events = []
    for n in range(64):
        i = n % PAIRS
        user, sid = f"chat{n}", f"s{n}"
        events += [ev(user, f"P{i}", sid, 0), ev(user, f"Q{i}", sid, 1)]
        if n % 3:
            events.append(ev(user, "HOT", sid, 2))
        events.append(ev(user, f"X{n}", sid, 3, "dislike"))  # not a liked video of the session
    for n in range(64):  # imported history: P_i goes with R_i, in no session
        i = n % PAIRS
        events += [ev(f"ml{n}", f"P{i}", "import:movielens", 0), ev(f"ml{n}", f"R{i}", None, 1)]
    return events


@pytest.fixture(scope="module")
def cfg() -> CollabSettings:
    return CollabSettings(factors=4, iterations=10, threads=1)


@pytest.fixture(scope="module")
def model(cfg: CollabSettings) -> CollabModel:
    return CollabModel.fit_events(session_log(), cfg)


def test_sessions_are_the_liked_videos_of_each_conversation_never_an_import(
    cfg: CollabSettings,
) -> None:
    items = sorted({e.video_id for e in session_log()})
    sessions = build_sessions(session_log(), cfg, items)
    assert len(sessions.users) == 64 and set(sessions.users) == {f"chat{n}" for n in range(64)}
    liked = {items[c] for c in sessions.matrix[0].indices}
    assert liked == {"P0", "Q0"}  # chat0: no HOT (0 % 3 == 0), the dislike is not a like
    assert not any(items[c].startswith(("R", "X")) for c in sessions.matrix.indices)


def test_session_co_occurrence_finds_the_partner_and_ignores_imported_history(
    model: CollabModel,
) -> None:
    scores = model.session_scores([], seeds=["P3"])
    assert scores is not None
    ranked = [model.item_ids[i] for i in np.argsort(-scores)]
    assert ranked[0] == "Q3"
    assert scores[model.item_rows(["R3"])[0]] == 0.0  # imported co-occurrence is not a session
    assert model.session_scores([], seeds=["nobody-knows"]) is None


def test_session_popularity_ranks_what_conversations_ask_for(model: CollabModel) -> None:
    popular = model.popular_scores()
    assert popular is not None
    assert model.item_ids[int(np.argmax(popular))] == "HOT"
    only_imports = CollabModel.fit_events(
        [e for e in session_log() if e.user_id.startswith("ml")], model.cfg
    )
    assert only_imports.popular_scores() is None and only_imports.meta.n_sessions == 0
    # what people watched next is order in anyone's timeline, imported or not
    assert set(only_imports.signals([], seeds=["P1"])) == {"collab", "recent", "next"}
    assert set(model.signals([], seeds=["P1"])) == {
        "collab",
        "recent",
        "session",
        "popular",
        "next",
    }


def test_session_weights_change_the_score_only_when_set(model: CollabModel) -> None:
    ids = model.item_ids
    off = model.scores([], ["P5"], session_weights=SessionWeights())
    on = model.scores([], ["P5"], session_weights=SessionWeights(4.0, 1.0))
    q5 = ids.index("Q5")
    assert on[q5] > off[q5]
    assert next(ids[i] for i in np.argsort(-on) if ids[i] != "P5") == "Q5"


def test_leave_last_in_session_holds_out_each_sessions_latest_like(
    cfg: CollabSettings,
) -> None:
    train_events, held = leave_last_in_session(session_log(), cfg)
    assert len(held) == 64
    first = next(h for h in held if h.user_id == "chat1")
    assert (first.target, first.seeds) == ("HOT", ["Q1", "P1"])
    assert not any(e.user_id == "chat1" and e.video_id == "HOT" for e in train_events)
    assert any(e.user_id == "ml1" for e in train_events)  # imports are never held out


def test_tuning_weighs_the_session_signals_that_predict_the_held_out_video(
    cfg: CollabSettings,
) -> None:
    tuned = tune_sessions(session_log(), cfg, None)
    assert tuned is not None
    weights, scores = tuned
    assert weights.session > 0 or weights.popularity > 0
    assert scores["session:blend:ndcg@10"] > scores["session:none:ndcg@10"]
    # HOT is the last like of all 42 sessions that have it: held out everywhere, the model never
    # sees it, so only the 22 sessions ending on their Q_i are scored
    assert scores["sessions"] == 22


def test_train_records_session_weights_and_forgetting_drops_the_users_sessions(
    tmp_path: Path, cfg: CollabSettings
) -> None:
    collab = Collaborative(tmp_path, cfg)
    report = train(session_log(), cfg, collab.store)
    assert report.session_tuning is not None
    loaded = collab.model
    assert loaded is not None and loaded.meta.session_blend is not None
    assert loaded.meta.n_sessions == 64 and "chat7" in loaded.sessions.users
    assert loaded.session_popularity[loaded.item_ids.index("HOT")] == 42
    assert collab.collab_candidates([], ["P2"], 3)[0] == "Q2"

    collab.forget_user("chat7")
    for model in (collab.model, load_model(collab.store.versions()[-1])):
        assert model is not None and "chat7" not in model.sessions.users
        assert model.meta.n_sessions == 63
        assert model.session_popularity[model.item_ids.index("HOT")] == 41


def test_a_turn_scores_the_user_once_and_forgetting_drops_the_kept_scores(
    tmp_path: Path, cfg: CollabSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    collab = Collaborative(tmp_path, cfg)
    train(session_log(), cfg, collab.store, tune=False)
    model = collab.model
    assert model is not None
    calls: list[int] = []
    signals = model.signals

    def counted(history: object, seeds: object = ()) -> object:
        calls.append(1)
        return signals(history, seeds)  # type: ignore[arg-type]

    monkeypatch.setattr(model, "signals", counted)
    picks = collab.collab_candidates([], ["P2"], 3)  # the ranker's candidates ...
    scores = collab.collab_scores([], picks, ["P2"])  # ... then the pool's scores, same state
    assert len(calls) == 1 and list(scores) == sorted(scores, reverse=True)
    collab.collab_scores([], picks, ["P3"])  # another state is scored afresh
    assert len(calls) == 2
    # the learned stage's features: each signal of the same state, read from what was kept
    got = collab.collab_signals([], [*picks, "not-in-model"], ["P3"])
    assert len(calls) == 2 and "session" in got and set(got) <= set(SIGNALS)
    assert all(np.isnan(v[-1]) for v in got.values())  # a video the model does not know
    blended = model.blend({n: v[:-1] for n, v in got.items()})  # the blend of those signals
    np.testing.assert_allclose(blended, collab.collab_scores([], picks, ["P3"]))
    collab.forget_user("chat7")
    collab.collab_scores([], picks, ["P3"])
    assert len(calls) == 3

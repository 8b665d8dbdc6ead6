"""What people watch next (agent.collab.transitions): timelines, transition counts, the ``next``
signal, its tuned weight, and forgetting.

Synthetic log whose answer is known: the videos ``S0 .. S11`` form a series that every user
watches in order, a few consecutive ones each (starting anywhere), an unrelated video before
each; so a user who just watched ``S4`` goes on to ``S5``, which an order-blind signal cannot
tell from ``S3``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from agent.collab import CollabModel, load_model, train
from agent.collab.blend import BlendWeights, SessionWeights, signal_weights
from agent.collab.store import ModelStore
from agent.collab.transitions import Timelines, build_timelines, transition_matrix
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, FeedbackKind

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SERIES = [f"S{i}" for i in range(12)]


def ev(user: str, video: str, minute: int, kind: FeedbackKind = "like") -> FeedbackEvent:
    return FeedbackEvent(user, video, kind, None, T0 + timedelta(minutes=minute))


def series_log(users: int = 60, length: int = 4) -> list[FeedbackEvent]:
    rng = np.random.default_rng(3)
    events = []
    for n in range(users):
        start = int(rng.integers(0, len(SERIES) - length + 1))
        minute = 0
        for video in SERIES[start : start + length]:
            events.append(ev(f"u{n}", f"X{int(rng.integers(0, 30))}", minute))
            events.append(ev(f"u{n}", video, minute + 1))
            minute += 2
    return events


@pytest.fixture(scope="module")
def cfg() -> CollabSettings:
    return CollabSettings(factors=4, iterations=10, threads=1)


def test_a_timeline_is_the_order_of_first_events_ties_by_id() -> None:
    events = [
        ev("u", "B", 5),
        ev("u", "A", 1),
        ev("u", "B", 0, "dislike"),  # its first event with B is the earliest: B comes first
        ev("u", "C", 1),  # same minute as A: id order
        ev("u", "UNKNOWN", 2),
        ev("lone", "A", 0),  # one video: nothing follows, no timeline
    ]
    timelines = build_timelines(events, ["A", "B", "C"])
    assert timelines.users == ["u"]
    assert timelines.row(0).tolist() == [1, 0, 2]  # B, A, C


def test_transitions_count_each_later_place_within_the_window_with_decay() -> None:
    timelines = Timelines(["u"], np.array([0, 4]), np.array([0, 1, 2, 3]))
    t = transition_matrix(timelines, 4, window=2, gap_decay=0.5).toarray()
    assert t[0, 1] == 1.0 and t[0, 2] == 0.5 and t[0, 3] == 0.0  # 3 places later: outside
    assert t[2, 3] == 1.0 and t[1, 0] == 0.0  # nothing counts backwards
    twice = Timelines(["u", "v"], np.array([0, 2, 4]), np.array([0, 1, 0, 1]))
    assert transition_matrix(twice, 2, window=5, gap_decay=0.7).toarray()[0, 1] == 2.0


def test_next_scores_put_what_follows_the_latest_video_first(cfg: CollabSettings) -> None:
    model = CollabModel.fit_events(series_log(), cfg)
    history = [ev("new", "S3", 0), ev("new", "S4", 1)]
    scores = model.take(model.next_scores(history), SERIES)  # type: ignore[arg-type]
    unseen = [v for v in SERIES if v not in ("S3", "S4")]
    best = max(unseen, key=lambda v: scores[SERIES.index(v)])
    assert best == "S5"
    assert scores[SERIES.index("S5")] > scores[SERIES.index("S2")]  # order, not co-occurrence


def test_the_weight_of_next_is_tuned_and_ranks_the_next_video_first(
    cfg: CollabSettings, tmp_path: Path
) -> None:
    events = series_log()
    vectors = {v: np.ones(4, dtype=np.float32) for v in {e.video_id for e in events}}
    report = train(events, cfg, ModelStore(tmp_path), item_vectors=vectors)
    weights = report.meta.blend
    assert weights is not None and weights.next > 0
    assert "next:ndcg@10" in report.meta.validation
    model = load_model(report.path)
    history = [ev("new", "S6", 0), ev("new", "S7", 1)]
    ranked, _ = model.recommend(history, n=1, filter_already_liked_items=True)
    assert ranked == ["S8"]


def test_signal_weights_carry_next_and_an_old_blend_has_none() -> None:
    weights = signal_weights(BlendWeights(collab=0.2, recent=0.1, next=0.3), SessionWeights())
    assert weights["next"] == 0.3
    assert BlendWeights().next == 0.0 and BlendWeights(next=0.5).collab_side == 0.9


def test_timelines_are_saved_and_a_forgotten_users_share_is_gone(
    cfg: CollabSettings, tmp_path: Path
) -> None:
    events = [*series_log(users=10), ev("solo", "Z1", 0), ev("solo", "Z2", 1)]
    store = ModelStore(tmp_path)
    store.save(CollabModel.fit_events(events, cfg))
    model = store.load_latest()
    assert model is not None and "solo" in model.timelines.users
    z1, z2 = model.item_rows(["Z1", "Z2"])
    assert model._next[z1, z2] == 1.0
    assert store.forget_user("solo") == 1
    after = store.load_latest()
    assert after is not None and "solo" not in after.timelines.users
    assert after._next[z1, z2] == 0.0 and after.meta.n_timelines == len(after.timelines)

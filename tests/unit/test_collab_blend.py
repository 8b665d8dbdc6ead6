"""Blending the collaborative signal with the others and tuning the blend on held-out likes,
on the synthetic log of ``tests.collab_data``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.collab import (
    Collaborative,
    ModelMeta,
    ModelStore,
    hit_ndcg,
    leave_last_out,
    model_root,
    train,
    tune_blend,
)
from agent.collab.tuning import ratio_grid
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from tests.collab_data import (
    ALL,
    cfg_fixture,  # noqa: F401  (fixture)
    ev,
    log_events_fixture,  # noqa: F401  (fixture)
)


# --- blending and tuning -----------------------------------------------------------------------
def test_hit_ndcg_breaks_ties_against_the_target() -> None:
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    # row 0: the target (column 2) ties with two lower columns -> rank 2; row 1: rank 0
    hr, ndcg = hit_ndcg(scores, np.array([2, 1]), k=2)
    assert hr == 0.5
    assert ndcg == pytest.approx(0.5 * 1.0)
    hr, ndcg = hit_ndcg(scores, np.array([2, 1]), k=3)
    assert hr == 1.0 and ndcg == pytest.approx((1 / np.log2(4) + 1.0) / 2)


def test_ratio_grid_covers_each_signal_alone_and_every_mix_once() -> None:
    grid = ratio_grid("profile", ("collab", "recent"), ratios=(0.0, 1.0, 2.0))
    assert all(sum(w.values()) == pytest.approx(1.0) for w in grid)
    keys = [tuple(sorted(w.items())) for w in grid]
    assert len(keys) == len(set(keys))
    assert {"profile": 1.0, "collab": 0.0, "recent": 0.0} in grid
    assert {"profile": 0.0, "collab": 1.0, "recent": 0.0} in grid
    assert {"profile": 0.0, "collab": 0.0, "recent": 1.0} in grid
    # profile 1 with the 3x3 ratio pairs; without profile the distinct directions (0,1) (1,0)
    # (1,1) (1,2) (2,1): (0,2) (2,0) (2,2) are the same mixes again
    assert len(grid) == 9 + 5
    assert len(ratio_grid()) == 16  # the 15 default ratios with profile, and collab alone


def test_a_model_tuned_before_the_recent_signal_keeps_it_off() -> None:
    old = {
        "version": 1,
        "fitted_at": "2026-01-01T00:00:00+00:00",
        "n_users": 1,
        "n_items": 1,
        "n_events": 1,
        "n_pairs": 1,
        "fit_seconds": 0.1,
        "algorithm": "implicit.als",
        "settings": {},
        "blend": {"content": 1.0, "profile": 0.9, "collab": 0.1, "popularity": 0.0, "source": "x"},
    }
    meta = ModelMeta.from_json(json.dumps(old))
    assert meta.blend is not None and meta.blend.recent == 0.0 and meta.blend.collab == 0.1


def test_tuning_puts_the_weight_on_the_signal_that_predicts_the_target() -> None:
    rng = np.random.default_rng(0)
    users, items = 200, 50
    targets = rng.integers(0, items, size=users)
    useful = rng.normal(size=(users, items)).astype(np.float32)
    useful[np.arange(users), targets] += 3.0
    noise = rng.normal(size=(users, items)).astype(np.float32)
    result = tune_blend({"profile": noise, "collab": useful}, targets, step=0.25)
    assert result.weights.collab > result.weights.profile
    assert result.scores["blend:ndcg@10"] >= result.scores["collab:ndcg@10"]
    assert result.scores["collab:hr@10"] > result.scores["profile:hr@10"]
    assert result.candidates_tried == 5


def test_train_tunes_the_blend_and_records_it_with_the_model(
    tmp_path: Path, log_events: list[FeedbackEvent], cfg: CollabSettings
) -> None:
    # content vectors that know the clusters only roughly: collab should earn weight
    rng = np.random.default_rng(1)
    vectors = {v: rng.normal(size=8).astype(np.float32) for v in ALL}
    report = train(log_events, cfg, ModelStore(model_root(tmp_path)), item_vectors=vectors)
    assert report.tuning is not None and report.meta.blend is not None
    meta = json.loads((report.path / "meta.json").read_text())
    assert meta["blend"]["collab"] == report.tuning.weights.collab
    assert "collab:ndcg@10" in meta["validation"]
    collab = Collaborative(tmp_path, cfg)
    weight = collab.collab_weight(profile_weight=0.3, default=0.2)
    assert weight > 0.0
    blend = report.meta.blend
    assert meta["blend"]["recent"] == blend.recent
    assert "recent:ndcg@10" in meta["validation"]
    assert weight == pytest.approx(0.3 * min((blend.collab + blend.recent) / blend.profile, 20.0))
    # no profile (a new conversational user): no ratio to keep, the setting applies
    assert collab.collab_weight(profile_weight=0.0, default=0.2) == 0.2
    off = Collaborative(tmp_path, cfg.model_copy(update={"use_tuned_weights": False}))
    assert off.collab_weight(profile_weight=0.3, default=0.2) == 0.2


def test_leave_last_out_holds_out_the_latest_positive_video() -> None:
    cfg = CollabSettings()
    events = [
        ev("u", "v1", minute=1),
        ev("u", "v2", minute=2),
        ev("u", "v3", minute=3),
        ev("u", "v4", "dislike", minute=4),
        ev("w", "v1", minute=1),
    ]
    train_events, held = leave_last_out(events, cfg, min_positive=3)
    assert held == {"u": "v3"}
    assert all(not (e.user_id == "u" and e.video_id == "v3") for e in train_events)
    assert len(train_events) == 4

"""``vidrec train --search``: the ALS settings and the recent decay chosen on a held-out split."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from agent.collab import ModelStore, train
from agent.collab.search import search_settings
from agent.settings import CollabSettings
from agent.types import FeedbackEvent

A = [f"A{i}" for i in range(10)]
B = [f"B{i}" for i in range(10)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def crowd() -> list[FeedbackEvent]:
    rng = np.random.default_rng(7)
    return [
        FeedbackEvent(f"{name}{u}", items[i], "like", None, T0 + timedelta(minutes=m))
        for name, items in (("a", A), ("b", B))
        for u in range(30)
        for m, i in enumerate(rng.choice(10, 6, replace=False))
    ]


GRID = ({"factors": 1, "regularization": 10.0}, {"factors": 4, "regularization": 0.1})


def test_the_search_picks_the_best_candidate_it_scored() -> None:
    cfg = CollabSettings(iterations=15, threads=1)
    found = search_settings(crowd(), cfg, grid=GRID, decays=(0.5, 0.9))
    als = {k: v for k, v in found.scores.items() if k.startswith("als:")}
    assert list(als) == ["als:factors=1,regularization=10", "als:factors=4,regularization=0.1"]
    best = max(als, key=lambda k: als[k])
    assert (
        best
        == f"als:factors={found.settings.factors},regularization={found.settings.regularization:g}"
    )
    decays = {k: v for k, v in found.scores.items() if k.startswith("recent_decay=")}
    assert len(decays) == 2
    assert found.settings.recent_decay in (0.5, 0.9)
    assert decays[f"recent_decay={found.settings.recent_decay:g}"] == max(decays.values())


def test_too_small_a_log_keeps_the_settings() -> None:
    cfg = CollabSettings(threads=1)
    few = [e for e in crowd() if e.user_id in ("a1", "b1")]
    assert search_settings(few, cfg, grid=GRID).settings == cfg


def test_train_with_search_fits_and_records_the_chosen_settings(tmp_path: Path) -> None:
    cfg = CollabSettings(iterations=15, threads=1)
    report = train(crowd(), cfg, ModelStore(tmp_path), tune=False, search=True)
    meta = json.loads((report.path / "meta.json").read_text())
    assert any(k.startswith("als:factors=") for k in meta["validation"])
    assert meta["settings"]["factors"] in (32, 64, 128)
    assert report.meta.settings["recent_decay"] in (0.5, 0.6, 0.7, 0.8, 0.9)

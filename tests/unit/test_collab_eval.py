"""evaluation.collab_eval on the harness's tiny fixtures (fake embedder, real Chroma/SQLite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from evaluation.collab_eval import paired_bootstrap, run
from evaluation.conv_collab import dialogue_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
ML = FIXTURES / "movielens"


@pytest.fixture
def small_als(settings: Settings) -> Settings:
    collab = settings.agent.collab.model_copy(update={"factors": 4, "threads": 1})
    return settings.model_copy(
        update={"agent": settings.agent.model_copy(update={"collab": collab})}
    )


def test_movielens_run_reports_every_system_with_accuracy_and_diversity(
    small_als: Settings,
) -> None:
    report = run(ML, small_als)
    names = [s.name for s in report.systems]
    assert names == [
        "popularity",
        "cold-start",
        "content",
        "als",
        "bpr",
        "item-knn",
        "recent",
        "hybrid",
        "hybrid+mmr",
    ]
    for result in report.systems:
        for metric in ("HR@10", "NDCG@10", "ILD@10", "Coverage@10"):
            assert 0.0 <= result.metrics[metric] <= 2.0, (result.name, metric)
        assert result.metrics["NDCG@10"] <= result.metrics["HR@10"]
    blend = report.settings["blend"]
    assert blend["profile"] + blend["collab"] + blend["recent"] == pytest.approx(1.0)
    assert report.n_cases == report.n_cases_total > 0
    margins = [n for n in report.notes if n.startswith("hybrid - best")]
    assert len(margins) == 4 and all("bootstrap interval" in n for n in margins)
    assert any(n.startswith("recent_decay") for n in report.notes)


def test_a_dialogue_is_one_session_liking_each_movie_once_in_order() -> None:
    from evaluation.dialogues import Dialogue, Utterance

    dialogue = Dialogue(
        "d1",
        (
            Utterance("seeker", "I loved A and B", ("A", "B")),
            Utterance("recommender", "Try C, or A again", ("C", "A")),
        ),
    )
    events = dialogue_events(dialogue)
    assert [e.video_id for e in events] == ["A", "B", "C"]
    history = dialogue_events(dialogue, as_session=False)  # --no-sessions: imported history
    assert {e.session_id for e in history} == {"import:dialogue:d1"}
    assert {(e.user_id, e.session_id, e.kind) for e in events} == {
        ("dialogue:d1", "dialogue:d1", "like")
    }
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert len({e.timestamp for e in events}) == 3


def test_paired_bootstrap_interval_brackets_the_mean_and_sees_a_real_gap() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random(600) < 0.2).astype(float)
    same = paired_bootstrap(a, a)
    assert same == (0.0, 0.0, 0.0)
    better = np.maximum(a, (rng.random(600) < 0.1).astype(float))  # a plus some extra hits
    mean, low, high = paired_bootstrap(better, a)
    assert 0.0 < low <= mean <= high
    assert mean == pytest.approx(better.mean() - a.mean())

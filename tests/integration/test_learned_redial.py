"""The learned ranking stage trained on real ReDial dialogues (the first 150 of the validation
file) over the real MovieLens catalogue, through `vidrec eval redial`'s cross-fitting: each fold's
ranker is fitted on the other fold's cases and plugged into the shipped Recommender. The embedder
and LLM are the fakes (the stage, its rows and its training are what is tested; the numbers are
measured by `vidrec eval redial` with the real models, see docs/learned-ranking.md). Skips without
the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_ranker_trains_on_real_dialogues_and_ranks(
    shared_data: Path, settings: Settings, tmp_path: Path
) -> None:
    redial = shared_data / "redial" / "valid_data.jsonl"
    movielens = shared_data / "movielens" / "ml-latest-small"
    if not redial.is_file() or not (movielens / "movies.csv").is_file():
        pytest.skip(f"ReDial or MovieLens not found under {shared_data}")
    subset = tmp_path / "redial_150.jsonl"
    with redial.open(encoding="utf-8") as fh:
        subset.write_text(
            "".join(line for _, line in zip(range(150), fh, strict=False)), encoding="utf-8"
        )
    agent = settings.agent.model_copy(
        update={
            "understand": "parser",
            "learned": settings.agent.learned.model_copy(update={"min_turns": 20, "gate_turns": 0}),
        }
    )
    report = run_eval(
        EvalOptions(
            task="redial",
            data=subset,
            movielens=movielens,
            limit=40,
            systems=("vidrec",),
            folds=2,
            learned_cases=200,
            ablations=("blend", "noreading"),
        ),
        settings.model_copy(update={"agent": agent}),
    )
    note = next(n for n in report.notes if n.startswith("vidrec learned ranker"))
    assert "fold 0: " in note and "fold 1: " in note and "no learned ranker" not in note, note
    assert "top features" in note
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-blend", "vidrec-noreading"]
    for row in report.systems:
        assert row.n == 40 and "errors" not in row.metrics, report.notes
        assert 0.0 <= row.metrics["Recall@10"] <= row.metrics["Recall@50"] <= 1.0

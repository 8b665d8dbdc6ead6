"""TED known-item task: talk loading, the transcript-only manifest, a popularity run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation.metrics import bootstrap_ci
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from evaluation.ted import has_speech, load_talks, manifest_line, without_speaker
from evaluation.workspace import EvalError
from retrieval.errors import InvalidInputError

TED = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "ted"


def test_only_paired_talks_are_loaded() -> None:
    talks = load_talks(TED)
    assert [t.id for t in talks] == ["ted-0", "ted-1", "ted-2"]
    assert "galaxies & stars" in talks[1].description  # HTML entities undone
    assert talks[1].views == 900 and talks[1].duration == 700.0
    assert talks[0].transcript.is_file()


def test_manifest_row_exposes_neither_title_nor_description() -> None:
    talk = load_talks(TED)[0]
    row = json.loads(manifest_line(talk))
    assert row["title"] == "talk 0"
    assert "description" not in row and "tags" not in row
    text = json.dumps(row).lower()
    assert "dance" not in text and "bees" not in text.replace("bees.md", "")
    assert Path(row["transcript_path"]).is_absolute()


def test_popularity_run_by_hand(settings: Settings) -> None:
    report = run_eval(EvalOptions(task="ted", data=TED, systems=("popularity",)), settings)
    metrics = report.system("popularity").metrics
    # views: space 900 > bees 500 > bread 100; each query's talk sits at rank 2, 1, 3
    assert metrics["Recall@1"] == pytest.approx(1 / 3)
    assert metrics["Recall@10"] == 1.0
    assert metrics["MRR"] == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    per_case = report.system("popularity").per_case
    assert len(per_case) == 3 and set(per_case.values()) == {1.0}  # Recall@10 per query
    assert report.dataset["talks_indexed"] == 3


def test_max_talks_keeps_the_queries(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(task="ted", data=TED, systems=("popularity",), limit=1, max_talks=2),
        settings,
    )
    assert report.dataset["talks_indexed"] == 2
    assert report.system("popularity").metrics["Recall@10"] == 1.0
    with pytest.raises(EvalError, match="--max-talks is smaller"):
        run_eval(
            EvalOptions(task="ted", data=TED, systems=("popularity",), limit=2, max_talks=1),
            settings,
        )


def test_speaker_names_come_out_of_the_query() -> None:
    assert load_talks(TED)[0].speaker == "Ann Bee"
    text = "Ann Bee shows why bees dance; as Bee says, annbee is not a name."
    assert (
        without_speaker(text, "Ann Bee") == "shows why bees dance; as says, annbee is not a name."
    )
    assert without_speaker(text, "") == text


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_cases() -> None:
    few = [1.0, 0.0] * 10
    many = [1.0, 0.0] * 500
    lo, hi = bootstrap_ci(few)
    assert lo < 0.5 < hi
    lo2, hi2 = bootstrap_ci(many)
    assert lo < lo2 < 0.5 < hi2 < hi
    assert bootstrap_ci([1.0] * 5) == (1.0, 1.0) and bootstrap_ci([]) == (0.0, 0.0)
    with pytest.raises(InvalidInputError):
        bootstrap_ci(few, level=95)


def test_every_system_also_runs_without_the_speaker_and_reports_intervals(
    settings: Settings,
) -> None:
    report = run_eval(EvalOptions(task="ted", data=TED, systems=("popularity",)), settings)
    names = [s.name for s in report.systems]
    assert names == ["popularity", "popularity/no-speaker"]
    metrics = report.system("popularity").metrics
    assert metrics["Recall@1 lo"] <= metrics["Recall@1"] <= metrics["Recall@1 hi"]
    assert metrics["MRR lo"] <= metrics["MRR"] <= metrics["MRR hi"]
    assert report.dataset["queries_naming_their_speaker"] == 0  # fixtures never name them


def test_a_performance_without_spoken_text_is_told_apart(tmp_path: Path) -> None:
    talk = load_talks(TED)[0]
    assert has_speech(talk)
    silent = tmp_path / "performance.md"
    silent.write_text("(Music)\n\n(Applause)\n", encoding="utf-8")
    assert not has_speech(dataclasses.replace(talk, transcript=silent))


def test_not_a_ted_folder(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(EvalError, match="Not a TED data folder"):
        run_eval(EvalOptions(task="ted", data=tmp_path, systems=("popularity",)), settings)

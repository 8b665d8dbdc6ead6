"""INSPIRED loading and case extraction on a hand-written tsv."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation.dialogues import extract_all
from evaluation.inspired import load_inspired, load_youtube_map
from evaluation.movies import CatalogueBuilder, MovieLens
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from retrieval.errors import InvalidInputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
ML = FIXTURES / "movielens"


@pytest.fixture
def builder() -> CatalogueBuilder:
    return CatalogueBuilder(MovieLens.load(ML), "inspired")


def test_cases_and_trailers(builder: CatalogueBuilder) -> None:
    data = load_inspired(
        FIXTURES / "inspired_tiny.tsv", builder, load_youtube_map(FIXTURES / "youtube.csv")
    )
    assert [d.id for d in data.dialogues] == ["a1", "a2"]
    cases = extract_all(data.dialogues)
    assert [c.id for c in cases] == ["a1#2", "a1#4", "a2#1"]
    first, second, third = cases

    # "Try Se7en" + "or Cosmos" are one recommender turn; The Usual Suspects was the seeker's
    assert first.targets == ("ml:3", "inspired:cosmos-2015")
    assert first.excluded == frozenset({"ml:2"})
    assert first.context[-1].content == 'I loved The Usual Suspects Something with a "twist" please'
    # "The Usual Suspects (1995);  Heat (1995)": only Heat is new
    assert second.targets == ("ml:6",)
    assert "ml:2" in second.excluded and "ml:3" in second.excluded
    assert third.targets == ("ml:7",)
    assert third.context[0].role == "user"

    # trailer ids: only a2's is in the ml-youtube map
    assert data.trailer_ids == {"a1": "trailerX", "a2": "trailerMOW"}
    assert data.trailer_items == {"a2": "ml:7"}


def test_missing_columns_are_named(tmp_path: Path, builder: CatalogueBuilder) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("dialog_id\tspeaker\ttext\nx\tSEEKER\thi\n")
    with pytest.raises(InvalidInputError, match="missing columns: utt_id, movies"):
        load_inspired(bad, builder)


def test_unknown_speaker_names_the_line(tmp_path: Path, builder: CatalogueBuilder) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "dialog_id\tutt_id\tspeaker\ttext\tmovies\nx\t1\tSEEKER\thi\t\nx\t2\tBOT\tyo\t\n"
    )
    with pytest.raises(InvalidInputError, match=r"bad\.tsv:3: unknown speaker"):
        load_inspired(bad, builder)


def test_popularity_run(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(
            task="inspired",
            data=FIXTURES / "inspired_tiny.tsv",
            movielens=ML,
            youtube=FIXTURES / "youtube.csv",
            systems=("popularity",),
        ),
        settings,
    )
    assert report.n_cases == 3
    assert report.dataset["trailers_matched_movielens"] == "1 of 2"
    assert report.dataset["targets_matched_movielens"] == pytest.approx(3 / 4)
    assert report.system("popularity").metrics["Recall@50"] == 1.0

"""``vidrec eval redial|inspired --extra-dialogues TASK:PATH``: another data set's dialogues that
every fold's query encoder learns from first, never scored (``evaluation.extra_dialogues``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.settings import Settings
from evaluation.dialogues import Dialogue, Utterance
from evaluation.extra_dialogues import ExtraDialogues, parse_extra, restrict_to
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from evaluation.workspace import EvalError
from retrieval.errors import InvalidInputError
from tests.fakes.query_adapt import Training, fake_query_adapt
from ui.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
REDIAL = FIXTURES / "redial_tiny.jsonl"


INSPIRED = EvalOptions(  # scored: INSPIRED's tiny file, cross-fitted on two folds
    task="inspired",
    data=FIXTURES / "inspired_tiny.tsv",
    movielens=FIXTURES / "movielens",
    youtube=FIXTURES / "youtube.csv",
    systems=("popularity", "vidrec"),
    folds=2,
)


def _inspired(**kwargs: Any) -> EvalOptions:
    return replace(INSPIRED, **kwargs)


def test_the_option_names_a_known_task_and_an_existing_file(tmp_path: Path) -> None:
    assert parse_extra(f"redial:{REDIAL}") == ExtraDialogues("redial", REDIAL)
    for bad, says in [
        (str(REDIAL), "TASK:PATH"),
        (f"movielens:{REDIAL}", "TASK:PATH"),
        ("redial:", "TASK:PATH"),
        (f"redial:{tmp_path / 'missing.jsonl'}", "file not found"),
    ]:
        with pytest.raises(InvalidInputError, match=says) as caught:
            parse_extra(bad)
        assert caught.value.hint


def test_movies_the_catalogue_lacks_are_dropped_and_the_words_kept() -> None:
    dialogue = Dialogue(
        "7",
        (
            Utterance("seeker", "I loved Heat and Obscure Film", ("ml:6", "redial:obscure")),
            Utterance("recommender", "Try Se7en", ("ml:3",)),
        ),
        opinions=(("ml:6", "like"), ("redial:obscure", "dislike")),
    )
    (kept,), counts = restrict_to([dialogue], {"ml:6", "ml:3"}, prefix="redial")
    assert kept.id == "redial:7"
    assert [u.movies for u in kept.utterances] == [("ml:6",), ("ml:3",)]
    assert [u.text for u in kept.utterances] == [u.text for u in dialogue.utterances]
    assert kept.opinions == (("ml:6", "like"),)
    assert counts == {"dialogues": 1, "mentions_kept": 2, "mentions_dropped": 1}


def test_every_fold_encoder_goes_on_from_one_that_learned_the_extra_dialogues(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One encoder learns the extra file's pairs first and each fold's encoder goes on from it
    on its own training folds' pairs; the cases, the catalogue, the collaborative models and the
    popularity baseline are the scored file's alone."""
    import evaluation.conv_queries as conv_queries
    import evaluation.conversational as conversational

    trainings: list[Training] = []
    bases: list[Path] = []  # the model each encoder started from
    fake_adapt = fake_query_adapt(trainings, bases)

    counted: list[set[str]] = []  # the dialogues the popularity baseline counts mentions of
    real_popularity = conversational.LeaveOneOutPopularity

    def spy_popularity(mentions: dict[str, set[str]], *args: Any) -> Any:
        counted.append(set(mentions))
        return real_popularity(mentions, *args)

    monkeypatch.setattr(conversational, "LeaveOneOutPopularity", spy_popularity)
    monkeypatch.setattr(conv_queries, "adapt_query_encoder", fake_adapt)
    monkeypatch.setattr(conv_queries, "resolve_model_path", lambda model, models_dir: Path(model))
    plain = run_eval(_inspired(), settings)
    extra = ExtraDialogues("redial", REDIAL)
    report = run_eval(_inspired(extra=extra, adapt_queries=True), settings)

    assert (
        report.n_cases == plain.n_cases
        and report.dataset["catalogue_items"] == (plain.dataset["catalogue_items"])
    )
    assert report.dataset["extra_dialogues"] == 2
    assert counted[1] == counted[0] and not any(d.startswith("redial:") for d in counted[1])
    assert report.dataset["extra_mentions_kept"] >= 5
    folds = [n for n in report.notes if n.startswith("vidrec collaborative fold")]
    assert folds and all("extra" not in n for n in folds)  # the collaborative logs: unchanged

    texts_of = [{p.query for p in pairs} for pairs, *_ in trainings]
    assert bases[0] == Path(settings.embedding.model)  # the extra encoder: from the embedder
    assert any("crime movies" in text for text in texts_of[0])  # ReDial's words
    assert len(trainings) == 1 + len(folds)
    for base, texts in zip(bases[1:], texts_of[1:], strict=True):
        assert base.name.startswith("inspired-queries-") and base != bases[0]
        assert texts and not any("crime movies" in t for t in texts)  # the fold's own pairs
    assert sum("(from inspired-queries-" in n for n in report.notes) == len(folds)

    again = run_eval(_inspired(extra=extra, adapt_queries=True), settings)
    assert len(trainings) == 1 + len(folds)  # all kept, none trained again
    assert again.system("vidrec").metrics == report.system("vidrec").metrics


def test_extra_dialogues_without_query_encoders_is_refused(settings: Settings) -> None:
    with pytest.raises(EvalError, match="--adapt-queries") as caught:
        run_eval(_inspired(extra=ExtraDialogues("redial", REDIAL)), settings)
    assert caught.value.hint


def test_the_cli_explains_a_wrong_extra_dialogues_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "inspired",
            "--data",
            str(FIXTURES / "inspired_tiny.tsv"),
            "--extra-dialogues",
            str(REDIAL),
            "-q",
        ],
    )
    assert result.exit_code != 0
    assert "TASK:PATH" in str(result.exception) + result.output

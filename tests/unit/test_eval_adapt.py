"""The eval's adapted rows on fixtures: ``--adapt-embedder`` and ``--adapt-queries`` on TED,
``--adapt-queries`` on ReDial. Each trains (a fake of) its model only on the cases it does not
score, and a re-run finds what it trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.settings import Settings
from evaluation.report import EvalReport
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from tests.fakes.query_adapt import Training, fake_query_adapt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def _adapted_run(settings: Settings, suffix: str, **adapt: bool) -> EvalReport:
    """``vidrec eval ted --systems hybrid`` with an adaptation on: the base rows, then the
    adapted ones."""
    options = EvalOptions(task="ted", data=FIXTURES / "ted", systems=("hybrid",), **adapt)
    report = run_eval(options, settings)
    rows = ["hybrid", "hybrid/no-speaker", f"hybrid{suffix}", f"hybrid{suffix}/no-speaker"]
    assert [s.name for s in report.systems] == rows
    return report


def test_adapted_rows_search_each_half_with_a_model_never_trained_on_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--adapt-embedder``: two adaptations, each on the descriptions outside one half of the
    queried talks; every talk is scored once, by the model that did not see its description."""
    import evaluation.ted_adapt as ted_adapt
    from retrieval.embed.adapt import AdaptReport

    trained_on: list[set[str]] = []

    def fake_adapt(base: Path, pairs: list[Any], out: Path, options: Any) -> AdaptReport:
        trained_on.append({p.video_id for p in pairs})
        out.mkdir(parents=True)
        (out / "adapted.json").write_text("{}")
        return AdaptReport(
            out, str(base), len(trained_on[-1]), len(pairs), 1, 1.0, 0.5, 0.1, options
        )

    monkeypatch.setattr(ted_adapt, "adapt_embedder", fake_adapt)
    monkeypatch.setattr(ted_adapt, "resolve_model_path", lambda model, models_dir: Path(model))
    report = _adapted_run(settings, "+adapted", adapt_embedder=True)
    for row in report.systems[2:]:
        assert row.n == 3 and row.metrics["Recall@1"] == 1.0
        assert "embedder adapted (cross-fitted)" in row.description
    talks = {"ted-0", "ted-1", "ted-2"}
    assert len(trained_on) == 2
    held_out = [talks - t for t in trained_on]
    assert held_out[0].isdisjoint(held_out[1]) and held_out[0] | held_out[1] == talks
    assert sum("adapted embedder" in n for n in report.notes) == 2
    again = _adapted_run(settings, "+adapted", adapt_embedder=True)  # found, not made again
    assert len(trained_on) == 2 and sum("reused" in n for n in again.notes) == 2


def test_query_rows_search_the_same_index_with_an_encoder_never_trained_on_the_half(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--adapt-queries``: two query encoders, each fitted on the descriptions outside one half
    against the centroids of every indexed talk; the base workspace is searched with each (its
    folder set as ``embedding.query_model``), and nothing is indexed again."""
    import evaluation.ted_adapt as ted_adapt

    trainings: list[Training] = []
    fake_adapt = fake_query_adapt(trainings)

    opened: list[str | None] = []
    real_open = ted_adapt.open_library

    def spy_open(ev: Settings, lines: list[str]) -> Any:
        opened.append(ev.embedding.query_model)
        return real_open(ev, lines)

    monkeypatch.setattr(ted_adapt, "adapt_query_encoder", fake_adapt)
    monkeypatch.setattr(ted_adapt, "open_library", spy_open)
    monkeypatch.setattr(ted_adapt, "resolve_model_path", lambda model, models_dir: Path(model))
    report = _adapted_run(settings, "+queries", adapt_queries=True)
    calls = [({p.video_id for p in pairs}, ids, targets) for pairs, ids, targets, _ in trainings]
    records = [extra for *_, extra in trainings]
    for row in report.systems[2:]:
        assert row.n == 3 and "query encoder adapted (cross-fitted)" in row.description
    talks = {"ted-0", "ted-1", "ted-2"}
    assert len(calls) == 2
    for _, ids, targets in calls:
        assert sorted(ids) == sorted(talks) and targets.shape[0] == 3  # every talk a target
    held_out = [talks - trained for trained, _, _ in calls]
    assert held_out[0].isdisjoint(held_out[1]) and held_out[0] | held_out[1] == talks
    assert len(opened) == 2 and all(q and "ted-queries-" in q for q in opened)
    assert records == [{}, {}]  # one or two descriptions a half: too few to choose weights on
    assert sum("fusion weights not chosen" in n for n in report.notes) == 2
    workspaces = [p.name for p in (settings.cache_dir / "eval").iterdir() if p.name != "adapted"]
    assert len(workspaces) == 1  # the base workspace, searched with each encoder


def test_adapt_queries_ranks_each_fold_with_an_encoder_trained_on_the_other_folds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``vidrec eval redial --adapt-queries``: one query encoder per fold, fitted on the other
    folds' (conversation, movie taken) pairs against every movie's centroid; that fold's
    recommender searches the same workspace with it; a re-run finds the encoders."""
    import evaluation.conv_queries as conv_queries
    import evaluation.conversational as conversational
    from evaluation.conv_collab import dialogue_requests, fold_of
    from evaluation.systems import RoutedSystem, VidrecSystem

    trainings: list[Training] = []
    fake_adapt = fake_query_adapt(trainings)

    systems: list[Any] = []
    real_vidrec = conversational.vidrec_system

    def spy_vidrec(*args: Any, **kwargs: Any) -> Any:
        made = real_vidrec(*args, **kwargs)
        systems.append(made[0])
        return made

    monkeypatch.setattr(conv_queries, "adapt_query_encoder", fake_adapt)
    monkeypatch.setattr(conv_queries, "resolve_model_path", lambda model, models_dir: Path(model))
    monkeypatch.setattr(conversational, "vidrec_system", spy_vidrec)
    options = EvalOptions(
        task="redial",
        data=FIXTURES / "redial_tiny.jsonl",
        movielens=FIXTURES / "movielens",
        systems=("vidrec",),
        folds=2,
        adapt_queries=True,
    )
    report = run_eval(options, settings)
    assert "errors" not in report.system("vidrec").metrics, report.notes
    assert "--adapt-queries" in report.system("vidrec").description

    calls = [({p.query for p in pairs}, targets.shape[0]) for pairs, _, targets, _ in trainings]
    dialogues, cases, _, _ = conversational.load_cases(options, settings)
    folds = sorted({fold_of(c.dialogue_id, 2) for c in cases})
    came_from: dict[str, set[int]] = {}  # each pair's text -> the folds of its dialogues
    for d in dialogues:
        for r in dialogue_requests(d):
            came_from.setdefault(" ".join(r.text.split()), set()).add(fold_of(d.id, 2))
    assert len(calls) == len(folds)
    for (texts, targets), fold in zip(calls, folds, strict=True):
        assert texts and all(fold not in came_from[t] for t in texts)  # never its own fold's
        assert targets == len(conversational.load_cases(options, settings)[2].catalogue())
    routed = systems[0]
    assert isinstance(routed, RoutedSystem)
    encoders = {
        key: system.recommender.library.config.embedding.query_model
        for key, system in routed.systems.items()
        if isinstance(system, VidrecSystem)
    }
    assert set(encoders) == set(folds) and len(set(encoders.values())) == len(folds)
    assert all(q and "redial-queries-" in q for q in encoders.values())
    assert sum("query encoder" in n and "pairs of" in n for n in report.notes) == len(folds)
    again = run_eval(options, settings)
    assert len(trainings) == len(folds) and sum("reused" in n for n in again.notes) == len(folds)

"""A whole evaluation run on fixtures with the fake LLM and the fake (hashing) embedder.

Everything but the models is real: the catalogue goes through ``Library.ingest(manifest=...)``
into Chroma and SQLite under the eval cache, the ``Recommender`` answers every case, the report
is written and read back, and a second run is answered from the caches.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.llm.factory import create_llm
from agent.settings import Settings
from agent.types import Message
from evaluation.cache import CachingLLM, JsonCache
from evaluation.report import EvalReport
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from evaluation.workspace import eval_settings
from retrieval.library import Library
from ui.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
ML = FIXTURES / "movielens"


def _redial(**kwargs: object) -> EvalOptions:
    return EvalOptions(
        task="redial",
        data=FIXTURES / "redial_tiny.jsonl",
        movielens=ML,
        **kwargs,  # type: ignore[arg-type]
    )


def test_redial_end_to_end_then_cached(settings: Settings, tmp_path: Path) -> None:
    first = run_eval(_redial(), settings)
    assert [s.name for s in first.systems] == ["popularity", "bm25", "dense", "hybrid", "vidrec"]
    for result in first.systems:
        assert result.n == 3
        for name in ("Recall@1", "Recall@10", "Recall@50", "NDCG@10", "Coverage@10"):
            assert 0.0 <= result.metrics[name] <= 1.0, (result.name, name)
        assert (
            result.metrics["Recall@1"] <= result.metrics["Recall@10"] <= result.metrics["Recall@50"]
        )
        assert "errors" not in result.metrics, first.notes
        assert len(result.per_case) == 3  # per case, for `vidrec eval-compare`
        assert np.mean(list(result.per_case.values())) == pytest.approx(result.metrics["Recall@10"])
    assert "Recommender" in first.system("vidrec").description
    assert first.dataset["index_ingested"] == 10 and first.dataset["index_unchanged"] == 0
    # the fake LLM was really called, through the versioned prompts
    assert any(tag.startswith("understand@") for tag in first.prompts_used)
    assert any("new calls" in note and "0 new calls" not in note for note in first.notes)
    assert first.settings["agent"]["explain"] is False
    assert first.model["llm"] == "fake/qwen2.5-0.5b"

    path = first.write_json(tmp_path / "report.json")
    back = EvalReport.read_json(path)
    assert back.system("vidrec").metrics == first.system("vidrec").metrics
    assert back.data_sha256 == first.data_sha256

    second = run_eval(_redial(), settings)
    # nothing re-embedded, no LLM call repeated, same numbers
    assert second.dataset["index_ingested"] == 0 and second.dataset["index_unchanged"] == 10
    assert any(note.startswith("vidrec LLM: 0 new calls") for note in second.notes)
    for a, b in zip(first.systems, second.systems, strict=True):
        assert a.metrics == b.metrics


def test_a_new_catalogue_starts_from_the_closest_index(settings: Settings) -> None:
    run_eval(_redial(systems=("dense",)), settings)
    report = run_eval(
        EvalOptions(
            task="inspired",
            data=FIXTURES / "inspired_tiny.tsv",
            movielens=ML,
            systems=("dense", "hybrid"),
        ),
        settings,
    )
    # the ReDial index held the 9 MovieLens titles + its Cosmos: only INSPIRED's Cosmos is new,
    # and ReDial's is removed, so the index holds exactly the INSPIRED catalogue
    assert report.dataset["index_ingested"] == 1 and report.dataset["index_unchanged"] == 9
    folders = sorted(p.name for p in (settings.cache_dir / "eval").iterdir() if p.is_dir())
    assert [f.split("-")[0] for f in folders] == ["inspired", "redial"]
    manifest = (settings.cache_dir / "eval" / folders[0] / "catalogue.jsonl").read_text()
    assert "inspired:cosmos-2015" in manifest and "redial:cosmos-2015" not in manifest
    library = Library(eval_settings(settings, folders[0]))
    assert library.get_video("redial:cosmos-2015") is None
    assert library.get_video("inspired:cosmos-2015") is not None
    assert len(library.videos()) == 10
    library.close()
    assert report.system("dense").metrics["Recall@50"] == 1.0


def test_retrieval_baselines_find_the_known_talk(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(
            task="ted",
            data=FIXTURES / "ted",
            systems=("bm25", "dense", "hybrid-chunk", "hybrid-rrf", "hybrid"),
        ),
        settings,
    )
    # each description shares words only with its own transcript
    for name in ("bm25", "dense", "hybrid-chunk", "hybrid-rrf", "hybrid", "hybrid/no-speaker"):
        assert report.system(name).metrics["Recall@1"] == 1.0, name


def test_movielens_profile_uses_the_library_vectors(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(task="movielens", data=ML / "ratings.csv", systems=("profile",)), settings
    )
    result = report.system("profile")
    assert "build_profile" in result.description
    assert report.dataset["items_with_metadata"] == 7
    assert 0.0 <= result.metrics["NDCG@10"] <= result.metrics["HR@10"] <= 1.0
    assert "ILD@10" in result.metrics


def test_caching_llm_keys_on_prompt_version(settings: Settings, tmp_path: Path) -> None:
    inner = create_llm(settings.llm, settings.models_dir)
    cache = JsonCache(tmp_path / "llm.sqlite")
    llm = CachingLLM(inner, cache)
    messages = [Message("user", "a funny talk about cooking")]
    first = llm.complete(messages, tag="understand@1")
    again = llm.complete(messages, tag="understand@1")
    assert again.text == first.text and llm.calls == 1 and cache.hits == 1
    llm.complete(messages, tag="understand@2")  # a new prompt version misses
    assert llm.calls == 2
    streamed = "".join(llm.stream(messages, tag="reply@1"))
    replayed = list(llm.stream(messages, tag="reply@1"))
    assert replayed == [streamed] and llm.calls == 3
    assert llm.tags == {"understand@1", "understand@2", "reply@1"}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_EMBEDDING__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_ASR__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


def test_cli_eval_writes_the_report(cli_env: Path) -> None:
    out = cli_env / "r.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "redial",
            "--data",
            str(FIXTURES / "redial_tiny.jsonl"),
            "--movielens",
            str(ML),
            "--backend",
            "fake",
            "--systems",
            "popularity,vidrec",
            "--no-rerank",
            "--limit",
            "2",
            "--quiet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "vidrec" in result.output and "Recall@10" in result.output
    report = json.loads(out.read_text())
    assert report["n_cases"] == 2 and report["limit"] == 2
    assert report["settings"]["agent"]["rerank"] is False
    assert report["settings"]["llm"]["backend"] == "fake"
    assert {s["name"] for s in report["systems"]} == {"popularity", "vidrec"}


def test_cli_rejects_unknown_task_and_system(cli_env: Path) -> None:
    bad = CliRunner().invoke(app, ["eval", "netflix", "--data", str(cli_env)])
    assert bad.exit_code != 0 and "unknown task" in bad.output
    bad = CliRunner().invoke(
        app,
        ["eval", "ted", "--data", str(FIXTURES / "ted"), "--systems", "magic", "-q"],
    )
    assert bad.exit_code != 0
    assert "Unknown system for ted: magic" in str(bad.exception) + bad.output


def test_vidrec_runs_with_a_collaborative_model_cross_fitted_or_trained_on_a_file(
    settings: Settings,
) -> None:
    crossed = run_eval(_redial(systems=("vidrec",), folds=2), settings)
    folds = [n for n in crossed.notes if n.startswith("vidrec collaborative fold")]
    assert folds and all("1 training dialogues" in n for n in folds)  # never its own dialogue
    assert "cross-fitted on 2 folds" in crossed.system("vidrec").description
    assert any(n.startswith("vidrec: ") and "ms per case over 3 cases" in n for n in crossed.notes)

    again = run_eval(_redial(systems=("vidrec",), folds=2), settings)
    assert [n for n in again.notes if n.startswith("vidrec collaborative fold")] == [
        f"{n} (fitted by an earlier run)" for n in folds
    ]
    assert again.system("vidrec").metrics == crossed.system("vidrec").metrics

    trained = run_eval(_redial(systems=("vidrec",), train=FIXTURES / "redial_tiny.jsonl"), settings)
    assert any("collaborative model: 2 training dialogues" in n for n in trained.notes)
    assert "trained on redial_tiny.jsonl" in trained.system("vidrec").description

    without = run_eval(_redial(systems=("vidrec",), collab=False), settings)
    assert not any("collaborative" in n for n in without.notes)
    assert "collaborative model" not in without.system("vidrec").description


def test_cross_fitting_the_collab_weight_is_a_row_of_the_same_command(settings: Settings) -> None:
    report = run_eval(_redial(systems=("vidrec",), folds=2, cross_fit=True), settings)
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-crossfit"]
    row = report.system("vidrec-crossfit")
    assert row.n == 3 and 0.0 <= row.metrics["Recall@10"] <= 1.0 and "ILD@10" in row.metrics
    assert any(n.startswith("vidrec-crossfit: collab_weight per fold") for n in report.notes)


def test_ablations_are_rows_of_the_same_command(settings: Settings, cli_env: Path) -> None:
    report = run_eval(
        _redial(systems=("vidrec",), folds=2, ablations=("nocollab", "nosessions")), settings
    )
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-nocollab", "vidrec-nosessions"]
    assert "collaborative model" not in report.system("vidrec-nocollab").description
    assert "dialogues as history" in report.system("vidrec-nosessions").description
    assert "dialogues as sessions" in report.system("vidrec").description
    # the row is what the flag of its own run gives
    alone = run_eval(_redial(systems=("vidrec",), folds=2, collab=False), settings)
    assert report.system("vidrec-nocollab").metrics == alone.system("vidrec").metrics
    bad = CliRunner().invoke(app, ["eval", "redial", "--ablations", "nocollab,magic", "-q"])
    assert bad.exit_code != 0 and "unknown ablation magic" in bad.output


def test_the_nolikes_row_is_the_shipped_row_with_the_opinions_setting_off(
    settings: Settings,
) -> None:
    report = run_eval(_redial(systems=("vidrec",), folds=2, ablations=("nolikes",)), settings)
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-nolikes"]
    row = report.system("vidrec-nolikes")
    assert "agent.opinions off" in row.description
    assert "dialogues as sessions" in row.description  # the same collaborative models
    # the row is what the product's setting gives in a run of its own, and nothing else
    agent = settings.agent.model_copy(update={"opinions": False})
    alone = run_eval(
        _redial(systems=("vidrec",), folds=2), settings.model_copy(update={"agent": agent})
    )
    assert row.metrics == alone.system("vidrec").metrics
    assert report.settings["agent"]["opinions"] is True


def test_the_feedback_row_records_earlier_opinions_before_the_turn_only(
    settings: Settings, tmp_path: Path
) -> None:
    report = run_eval(_redial(systems=("vidrec",), folds=2, feedback=True), settings)
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-feedback"]
    assert "questionnaire" in report.system("vidrec-feedback").description

    from evaluation.systems import RankRequest, VidrecSystem
    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM

    rec = build_recommender(tmp_path, FakeLLM(), understand="parser")
    system = VidrecSystem(rec, "spy", feedback=True, name="vidrec-feedback")
    seen_at_rank: list[list[tuple[str, str]]] = []
    rank = rec.rank

    def spy(conversation, user_id, **kwargs):  # type: ignore[no-untyped-def]
        seen_at_rank.append([(e.video_id, e.kind) for e in rec.history(user_id)])
        return rank(conversation, user_id, **kwargs)

    rec.rank = spy  # type: ignore[method-assign]
    request = RankRequest(
        "d#1", "", (Message("user", "something about food"),), feedback=(("pasta", "dislike"),)
    )
    for _ in range(2):  # a second run starts from a fresh user again
        ranked = system.rank(request, 5)
    assert seen_at_rank == [[("pasta", "dislike")], [("pasta", "dislike")]]
    assert "pasta" not in ranked
    assert rec.history("eval-" + hashlib.sha256(b"d#1").hexdigest()[:16]) == []
    rec.close()


def test_the_learned_ranker_is_fitted_per_fold_on_the_other_folds_only(
    settings: Settings,
) -> None:
    learned = settings.agent.learned.model_copy(update={"min_turns": 2, "gate_turns": 0})
    few = settings.model_copy(
        update={"agent": settings.agent.model_copy(update={"learned": learned})}
    )
    report = run_eval(_redial(systems=("vidrec",), folds=2, ablations=("blend", "noreading")), few)
    note = next(n for n in report.notes if n.startswith("vidrec learned ranker"))
    assert "with the dialogue reading" in note
    # each fold's ranker is fitted on the cases outside it, or not at all when too few
    assert "fold 0:" in note and "fold 1:" in note
    # the ablation rows of the same run: the blend alone, and the stage without the reading
    assert [s.name for s in report.systems] == ["vidrec", "vidrec-blend", "vidrec-noreading"]
    for row in report.systems:
        assert "errors" not in row.metrics, report.notes
    plain = run_eval(_redial(systems=("vidrec",), folds=2), few)  # no --ablations: one pass
    assert [s.name for s in plain.systems] == ["vidrec"]
    assert plain.system("vidrec").metrics == report.system("vidrec").metrics

    default = run_eval(_redial(systems=("vidrec",), folds=2), settings)  # min_turns 50
    note = next(n for n in default.notes if n.startswith("vidrec learned ranker"))
    assert "no learned ranker" in note and "min_turns = 50" in note

    off = run_eval(_redial(systems=("vidrec",), folds=2, learned=False), settings)
    assert any("learned ranker: off (--no-learned)" in n for n in off.notes)
    # no fold had enough turns: every fold ranks by the blend, so no ablation rows either
    assert [s.name for s in default.systems] == ["vidrec"]
    assert [s.name for s in off.systems] == ["vidrec"]
    assert (
        off.system("vidrec").metrics["Recall@10"] == default.system("vidrec").metrics["Recall@10"]
    )
    blend = report.system("vidrec-blend").metrics
    assert blend["Recall@10"] == off.system("vidrec").metrics["Recall@10"]

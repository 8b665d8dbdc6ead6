"""TED chat task: the labelled set, the index it needs, violations, per-kind scores, a whole run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation import ted_chat
from evaluation.runner import EvalOptions
from evaluation.systems import RankRequest, TfidfSystem
from evaluation.tasks import run_eval
from evaluation.ted_chat import (
    KINDS,
    ChatRequest,
    Constraint,
    index_talks,
    load_requests,
    score,
    violations,
)
from evaluation.workspace import EvalError
from retrieval.demo import load_ted

TED = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "ted"


def test_the_shipped_set_is_labelled_as_the_issue_asks() -> None:
    requests = load_requests()
    kinds = {kind: [r for r in requests if r.kind == kind] for kind in KINDS}
    assert len(requests) >= 60 and len({r.id for r in requests}) == len(requests)
    assert len(kinds["recall"]) >= 25 and len(kinds["constrained"]) >= 15
    assert len(kinds["watched"]) >= 20
    assert sum(r.split == "heldout" for r in requests) >= 10
    for r in kinds["watched"]:
        assert len(r.turns) >= 2 and r.watched is not None and r.watched != r.target
    assert all(r.constraint is not None for r in kinds["constrained"])
    assert all(re.fullmatch(r"ted-\d+", r.target) for r in requests)


def test_the_set_never_names_a_title_or_speaker_and_targets_keep_the_limits(
    shared_data: Path,
) -> None:
    talks = {t.id: t for t in load_ted(shared_data)}
    for request in load_requests():
        talk = talks[request.target]  # every target has a transcript
        said = " ".join(request.turns).lower()
        assert talk.title.lower() not in said, request.id
        names = [p for p in re.split(r"\W+", talk.speaker.lower()) if len(p) > 2]
        assert not set(names) & set(re.findall(r"\w+", said)), request.id
        # the target keeps the stated limit: no violation among its own picks
        assert violations(request, [request.target], talks).total == 0, request.id
        if request.watched:
            assert request.watched in talks


def test_a_malformed_row_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "set.jsonl"
    bad.write_text('{"id": "x", "kind": "recall", "turns": ["hi"], "target": "ted-1"}\n{"id": 2}\n')
    with pytest.raises(EvalError, match=r"set.jsonl:2"):
        load_requests(bad)
    bad.write_text('{"id": "x", "kind": "gossip", "turns": ["hi"], "target": "ted-1"}\n')
    with pytest.raises(EvalError, match="kind"):
        load_requests(bad)


def test_violations_count_length_topic_and_the_watched_talk() -> None:
    talks = {t.id: t for t in load_ted(TED.parent)}  # bees 10 min, space 11.7, bread
    short = ChatRequest("c", "constrained", ("short",), "ted-0", None, Constraint(max_minutes=10.5))
    assert violations(short, ["ted-0", "ted-1"], talks).length == 1
    on_bees = ChatRequest("t", "constrained", ("bees",), "ted-0", None, Constraint(topic="bees"))
    assert violations(on_bees, ["ted-0", "ted-1", "ted-2"], talks).topic == 2
    watched = ChatRequest("w", "watched", ("a", "b"), "ted-1", "ted-0")
    assert violations(watched, ["ted-1", "ted-0"], talks).watched == 1
    assert (
        violations(watched, ["ted-1", "ted-2", "ted-2", "ted-2", "ted-2", "ted-0"], talks).total
        == 0
    )


def test_scores_overall_and_per_kind_with_intervals() -> None:
    requests = [
        ChatRequest("r1", "recall", ("a",), "ted-0"),
        ChatRequest("r2", "recall", ("b",), "ted-1"),
        ChatRequest("w1", "watched", ("a", "b"), "ted-2", "ted-0"),
    ]
    lists = [["ted-0"], ["ted-2", "ted-1"], ["ted-0", "ted-2"]]
    results = {r.name: r for r in score("x", "", requests, lists, {}, 1.0)}
    assert set(results) == {"x", "x/recall", "x/watched"}  # no row of a kind without requests
    assert results["x"].metrics["hit@1"] == pytest.approx(1 / 3)
    assert results["x/recall"].metrics["MRR"] == pytest.approx(0.75)
    assert results["x/watched"].metrics["top5 watched"] == 1.0
    lo, hi = results["x"].metrics["hit@1 lo"], results["x"].metrics["hit@1 hi"]
    assert 0.0 <= lo <= 1 / 3 <= hi <= 1.0


def test_the_index_is_a_seeded_sample_plus_every_named_talk() -> None:
    talks = load_ted(TED.parent)
    named = [ChatRequest("w", "watched", ("a", "b"), "ted-2", "ted-1")]
    one = index_talks(talks, named, 1, seed=3)
    assert {"ted-1", "ted-2"} <= {t.id for t in one}
    assert [t.id for t in index_talks(talks, [], 2, seed=3)] == [
        t.id for t in index_talks(talks, [], 2, seed=3)
    ]
    with pytest.raises(EvalError, match="without a transcript"):
        index_talks(talks, [ChatRequest("r", "recall", ("a",), "ted-99")], 2)


def test_tfidf_ranks_the_talk_whose_words_the_query_holds() -> None:
    tfidf = TfidfSystem({"a": "honeybees dance in the hive", "b": "galaxies and telescopes"})
    assert tfidf.rank(RankRequest("q", "the waggle dance of honeybees", ()), 5) == ["a"]
    assert tfidf.rank(RankRequest("q", "honeybees", (), frozenset({"a"})), 5) == []


def test_a_whole_run_scores_vidrec_and_tfidf_per_kind(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {
            "id": "r1",
            "kind": "recall",
            "turns": ["the waggle dance of honeybees"],
            "target": "ted-0",
        },
        {
            "id": "w1",
            "kind": "watched",
            "turns": [
                "I already watched the one where a honeybee dances to tell her sisters the "
                "distance of the flowers",
                "something about distant galaxies and telescopes",
            ],
            "target": "ted-1",
            "watched": "ted-0",
        },
    ]
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(ted_chat, "REQUESTS", data)
    settings = settings.model_copy(
        update={"agent": settings.agent.model_copy(update={"understand": "parser"})}
    )
    options = EvalOptions(task="ted-chat", data=TED, systems=("tfidf", "vidrec"), max_talks=3)
    report = run_eval(options, settings)
    names = {r.name for r in report.systems}
    assert {"tfidf", "tfidf/recall", "tfidf/watched", "vidrec", "vidrec/watched"} <= names
    assert report.dataset["talks_indexed"] == 3
    assert report.system("tfidf/recall").metrics["hit@1"] == 1.0
    # the watched talk is out of vidrec's list, whatever the fake embedder ranks
    assert report.system("vidrec/watched").metrics["top5 watched"] == 0.0

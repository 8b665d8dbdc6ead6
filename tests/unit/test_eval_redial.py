"""ReDial case extraction (He et al. protocol) and movie-title matching on hand-written fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation.dialogues import context_query, extract_all
from evaluation.movies import CatalogueBuilder, MovieLens, split_title_year, title_keys
from evaluation.redial import load_redial
from evaluation.runner import EvalOptions
from evaluation.systems import LeaveOneOutPopularity, RankRequest
from evaluation.tasks import run_eval
from retrieval.errors import InvalidInputError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
ML = FIXTURES / "movielens"


@pytest.fixture(scope="module")
def movielens() -> MovieLens:
    return MovieLens.load(ML)


def test_title_forms_normalise_alike() -> None:
    assert split_title_year("Cosmos  (2015)") == ("Cosmos", 2015)
    assert split_title_year("Friday ") == ("Friday", None)
    assert title_keys("Usual Suspects, The") == title_keys("The Usual Suspects")
    assert "se7en" in title_keys("Seven (a.k.a. Se7en)")
    assert "la cite des enfants perdus" in title_keys(
        "City of Lost Children, The (Cité des enfants perdus, La)"
    )


def test_movielens_matching(movielens: MovieLens) -> None:
    def match(raw: str) -> str | None:
        item = movielens.match(raw)
        return item.id if item else None

    assert match("The Usual Suspects (1995)") == "ml:2"
    assert match("The Post (2017)") == "ml:8"  # "Post, The (2017)"
    assert match("Se7en (1995)") == "ml:3"  # alias in parentheses
    assert match("Star Wars  (1977)") == "ml:4"  # unique same-year title starting with it
    assert match("Heat (1986)") == "ml:9"  # the year picks between two "Heat"s
    assert match("Heat (1995)") == "ml:6"
    assert match("Heat") == "ml:6"  # no year: the more rated one
    assert match("Heat (1996)") == "ml:6"  # one year off, one candidate
    assert match("Cosmos (2015)") is None
    assert movielens.items[2].title == "The Usual Suspects"
    assert movielens.items[3].tags[0] == "twist ending"  # most frequent tag first, lower-cased


def test_cases_follow_the_protocol(movielens: MovieLens) -> None:
    builder = CatalogueBuilder(movielens, "redial")
    dialogues = load_redial(FIXTURES / "redial_tiny.jsonl", builder)
    cases = extract_all(dialogues)
    by_dialogue = {d: [c for c in cases if c.dialogue_id == d] for d in ("d1", "d2")}

    first, second = by_dialogue["d1"]
    # consecutive recommender messages "Have you seen @102 ?" + "or @103" are one turn
    assert first.targets == ("ml:3", "redial:cosmos-2015")
    assert first.excluded == frozenset({"ml:2"})
    assert [m.role for m in first.context] == ["user"]
    assert first.context[0].content == "Hi, I like crime movies like The Usual Suspects (1995)"
    # "Then @101 again, or @104": the repeated @101 is no target and stays excluded
    assert second.targets == ("ml:6",)
    assert second.excluded == frozenset({"ml:2", "ml:3", "redial:cosmos-2015"})
    assert "Se7en (1995)" in second.context[-1].content
    # "@102 is great" repeats an earlier mention only: no case at all
    assert len(by_dialogue["d1"]) == 2

    # d2: the recommender's opening @105 comes before any seeker turn: skipped, but excluded later
    (only,) = by_dialogue["d2"]
    assert only.targets == ("ml:4",)
    assert only.excluded == frozenset({"ml:1"})
    assert "@999" in only.context[-1].content  # an id the record does not name stays as text


def test_opinions_reach_a_case_only_for_movies_named_before_it(movielens: MovieLens) -> None:
    builder = CatalogueBuilder(movielens, "redial")
    d1 = load_redial(FIXTURES / "redial_tiny.jsonl", builder)[0]
    # the seeker's own answers win over the recommender's account of them; liked 2 = not said
    assert dict(d1.opinions) == {
        "ml:2": "like",
        "ml:3": "dislike",
        "ml:6": "like",
        "redial:cosmos-2015": "watched",
    }
    first, second = extract_all([d1])
    assert first.feedback == (("ml:2", "like"),)
    # the target's own opinion (ml:6, named in this very turn) never reaches its case
    assert dict(second.feedback) == {
        "ml:2": "like",
        "ml:3": "dislike",
        "redial:cosmos-2015": "watched",
    }
    assert all(video not in second.targets for video, _ in second.feedback)


def test_cases_without_merging_split_the_turn(movielens: MovieLens) -> None:
    builder = CatalogueBuilder(movielens, "redial")
    cases = extract_all(load_redial(FIXTURES / "redial_tiny.jsonl", builder), merge=False)
    d1 = [c for c in cases if c.dialogue_id == "d1"]
    assert [c.targets for c in d1] == [("ml:3",), ("redial:cosmos-2015",), ("ml:6",)]
    assert d1[1].excluded == frozenset({"ml:2", "ml:3"})


def test_catalogue_holds_mentions_and_movielens(movielens: MovieLens) -> None:
    builder = CatalogueBuilder(movielens, "redial")
    load_redial(FIXTURES / "redial_tiny.jsonl", builder)
    catalogue = builder.catalogue()
    assert len(catalogue) == 9 + 1  # every MovieLens title + Cosmos
    row = catalogue.items["ml:3"].manifest_row()
    assert row["title"] == "Seven (a.k.a. Se7en) (1995)"
    assert row["published"] == "1995-01-01"
    tags = row["tags"]
    assert isinstance(tags, list) and "twist ending" in tags and "mystery" in tags
    assert "Genres: Mystery, Thriller." in str(row["description"])
    lines = [json.loads(line) for line in catalogue.manifest_lines()]
    assert {r["id"] for r in lines} == set(catalogue.items)
    assert catalogue.sha256 == builder.catalogue().sha256  # stable


def test_context_query_keeps_the_latest_turns(movielens: MovieLens) -> None:
    builder = CatalogueBuilder(movielens, "redial")
    cases = extract_all(load_redial(FIXTURES / "redial_tiny.jsonl", builder))
    query = context_query(cases[1], max_turns=1)
    assert query == cases[1].context[-1].content
    assert len(context_query(cases[1], max_chars=10)) == 10


def test_leave_dialogue_out_popularity_never_counts_the_case_itself() -> None:
    system = LeaveOneOutPopularity(
        mentions={"d1": ["x", "y"], "d2": ["y"], "d3": ["z"]},
        prior={"x": 0.0, "y": 0.0, "z": 5.0, "w": 9.0},
        dialogue_of={"c1": "d1", "c3": "d3"},
    )
    # from d1: y counts once (d2), x zero, z once (d3) with a higher prior than y
    assert system.rank(RankRequest("c1", "", ()), 4) == ["z", "y", "w", "x"]
    # from d3: y twice; z's own mention is not counted
    assert system.rank(RankRequest("c3", "", (), frozenset({"y"})), 2) == ["x", "w"]


def test_bad_lines_name_file_and_line(tmp_path: Path, movielens: MovieLens) -> None:
    bad = tmp_path / "bad.jsonl"
    good = (FIXTURES / "redial_tiny.jsonl").read_text().splitlines()[0]
    bad.write_text(good + "\n{not json\n")
    with pytest.raises(InvalidInputError, match=r"bad\.jsonl:2: not a ReDial dialogue"):
        load_redial(bad, CatalogueBuilder(movielens, "redial"))
    bad.write_text(json.dumps({"conversationId": 1, "messages": []}) + "\n")
    with pytest.raises(InvalidInputError, match="initiatorWorkerId"):
        load_redial(bad, CatalogueBuilder(movielens, "redial"))
    with pytest.raises(InvalidInputError, match="not found"):
        load_redial(tmp_path / "missing.jsonl", CatalogueBuilder(movielens, "redial"))


def test_popularity_run_reports_dataset_statistics(settings: Settings) -> None:
    options = EvalOptions(
        task="redial",
        data=FIXTURES / "redial_tiny.jsonl",
        movielens=ML,
        systems=("popularity",),
    )
    report = run_eval(options, settings)
    assert report.n_cases == report.n_cases_total == 3
    assert report.dataset["targets_in_catalogue"] == 1.0
    assert report.dataset["targets_matched_movielens"] == pytest.approx(3 / 4)
    result = report.system("popularity")
    assert set(result.metrics) >= {"Recall@1", "Recall@10", "Recall@50", "NDCG@10"}
    # 10 items, 50 slots: everything not excluded is ranked, so every target is found
    assert result.metrics["Recall@50"] == 1.0
    assert 0.0 <= result.metrics["Recall@1"] <= result.metrics["Recall@5"] <= 1.0
    assert len(report.data_sha256) == 64


def test_limit_samples_a_fixed_subset(settings: Settings) -> None:
    options = EvalOptions(
        task="redial",
        data=FIXTURES / "redial_tiny.jsonl",
        movielens=ML,
        systems=("popularity",),
        limit=2,
        seed=3,
    )
    first = run_eval(options, settings)
    second = run_eval(options, settings)
    assert first.n_cases == 2
    assert first.system("popularity").metrics == second.system("popularity").metrics

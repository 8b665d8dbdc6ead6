"""Two evaluation runs compared case by case (evaluation.compare, `vidrec eval-compare`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evaluation.compare import compare_runs
from evaluation.metrics import bootstrap_ci
from evaluation.report import EvalReport, SystemResult
from retrieval.errors import InvalidInputError
from ui.cli import app


def report(scores: dict[str, float], *, name: str = "vidrec", sha: str = "abc") -> EvalReport:
    mean = float(np.mean(list(scores.values())))
    run = EvalReport("redial", "valid.jsonl", sha, len(scores), len(scores), 0, None)
    run.systems.append(SystemResult(name, "", {"Recall@10": mean}, len(scores), 0.0, scores))
    return run


def test_a_small_gain_on_many_cases_is_told_from_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.choice([0.0, 1.0], size=400, p=[0.8, 0.2])
    up = base.copy()
    up[np.flatnonzero(base == 0)[:20]] = 1.0  # 20 cases of 400 gained, none lost: +0.05
    before = report({f"c{i}": float(v) for i, v in enumerate(base)})
    after = report({f"c{i}": float(v) for i, v in enumerate(up)})
    found = compare_runs(before, after, "vidrec")
    assert found.n == 400 and found.better == 20 and found.worse == 0
    assert found.difference == pytest.approx(0.05)
    assert 0 < found.low <= 0.05 <= found.high
    # the two runs' own intervals overlap: unpaired, the gain would look like noise
    assert bootstrap_ci(up)[0] < bootstrap_ci(base)[1]
    shuffled = report({f"c{i}": float(v) for i, v in enumerate(rng.permutation(base))})
    noise = compare_runs(before, shuffled, "vidrec")
    assert noise.low < 0 < noise.high  # the same scores on other cases: no difference


def test_only_the_cases_both_runs_scored_count() -> None:
    before = report({"a": 0.0, "b": 1.0, "c": 0.5})
    after = report({"b": 1.0, "c": 1.0, "d": 1.0}, name="vidrec")
    found = compare_runs(before, after, "vidrec")
    assert found.n == 2 and found.before == 0.75 and found.after == 1.0


def test_reports_that_cannot_be_compared_say_why() -> None:
    with pytest.raises(InvalidInputError, match="different data"):
        compare_runs(report({"a": 1.0}), report({"a": 1.0}, sha="other"), "vidrec")
    with pytest.raises(InvalidInputError, match="No system 'bm25'"):
        compare_runs(report({"a": 1.0}), report({"a": 1.0}), "bm25")
    with pytest.raises(InvalidInputError, match="share no case"):
        compare_runs(report({"a": 1.0}), report({"b": 1.0}), "vidrec")
    old = report({"a": 1.0})
    old.systems[0].per_case = {}
    with pytest.raises(InvalidInputError, match="no per-case scores"):
        compare_runs(old, report({"a": 1.0}), "vidrec")


def test_the_command_prints_the_paired_difference(tmp_path: Path) -> None:
    before = report({"a": 0.0, "b": 1.0}, name="vidrec-blend").write_json(tmp_path / "a.json")
    after = report({"a": 1.0, "b": 1.0}).write_json(tmp_path / "b.json")
    args = ["eval-compare", str(before), str(after), "--against", "vidrec-blend"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "vidrec-blend -> vidrec" in done.output and "+0.5000" in done.output
    assert "1 better, 0 worse" in done.output
    missing = CliRunner().invoke(app, ["eval-compare", str(before), str(tmp_path / "x.json")])
    assert missing.exit_code != 0 and "no report at" in missing.output


def test_two_rows_of_one_ted_run_are_compared_on_recall_at_1_and_mrr(tmp_path: Path) -> None:
    """A TED report records each case's reciprocal rank: ``hybrid+queries`` against ``hybrid``
    of the same run, case by case, on the metrics that are not saturated."""
    run = EvalReport("ted", "ted", "abc", 4, 4, 0, None)
    base = {"t1": 1.0, "t2": 0.5, "t3": 0.25, "t4": 0.0}
    better = {"t1": 1.0, "t2": 1.0, "t3": 1.0, "t4": 0.1}
    for name, rr in (("hybrid", base), ("hybrid+queries", better)):
        row = SystemResult(name, "", {}, 4, 0.0, {c: float(v > 0.09) for c, v in rr.items()})
        row.per_case_rr = rr
        run.systems.append(row)
    top = compare_runs(run, run, "hybrid+queries", against="hybrid", metric="Recall@1")
    assert (top.before, top.after, top.better, top.worse) == (0.25, 0.75, 2, 0)
    mrr = compare_runs(run, run, "hybrid+queries", against="hybrid", metric="MRR")
    assert mrr.difference == pytest.approx((0.5 + 0.75 + 0.1) / 4) and mrr.better == 3
    assert "MRR 0.4375 -> 0.7750" in mrr.line("hybrid -> hybrid+queries")
    path = run.write_json(tmp_path / "ted.json")
    out = CliRunner().invoke(
        app,
        [
            "eval-compare",
            str(path),
            str(path),
            "--system",
            "hybrid+queries",
            "--against",
            "hybrid",
            "--metric",
            "Recall@1",
        ],
    )
    assert out.exit_code == 0 and "Recall@1 0.2500 -> 0.7500" in out.output
    redial = report({"a": 1.0})  # a task that records no ranks says so
    with pytest.raises(InvalidInputError, match="no per-case scores for MRR"):
        compare_runs(redial, redial, "vidrec", metric="MRR")
    with pytest.raises(InvalidInputError, match="Unknown per-case metric"):
        compare_runs(redial, redial, "vidrec", metric="NDCG@10")

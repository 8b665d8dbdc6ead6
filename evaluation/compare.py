"""Two evaluation runs compared case by case: is one better beyond the cases' noise?

Two runs of ``vidrec eval`` on the same file score the same cases; their Recall@10 intervals
overlap even when one is better on most cases, because the cases' spread is wide. The paired
difference (the same case in both runs) is the fair test: its mean and a 95 % bootstrap interval
over the cases both runs scored, and how many cases went up or down. Recall@10 where a task
records it; Recall@1 and MRR where it records each case's reciprocal rank (TED), so that two rows
of one run (``hybrid`` and ``hybrid+queries``) are compared on the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.metrics import bootstrap_ci
from evaluation.report import PER_CASE_METRIC, EvalReport
from retrieval.errors import InvalidInputError

__all__ = ["Comparison", "compare_runs"]


@dataclass(frozen=True)
class Comparison:
    """``after`` minus ``before`` over the ``n`` cases both runs scored."""

    n: int
    metric: str
    before: float
    after: float
    low: float  # 95 % bootstrap interval of the mean difference
    high: float
    better: int  # cases whose score went up
    worse: int

    @property
    def difference(self) -> float:
        return self.after - self.before

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.metric} {self.before:.4f} -> {self.after:.4f}, difference "
            f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}] (paired, {self.n} cases; "
            f"{self.better} better, {self.worse} worse)"
        )


METRICS = (PER_CASE_METRIC, "Recall@1", "MRR")  # Recall@1 and MRR: where ranks are recorded


def compare_runs(
    before: EvalReport,
    after: EvalReport,
    system: str,
    against: str | None = None,
    metric: str = PER_CASE_METRIC,
) -> Comparison:
    """``system`` of ``after`` against ``against`` (default: the same system) of ``before``,
    on ``metric`` (one of :data:`METRICS`). A report may be compared with itself: two rows of
    one run."""
    if metric not in METRICS:
        raise InvalidInputError(
            "Unknown per-case metric", expected=" or ".join(METRICS), got=repr(metric)
        )
    if before.data_sha256 != after.data_sha256:
        raise InvalidInputError(
            "The two reports scored different data",
            expected="two reports of the same data file",
            got=f"{before.data} ({before.data_sha256[:12]}) and {after.data} "
            f"({after.data_sha256[:12]})",
            hint="Compare runs of `vidrec eval` on the same --data",
        )
    old = _per_case(before, against or system, metric)
    new = _per_case(after, system, metric)
    shared = sorted(old.keys() & new.keys())
    if not shared:
        raise InvalidInputError(
            "The two runs share no case",
            expected="runs over overlapping cases (the same --limit and --seed, or all cases)",
            got=f"{len(old)} and {len(new)} cases, none in both",
        )
    a = np.array([old[c] for c in shared])
    b = np.array([new[c] for c in shared])
    low, high = bootstrap_ci(b - a)
    return Comparison(
        n=len(shared),
        metric=metric,
        before=float(a.mean()),
        after=float(b.mean()),
        low=low,
        high=high,
        better=int((b > a).sum()),
        worse=int((b < a).sum()),
    )


def _per_case(report: EvalReport, system: str, metric: str) -> dict[str, float]:
    try:
        result = report.system(system)
    except KeyError:
        raise InvalidInputError(
            f"No system {system!r} in the report",
            expected="one of " + ", ".join(s.name for s in report.systems),
            got=system,
        ) from None
    scores = result.per_case if metric == PER_CASE_METRIC else result.per_case_rr
    if not scores:
        raise InvalidInputError(
            f"The report's {system!r} has no per-case scores for {metric}",
            expected=f"a report written by `vidrec eval` with per-case {metric}"
            + ("" if metric == PER_CASE_METRIC else " (reciprocal ranks: `vidrec eval ted`)"),
            got="a report without them (an older run, or a task that does not record them)",
            hint="Run the evaluation again",
        )
    if metric == "Recall@1":
        return {case: float(rr == 1.0) for case, rr in scores.items()}
    return scores

"""Two evaluation runs compared case by case: is one better beyond the cases' noise?

Two runs of ``vidrec eval`` on the same file score the same cases; their Recall@10 intervals
overlap even when one is better on most cases, because the cases' spread is wide. The paired
difference (the same case in both runs) is the fair test: its mean and a 95 % bootstrap interval
over the cases both runs scored, and how many cases went up or down.
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
            f"{label}: {PER_CASE_METRIC} {self.before:.4f} -> {self.after:.4f}, difference "
            f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}] (paired, {self.n} cases; "
            f"{self.better} better, {self.worse} worse)"
        )


def compare_runs(
    before: EvalReport, after: EvalReport, system: str, against: str | None = None
) -> Comparison:
    """``system`` of ``after`` against ``against`` (default: the same system) of ``before``."""
    if before.data_sha256 != after.data_sha256:
        raise InvalidInputError(
            "The two reports scored different data",
            expected="two reports of the same data file",
            got=f"{before.data} ({before.data_sha256[:12]}) and {after.data} "
            f"({after.data_sha256[:12]})",
            hint="Compare runs of `vidrec eval` on the same --data",
        )
    old = _per_case(before, against or system)
    new = _per_case(after, system)
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
        before=float(a.mean()),
        after=float(b.mean()),
        low=low,
        high=high,
        better=int((b > a).sum()),
        worse=int((b < a).sum()),
    )


def _per_case(report: EvalReport, system: str) -> dict[str, float]:
    try:
        result = report.system(system)
    except KeyError:
        raise InvalidInputError(
            f"No system {system!r} in the report",
            expected="one of " + ", ".join(s.name for s in report.systems),
            got=system,
        ) from None
    if not result.per_case:
        raise InvalidInputError(
            f"The report's {system!r} has no per-case scores",
            expected=f"a report written by `vidrec eval` with per-case {PER_CASE_METRIC}",
            got="a report without them (an older run, or a task that does not record them)",
            hint="Run the evaluation again",
        )
    return result.per_case

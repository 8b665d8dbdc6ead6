"""What the similar-requests signal (:mod:`agent.collab.requests`) adds to a turn: the blend with
it (``agent.request_weight`` as shipped, scored in a thread beside the turn's search) against the
same turn without it (weight 0: the conversation is not embedded, no logged turn is compared) and
with it scored in series (the turn waits for it before searching, as the ranker did before it ran
beside the search), in the same run.

The library is the ReDial evaluation's movie catalogue (``vidrec eval redial`` builds it), the
collaborative model the one that evaluation fits for its fold 0 (MovieLens ratings plus the other
folds' dialogues, their turns embedded as requests; kept under the evaluation's cache, so a run
after ``vidrec eval redial`` fits nothing), the turns fold 0's cases. Understanding is the
deterministic parser and the learned stage is off (the blend is what is measured). The
variants run interleaved, rotating which goes first, after a warm-up; printed: p50 / p95 of each,
and for each variant with the signal the per-turn difference to the one without and the ratio of
p95s. The machine may be shared: the
ratio, measured in one run, is what to compare.

    python -m benchmarks.similar_requests [--turns 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from unittest.mock import patch

from agent.learn.cases import RankingCase
from agent.ranking import Ranker
from agent.recommender import Recommender
from agent.settings import Settings
from benchmarks.learned_stage import p95, redial_workspace
from evaluation.conv_collab import fold_of, train_fold_models
from evaluation.runner import default_movielens
from retrieval.types import SearchFilters


class InSeries(Ranker):
    """The ranker with the similar-requests scores waited for before the search starts: nothing
    overlaps (the same work as before the thread, in another order)."""

    def _request_scores_beside(self, conversation: str) -> Future[Mapping[str, float]] | None:
        future = super()._request_scores_beside(conversation)
        if future is not None:
            future.result()
        return future


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60, help="timed turns")
    args = parser.parse_args(argv)

    found = redial_workspace()
    if found is None:
        return 1
    dialogues, cases, settings = found
    base = Settings()
    with_signal = Recommender(settings)
    library = with_signal.library
    clock = time.perf_counter()
    models = train_fold_models(
        dialogues,
        None,
        default_movielens(base) / "ratings.csv",
        settings.agent.collab,
        base.cache_dir / "eval" / "collab",
        needed={d.id for d in dialogues if fold_of(d.id, 5) == 0},
        library=library,
    )
    fold, scorer = next(iter(models.scorers.items()))
    model = scorer.model
    held = [c for c in cases if models.key(c.dialogue_id) == fold][: args.turns]
    print(
        f"collaborative model of fold {fold} ready in {time.perf_counter() - clock:.0f}s: "
        f"{0 if model is None or model.requests is None else len(model.requests)} requests"
    )
    agent = settings.agent.model_copy(update={"request_weight": 0.0})
    without = Recommender(
        settings.model_copy(update={"agent": agent}),
        library=library,
        users=with_signal.users_store,
        collab=scorer,
    )
    with_signal.collab = scorer
    baseline = "without (weight 0)"
    variants = {
        baseline: without,
        "in series": with_signal,
        "beside the search (shipped)": with_signal,
    }
    seconds: dict[str, list[float]] = {label: [] for label in variants}
    for label in variants:
        _turn(variants[label], held[0], "warm", series=label == "in series")
    labels = list(variants)
    for n, case in enumerate(held):
        for label in labels[n % 3 :] + labels[: n % 3]:
            seconds[label].append(
                _turn(variants[label], case, f"t-{n}", series=label == "in series")
            )
    print(f"{len(held)} ReDial turns, catalogue of {with_signal.title_index().size} movies")
    print(f"{'similar requests':<30}{'p50 ms':>10}{'p95 ms':>10}")
    for label, values in seconds.items():
        print(f"{label:<30}{1000 * statistics.median(values):>10.1f}{1000 * p95(values):>10.1f}")
    off = seconds[baseline]
    for label in labels[1:]:
        on = seconds[label]
        added = [a - o for a, o in zip(on, off, strict=True)]
        print(
            f"{label}: per-turn difference p50 {1000 * statistics.median(added):.1f} ms, p95 "
            f"{1000 * p95(added):.1f} ms; ratio of p95s {p95(on) / p95(off):.2f}x"
        )
    with_signal.close()
    return 0


def _turn(rec: Recommender, case: RankingCase, user: str, *, series: bool = False) -> float:
    filters = SearchFilters(exclude_ids=case.excluded)
    with patch("agent.pool.Ranker", InSeries) if series else nullcontext():
        clock = time.perf_counter()
        rec.rank(list(case.context), user, k=10, filters=filters, stage="off")
        return time.perf_counter() - clock


if __name__ == "__main__":
    sys.exit(main())

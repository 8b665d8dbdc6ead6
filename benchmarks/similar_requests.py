"""What the similar-requests signal (:mod:`agent.collab.requests`) adds to a turn: the blend with
it (``agent.request_weight`` as shipped) against the same turn without it (weight 0: the
conversation is not embedded, no logged turn is compared), in the same run.

The library is the ReDial evaluation's movie catalogue (``vidrec eval redial`` builds it), the
collaborative model the one that evaluation fits for its fold 0 (MovieLens ratings plus the other
folds' dialogues, their turns embedded as requests; kept under the evaluation's cache, so a run
after ``vidrec eval redial`` fits nothing), the turns fold 0's cases. Understanding is the
deterministic parser and the learned stage is off (the blend is what is measured). The two
variants run interleaved, alternating which goes first, after a warm-up; printed: p50 / p95 of
each, the p95 of the per-turn difference and the ratio of p95s. The machine may be shared: the
ratio, measured in one run, is what to compare.

    python -m benchmarks.similar_requests [--turns 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from agent.learn.cases import RankingCase
from agent.recommender import Recommender
from agent.settings import Settings
from benchmarks.learned_stage import p95, redial_workspace
from evaluation.conv_collab import fold_of, train_fold_models
from evaluation.runner import default_movielens
from retrieval.types import SearchFilters


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
    variants = {"without (weight 0)": without, "with (as shipped)": with_signal}
    seconds: dict[str, list[float]] = {label: [] for label in variants}
    for rec in variants.values():
        _turn(rec, held[0], "warm")
    for n, case in enumerate(held):
        order = list(variants) if n % 2 == 0 else list(reversed(variants))
        for label in order:
            seconds[label].append(_turn(variants[label], case, f"t-{n}"))
    off, on = seconds["without (weight 0)"], seconds["with (as shipped)"]
    added = [a - o for a, o in zip(on, off, strict=True)]
    print(f"{len(held)} ReDial turns, catalogue of {with_signal.title_index().size} movies")
    print(f"{'similar requests':<28}{'p50 ms':>10}{'p95 ms':>10}")
    for label, values in seconds.items():
        print(f"{label:<28}{1000 * statistics.median(values):>10.1f}{1000 * p95(values):>10.1f}")
    print(
        f"per-turn difference: p50 {1000 * statistics.median(added):.1f} ms, p95 "
        f"{1000 * p95(added):.1f} ms; ratio of p95s {p95(on) / p95(off):.2f}x"
    )
    with_signal.close()
    return 0


def _turn(rec: Recommender, case: RankingCase, user: str) -> float:
    clock = time.perf_counter()
    filters = SearchFilters(exclude_ids=case.excluded)
    rec.rank(list(case.context), user, k=10, filters=filters, stage="off")
    return time.perf_counter() - clock


if __name__ == "__main__":
    sys.exit(main())

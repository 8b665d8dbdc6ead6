"""What the learned ranking stage adds to a turn: ``Recommender.rank`` with the stage against the
same turn without it (``stage="off"``: the hand-tuned blend), in the same run.

The library is the ReDial evaluation's movie catalogue (``vidrec eval redial`` builds it: every
MovieLens title plus the mentioned movies, the real embedder, Chroma); the turns are the contexts
of ReDial cases (multi-turn dialogues, the seeker's words and titles). Understanding is the
deterministic parser (no LLM: the stage is what is measured). The ranker is fitted first on the
rows of ``--train`` other turns (labels: the cases' real targets; a case with none among its
candidates gets its first search hit, since the cost does not depend on what was learned), so its
trees are as many as training makes them. The two variants run interleaved, alternating which goes first, after a
warm-up; printed: p50 / p95 of each, the p95 of the per-turn difference (the stage's cost) and the
ratio of p95s. The machine may be shared: the ratio, measured in one run, is what to compare.

    python -m benchmarks.learned_stage [--turns 60] [--train 150] [--data PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.learn.cases import RankingCase
from agent.learn.features import FEATURES
from agent.learn.training import case_rows, fit_ranker
from agent.pool import Stage
from agent.recommender import Recommender
from agent.settings import Settings
from evaluation.conversational import load_cases
from evaluation.dialogues import Dialogue
from evaluation.runner import EvalOptions
from evaluation.workspace import eval_settings, workspace_name
from retrieval.types import SearchFilters


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def redial_workspace(
    data: str | None = None,
) -> tuple[list[Dialogue], list[RankingCase], Settings] | None:
    """The ReDial file's dialogues and cases, and the settings of the workspace ``vidrec eval
    redial`` indexed its catalogue in (parser understanding, no rerank, no explanations); None,
    with a message, when that index is not built yet."""
    base = Settings()
    path = Path(data) if data else base.data.shared_dir / "redial" / "valid_data.jsonl"
    dialogues, cases, builder, _ = load_cases(EvalOptions(task="redial", data=path), base)
    name = workspace_name("redial", builder.catalogue().sha256, base)
    settings = eval_settings(base, name, understand="parser", rerank=False, explain=False)
    if not (settings.data_dir / "chroma").exists():
        print(f"no index at {settings.data_dir}: run `vidrec eval redial --limit 1` first")
        return None
    return dialogues, cases, settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60, help="timed turns")
    parser.add_argument("--train", type=int, default=150, help="turns whose rows fit the ranker")
    parser.add_argument("--data", default=None, help="ReDial jsonl (default: the shared one)")
    args = parser.parse_args(argv)

    found = redial_workspace(args.data)
    if found is None:
        return 1
    _, cases, settings = found
    rec = Recommender(settings)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(cases))
    train = [cases[i] for i in order[: args.train]]
    timed = [cases[i] for i in order[args.train : args.train + args.turns]]

    clock = time.perf_counter()
    rows = [_labelled(case_rows(rec, c, f"bench-{n}")) for n, c in enumerate(train)]
    learned_cfg = settings.agent.learned.model_copy(update={"min_turns": 2})
    model, data_, reason = fit_ranker(rows, learned_cfg, source="benchmark", gate=False)
    if model is None:
        print(f"no ranker: {reason}")
        return 1
    print(
        f"ranker fitted on {data_.turns} turns ({len(data_.labels)} rows), {model.meta.rounds} "
        f"trees, in {time.perf_counter() - clock:.1f}s"
    )
    rec.learned = model
    seconds: dict[Stage, list[float]] = {"off": [], "auto": []}
    stage_s: list[float] = []
    _turn(rec, timed[0], "warm", "auto")
    _turn(rec, timed[0], "warm", "off")
    for n, case in enumerate(timed):
        variants: tuple[Stage, Stage] = ("off", "auto") if n % 2 == 0 else ("auto", "off")
        for variant in variants:
            elapsed, timings = _turn(rec, case, f"t-{n}", variant)
            seconds[variant].append(elapsed)
            if variant == "auto":
                stage_s.append(timings.get("learned", 0.0))
    off, auto = seconds["off"], seconds["auto"]
    added = [a - o for a, o in zip(auto, off, strict=True)]
    print(f"{len(timed)} ReDial turns, catalogue of {rec.title_index().size} movies")
    print(f"{'variant':<28}{'p50 ms':>10}{'p95 ms':>10}")
    for label, values in (("blend only (stage off)", off), ("with the learned stage", auto)):
        print(f"{label:<28}{1000 * statistics.median(values):>10.1f}{1000 * p95(values):>10.1f}")
    print(
        f"the stage itself (timings['learned']): p50 {1000 * statistics.median(stage_s):.1f} ms, "
        f"p95 {1000 * p95(stage_s):.1f} ms"
    )
    print(
        f"per-turn difference: p50 {1000 * statistics.median(added):.1f} ms, p95 "
        f"{1000 * p95(added):.1f} ms; ratio of p95s {p95(auto) / p95(off):.2f}x"
    )
    rec.close()
    return 0


def _labelled(rows: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A case without a target among its candidates gets its first search hit as one, so every
    training turn counts: the stage's cost (features, trees) does not depend on what it learned,
    and a shared machine's few turns would otherwise leave nothing to fit."""
    features, labels = rows
    if labels.size and not labels.any():
        labels = labels.copy()
        labels[int(np.argmin(features[:, FEATURES.index("search_rank")]))] = 1.0
    return features, labels


def _turn(
    rec: Recommender, case: RankingCase, user: str, stage: Stage
) -> tuple[float, dict[str, float]]:
    clock = time.perf_counter()
    turn = rec.rank(
        list(case.context),
        user,
        k=10,
        filters=SearchFilters(exclude_ids=case.excluded),
        stage=stage,
    )
    return time.perf_counter() - clock, turn.timings


if __name__ == "__main__":
    sys.exit(main())

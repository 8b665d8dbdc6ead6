"""What the "what people watch next" signal (:mod:`agent.collab.transitions`) costs a ranking:
the collaborative scores of a user (``CollabModel.scores``, every signal of every model video, as
a turn asks for them) with the users' timelines in the model against the same model without them,
in the same run.

The model is fitted on MovieLens ml-latest-small (every rating an event at its own time, as
``vidrec import-interactions`` makes them); the users scored are a seeded sample, each with their
whole history. The two variants run interleaved, alternating which goes first, after a warm-up;
printed: p50 / p95 of each, the p95 of the per-call difference and the ratio of p95s. The
machine may be shared: the ratio, measured in one run, is what to compare.

    python -m benchmarks.next_signal [--users 200] [--data ../shared/data/movielens/ml-latest-small]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.collab import CollabModel
from agent.collab.blend import BlendWeights
from agent.collab.matrix import build_matrix
from agent.settings import CollabSettings, Settings
from agent.types import FeedbackEvent
from benchmarks.learned_stage import p95
from evaluation.movielens_data import load_ratings
from evaluation.runner import default_movielens

WEIGHTS = BlendWeights(profile=0.66, collab=0.013, recent=0.23, next=0.09)  # as tuned on it


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="users scored")
    parser.add_argument("--data", type=Path, default=None, help="a MovieLens folder")
    args = parser.parse_args(argv)
    folder = args.data or default_movielens(Settings())
    if not (folder / "ratings.csv").is_file():
        print(f"no MovieLens ratings.csv under {folder}: pass --data", file=sys.stderr)
        return 1
    ratings = load_ratings(folder)
    events = [
        FeedbackEvent(
            f"ml-user:{ratings.user_ids[u]}",
            f"ml:{ratings.item_ids[i]}",
            "rating",
            float(v),
            datetime.fromtimestamp(int(t), UTC),
        )
        for u, i, v, t in zip(
            ratings.users, ratings.items, ratings.values, ratings.timestamps, strict=True
        )
    ]
    clock = time.perf_counter()
    cfg = CollabSettings(threads=2)
    with_next = CollabModel.fit_events(events, cfg)
    without = CollabModel.fit(build_matrix(events, cfg), cfg)  # the same fit, no timelines
    print(
        f"fitted twice in {time.perf_counter() - clock:.0f}s: {with_next.meta.n_timelines} "
        f"timelines against {without.meta.n_timelines}"
    )
    by_user: dict[str, list[FeedbackEvent]] = {}
    for event in events:
        by_user.setdefault(event.user_id, []).append(event)
    rng = np.random.default_rng(0)
    users = sorted(by_user)
    picked = [users[i] for i in rng.choice(len(users), min(args.users, len(users)), False)]
    for user in picked[:10]:  # warm-up
        with_next.scores(by_user[user], weights=WEIGHTS)
        without.scores(by_user[user], weights=WEIGHTS)
    times: dict[str, list[float]] = {"with next": [], "without": []}
    for n, user in enumerate(picked):
        order = [("with next", with_next), ("without", without)]
        for name, model in order if n % 2 == 0 else order[::-1]:
            clock = time.perf_counter()
            model.scores(by_user[user], weights=WEIGHTS)
            times[name].append(1000 * (time.perf_counter() - clock))
    for name, values in times.items():
        print(f"{name:>10}: p50 {statistics.median(values):6.2f} ms  p95 {p95(values):6.2f} ms")
    diff = [a - b for a, b in zip(times["with next"], times["without"], strict=True)]
    print(
        f"per-call difference: p50 {statistics.median(diff):+.2f} ms, p95 {p95(diff):+.2f} ms; "
        f"ratio of p95s {p95(times['with next']) / p95(times['without']):.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

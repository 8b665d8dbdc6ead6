"""What one "taken" signal costs a turn as the library grows: the collaborative service's
popularity counts or the similar-requests map's scores, over every video the model knows.

Per turn the ranker needs the signal's best ``--k`` videos (they join the candidates) and the
score of each of its ``--pool`` candidates. Two ways, timed in the same run, alternating:

- **dict** (the service's answer before ``agent.collab.scores``): a dict of every video that
  scores above 0, built from the model's array, the best found by sorting it
  (``agent.collab.scores.best_ids`` on a plain mapping);
- **array** (now): ``VideoScores`` over the same array, the best by ``argpartition``.

The scores are drawn like a long-tailed popularity (a Zipf count per video, many ties).

    python -m benchmarks.taken_signals [--videos 10000,100000,1000000] [--turns 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from agent.collab.scores import VideoScores, best_ids


def _turn(make: Callable[[], Mapping[str, float]], pool: Sequence[str], k: int) -> float:
    began = time.perf_counter()
    scores = make()
    best_ids(scores, k)
    sum(scores.get(v, 0.0) for v in pool)
    return (time.perf_counter() - began) * 1000


def run(n: int, turns: int, k: int, pool_size: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    ids = [f"video-{i:07d}" for i in range(n)]
    index = {v: i for i, v in enumerate(ids)}
    values = rng.zipf(1.6, n).astype(np.float64)
    values[rng.random(n) < 0.2] = 0.0  # never taken
    pool = [ids[i] for i in rng.choice(n, size=min(pool_size, n), replace=False)]

    def as_dict() -> Mapping[str, float]:
        return {ids[i]: float(values[i]) for i in np.flatnonzero(values > 0)}

    def as_array() -> Mapping[str, float]:
        return VideoScores(ids, values, index)

    assert best_ids(as_dict(), k) == best_ids(as_array(), k)  # the same videos, same order
    old, new = [], []
    for _ in range(turns):
        old.append(_turn(as_dict, pool, k))
        new.append(_turn(as_array, pool, k))
    out = {"videos": float(n)}
    for name, times in (("dict", old), ("array", new)):
        out[f"{name} p50 ms"] = float(np.percentile(times, 50))
        out[f"{name} p95 ms"] = float(np.percentile(times, 95))
    out["p50 ratio dict/array"] = out["dict p50 ms"] / out["array p50 ms"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", default="10000,100000,1000000")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--k", type=int, default=50, help="best videos a signal adds")
    parser.add_argument("--pool", type=int, default=200, help="candidates scored")
    args = parser.parse_args(argv)
    print(
        f"{'videos':>9} {'dict p50':>9} {'dict p95':>9} {'array p50':>10} {'array p95':>10} ratio"
    )
    for n in (int(x) for x in args.videos.split(",")):
        r = run(n, args.turns, args.k, args.pool)
        print(
            f"{n:>9} {r['dict p50 ms']:>9.1f} {r['dict p95 ms']:>9.1f} {r['array p50 ms']:>10.2f}"
            f" {r['array p95 ms']:>10.2f} {r['p50 ratio dict/array']:>5.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

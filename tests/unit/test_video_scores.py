"""agent.collab.scores.VideoScores: a score per video over a model's videos, read where asked,
its best found without sorting every video, in the order a full sort gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.collab.scores import VideoScores, best_ids, best_score


def _scores(values: list[float]) -> VideoScores:
    ids = [f"v{n:03d}" for n in range(len(values))][::-1]  # ids not in row order
    return VideoScores(ids, np.array(values), {v: n for n, v in enumerate(ids)})


def test_it_is_the_mapping_of_the_videos_that_score_above_zero() -> None:
    scores = _scores([3.0, 0.0, -1.0, 0.5])
    assert dict(scores) == {"v003": 3.0, "v000": 0.5}
    assert len(scores) == 2 and "v003" in scores and "v002" not in scores and "x" not in scores
    assert scores.get("v001", 0.0) == 0.0 and scores.get("v002", 7.0) == 7.0
    with pytest.raises(KeyError):
        scores["v001"]
    assert scores.best() == 3.0 and _scores([-1.0]).best() == 0.0
    assert best_score(scores) == best_score(dict(scores)) == 3.0
    assert best_score({}) == best_score(_scores([])) == best_score({"a": -2.0}) == 0.0


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(-3, 6).map(float), min_size=0, max_size=60),
    k=st.integers(0, 70),
    skipped=st.sets(st.integers(0, 59), max_size=20),
)
def test_its_best_are_those_of_a_full_sort_ties_by_id(
    values: list[float], k: int, skipped: set[int]
) -> None:
    """Many ties (small integer scores) and skipped videos: the same k as sorting every
    (video, score) pair by (-score, id), which the ranker did on every turn."""
    scores = _scores(values)
    skip = {f"v{n:03d}" for n in skipped}
    assert scores.top(k, skip) == best_ids(dict(scores), k, skip)
    full = sorted(((v, s) for v, s in dict(scores).items()), key=lambda kv: (-kv[1], kv[0]))
    assert best_ids(dict(scores), k, skip) == [v for v, _ in full if v not in skip][:k]
    assert best_ids(scores, k, skip) == scores.top(k, skip)


def test_the_benchmark_times_both_ways_over_the_same_best_videos() -> None:
    from benchmarks.taken_signals import run

    out = run(2000, turns=2, k=20, pool_size=50)  # asserts the two ways pick the same 20
    assert out["videos"] == 2000 and out["dict p50 ms"] > 0 and out["array p50 ms"] > 0

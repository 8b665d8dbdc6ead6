"""Ranking, rating and list-quality metrics used by every evaluation task.

Intra-list diversity and catalogue coverage are the agent's own (``agent.diversity``). Each
function scores ONE case (a ranked list against its relevant items, or one rating) so that
per-case values can be averaged, bootstrapped or inspected; ``mean`` averages them. Relevance is
binary throughout: an item is relevant when it is in ``relevant``.

Conventions (the usual ones, e.g. He et al. 2023 for conversational recall):
- ``recall_at_k``: share of the relevant items found in the top ``k``.
- ``hit_at_k``: 1 when at least one relevant item is in the top ``k`` (HR@k).
- ``ndcg_at_k``: DCG with gain 1 and discount ``1 / log2(rank + 1)``, divided by the ideal DCG of
  ``min(len(relevant), k)`` relevant items at the top.
- ``reciprocal_rank``: ``1 / rank`` of the first relevant item, 0 when none is ranked (MRR = mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np

from agent.diversity import catalogue_coverage, intra_list_diversity
from retrieval.errors import InvalidInputError

__all__ = [
    "catalogue_coverage",
    "hit_at_k",
    "intra_list_diversity",
    "mae",
    "mean",
    "mrr",
    "ndcg_at_k",
    "ranking_metrics",
    "recall_at_k",
    "reciprocal_rank",
    "rmse",
]

Ratings = Sequence[float] | np.ndarray


def _check_k(k: int) -> None:
    if k < 1:
        raise InvalidInputError("A cut-off k must be positive", expected="k >= 1", got=str(k))


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of ``relevant`` found in ``ranked[:k]`` (0.0 when nothing is relevant)."""
    _check_k(k)
    if not relevant:
        return 0.0
    found = len(set(ranked[:k]) & set(relevant))
    return found / len(set(relevant))


def hit_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when any relevant item is in ``ranked[:k]``, else 0.0."""
    _check_k(k)
    wanted = set(relevant)
    return 1.0 if any(item in wanted for item in ranked[:k]) else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance NDCG at ``k``."""
    _check_k(k)
    wanted = set(relevant)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in wanted)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(wanted), k)))
    return dcg / ideal


def per_case_recall(
    ids: Sequence[str],
    ranked_lists: Sequence[Sequence[str]],
    relevant_sets: Sequence[Collection[str]],
    k: int = 10,
) -> dict[str, float]:
    """Case id -> its Recall@k (``SystemResult.per_case``, for ``vidrec eval-compare``)."""
    return {
        case: recall_at_k(ranked, relevant, k)
        for case, ranked, relevant in zip(ids, ranked_lists, relevant_sets, strict=True)
    }


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """``1 / rank`` of the first relevant item in ``ranked`` (1-based), 0.0 when absent."""
    wanted = set(relevant)
    for rank, item in enumerate(ranked, start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0


def mrr(ranked_lists: Sequence[Sequence[str]], relevant_sets: Sequence[Collection[str]]) -> float:
    """Mean reciprocal rank over cases."""
    if len(ranked_lists) != len(relevant_sets):
        raise InvalidInputError(
            "Each ranked list needs its set of relevant items",
            expected=f"{len(ranked_lists)} relevant sets",
            got=str(len(relevant_sets)),
        )
    return mean(reciprocal_rank(r, rel) for r, rel in zip(ranked_lists, relevant_sets, strict=True))


def _pairs(predicted: Ratings, actual: Ratings) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if p.shape != a.shape or p.ndim != 1:
        raise InvalidInputError(
            "Predicted and actual ratings must be two lists of the same length",
            expected=f"{a.shape[0] if a.ndim else 0} predictions",
            got=str(p.shape[0] if p.ndim else 0),
        )
    if p.size == 0:
        raise InvalidInputError("No ratings to score", expected="at least one rating", got="none")
    return p, a


def mae(predicted: Ratings, actual: Ratings) -> float:
    """Mean absolute error."""
    p, a = _pairs(predicted, actual)
    return float(np.mean(np.abs(p - a)))


def rmse(predicted: Ratings, actual: Ratings) -> float:
    """Root mean squared error."""
    p, a = _pairs(predicted, actual)
    return float(np.sqrt(np.mean((p - a) ** 2)))


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values (an empty evaluation scores nothing)."""
    vals = list(values)
    return float(sum(vals) / len(vals)) if vals else 0.0


def ranking_metrics(
    ranked_lists: Sequence[Sequence[str]],
    relevant_sets: Sequence[Collection[str]],
    *,
    recall_ks: Sequence[int] = (),
    hit_ks: Sequence[int] = (),
    ndcg_ks: Sequence[int] = (),
    with_mrr: bool = False,
) -> dict[str, float]:
    """Averages of the requested per-case metrics, keyed ``"Recall@10"``, ``"NDCG@10"``, ..."""
    if len(ranked_lists) != len(relevant_sets):
        raise InvalidInputError(
            "Each ranked list needs its set of relevant items",
            expected=f"{len(ranked_lists)} relevant sets",
            got=str(len(relevant_sets)),
        )
    pairs = list(zip(ranked_lists, relevant_sets, strict=True))
    out: dict[str, float] = {}
    for k in recall_ks:
        out[f"Recall@{k}"] = mean(recall_at_k(r, rel, k) for r, rel in pairs)
    for k in hit_ks:
        out[f"HR@{k}"] = mean(hit_at_k(r, rel, k) for r, rel in pairs)
    for k in ndcg_ks:
        out[f"NDCG@{k}"] = mean(ndcg_at_k(r, rel, k) for r, rel in pairs)
    if with_mrr:
        out["MRR"] = mean(reciprocal_rank(r, rel) for r, rel in pairs)
    return out


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-case ``values`` (cases drawn with
    replacement ``resamples`` times); ``(0.0, 0.0)`` for no values."""
    if not 0 < level < 1:
        raise InvalidInputError(
            "A confidence level is a fraction", expected="0 < level < 1", got=str(level)
        )
    vals = np.asarray(values, dtype=np.float64)
    if not len(vals):
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = vals[rng.integers(0, len(vals), size=(resamples, len(vals)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def add_intervals(
    metrics: dict[str, float],
    ranked_lists: Sequence[Sequence[str]],
    relevant_sets: Sequence[Collection[str]],
    *,
    recall_ks: Sequence[int] = (),
    hit_ks: Sequence[int] = (),
    ndcg_ks: Sequence[int] = (),
) -> dict[str, float]:
    """``metrics`` plus the 95 % bootstrap interval (:func:`bootstrap_ci`) of each requested
    per-case mean, keyed ``"Recall@10 lo"`` / ``"Recall@10 hi"``."""
    pairs = list(zip(ranked_lists, relevant_sets, strict=True))
    per_case: list[tuple[str, Callable[[Sequence[str], Collection[str], int], float], int]] = [
        *((f"Recall@{k}", recall_at_k, k) for k in recall_ks),
        *((f"HR@{k}", hit_at_k, k) for k in hit_ks),
        *((f"NDCG@{k}", ndcg_at_k, k) for k in ndcg_ks),
    ]
    for name, metric, k in per_case:
        lo, hi = bootstrap_ci([metric(r, rel, k) for r, rel in pairs])
        metrics[f"{name} lo"], metrics[f"{name} hi"] = lo, hi
    return metrics

"""Ranking metrics over score matrices (one row per user, one column per video), next to the
model as in ``implicit``: the top ``k`` of each row, and hit / NDCG of one held-out target per row.
``evaluation`` uses these too (its per-list metrics are ``evaluation.metrics``)."""

from __future__ import annotations

import numpy as np

__all__ = ["hit_ndcg", "hits_gains", "top_k"]


def top_k(scores: np.ndarray, k: int) -> list[np.ndarray]:
    """Per row, the columns of the ``k`` best finite scores, best first; ties: the lower column
    first (NaN and -inf are never in a list)."""
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0 or k <= 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(matrix))]
    matrix = np.where(np.isnan(matrix), -np.inf, matrix)
    k = min(k, matrix.shape[1])
    part = np.argpartition(-matrix, k - 1, axis=1)[:, :k]
    out = []
    for row, cand in zip(matrix, part, strict=True):
        cand = cand[np.isfinite(row[cand])]
        out.append(cand[np.lexsort((cand, -row[cand]))].astype(np.int64))
    return out


def hits_gains(
    scores: np.ndarray, targets: np.ndarray, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: hit@k (0/1) and NDCG@k of its one held-out target (excluded items must be -inf
    already).

    Ties are broken as a top-k list breaks them (the lower column first), never in the target's
    favour: sparse signals (item-item neighbours) tie often, and counting only strictly better
    items would rank a target first among hundreds of equal scores.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    cols = np.arange(scores.shape[1])[None, :]
    ahead = (scores > target_scores) | ((scores == target_scores) & (cols < targets[:, None]))
    rank = ahead.sum(axis=1)
    hit = rank < k
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)


def hit_ndcg(scores: np.ndarray, targets: np.ndarray, k: int = 10) -> tuple[float, float]:
    """HR@k and NDCG@k over the rows (see :func:`hits_gains`)."""
    hit, ndcg = hits_gains(scores, targets, k)
    return float(hit.mean()), float(ndcg.mean())

"""Cross-fitting a setting: each fold's cases are answered with the value that scored best on the
*other* folds' cases, so no case helps choose its own value (``vidrec eval --cross-fit``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from evaluation.metrics import mean, recall_at_k

__all__ = ["COLLAB_WEIGHTS", "cross_fitted_lists"]

COLLAB_WEIGHTS = (0.05, 0.1, 0.2, 0.5, 1.0)  # agent.collab_weight values tried


def cross_fitted_lists(
    lists_by_value: Mapping[float, Sequence[list[str]]],
    relevant: Sequence[Collection[str]],
    folds: Sequence[int],
    k: int = 10,
) -> tuple[list[list[str]], dict[int, float]]:
    """The ranked lists, each case's from the value chosen for its fold (Recall@k on the other
    folds' cases, ties: the smaller value), and the value chosen per fold."""
    values = sorted(lists_by_value)
    recall = {
        v: [recall_at_k(lst, rel, k) for lst, rel in zip(lists_by_value[v], relevant, strict=True)]
        for v in values
    }
    chosen: dict[int, float] = {}
    for fold in sorted(set(folds)):
        others = [n for n, f in enumerate(folds) if f != fold]
        chosen[fold] = max(values, key=lambda v: (mean(recall[v][n] for n in others), -v))
    lists = [list(lists_by_value[chosen[f]][n]) for n, f in enumerate(folds)]
    return lists, chosen

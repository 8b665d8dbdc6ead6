"""Diversity of a ranked list: maximal marginal relevance and the measures reported beside accuracy.

MMR (Carbonell & Goldstein, 1998) builds the list greedily: at each step it takes the candidate with
the best ``lambda * relevance - (1 - lambda) * max similarity to the items already taken``.
``lambda = 1`` keeps the relevance order; smaller values trade relevance for variety. Similarity is
the cosine of the items' content vectors (``Library.video_vectors``: mean chunk embedding).

Relevance scores are min-max scaled to [0, 1] over the candidates first, so that ``lambda`` means the
same thing whatever scale the ranker's scores have (cosines, fused ranks, blended z-scores).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from retrieval.blas import one_blas_thread
from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise InvalidInputError(
            "Item vectors must form a matrix",
            expected="a 2-d array (one row per item)",
            got=f"an array of shape {matrix.shape}",
        )
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _scale(scores: np.ndarray) -> np.ndarray:
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo < 1e-12:
        return np.ones_like(scores)
    return (scores - lo) / (hi - lo)


def mmr_order(
    relevance: Sequence[float] | np.ndarray,
    vectors: np.ndarray,
    k: int,
    diversity_lambda: float,
) -> list[int]:
    """Indices of up to ``k`` candidates in MMR order.

    Args:
        relevance: one score per candidate, higher is better (any scale).
        vectors: one content vector per candidate, same order (need not be normalised).
        k: how many to pick.
        diversity_lambda: 1.0 = pure relevance, 0.0 = pure novelty; must lie in [0, 1].

    Raises:
        InvalidInputError: lambda outside [0, 1], or vectors and scores of different lengths.
    """
    if not 0.0 <= diversity_lambda <= 1.0:
        raise InvalidInputError(
            "The diversity lambda is out of range",
            expected="a value between 0 (most diverse) and 1 (pure relevance)",
            got=str(diversity_lambda),
            hint="Set agent.diversity_lambda, e.g. 0.8",
        )
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(rel)
    if n == 0 or k <= 0:
        return []
    unit = _unit_rows(vectors)
    if unit.shape[0] != n:
        raise InvalidInputError(
            "One content vector per candidate is needed",
            expected=f"{n} vectors",
            got=f"{unit.shape[0]} vectors",
        )
    rel = _scale(rel)
    if diversity_lambda >= 1.0:
        return [int(i) for i in np.argsort(-rel, kind="stable")[:k]]
    with one_blas_thread():
        sims = unit @ unit.T
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)  # nothing chosen yet: no redundancy penalty
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = diversity_lambda * rel - (1.0 - diversity_lambda) * penalty
        value[~available] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, sims[best])
    return chosen


def mmr_rerank(
    ids: Sequence[str],
    relevance: Sequence[float] | np.ndarray,
    vectors: Mapping[str, np.ndarray],
    k: int,
    diversity_lambda: float,
) -> list[str]:
    """MMR over ids; candidates without a vector keep their relevance rank and are never penalised.

    Items lacking a content vector (e.g. not yet indexed) are placed as if orthogonal to all others,
    so a missing vector never drops an item from the list.
    """
    if not ids:
        return []
    dims = {int(np.asarray(v).shape[-1]) for v in vectors.values()}
    if len(dims) > 1:
        raise InvalidInputError(
            "Content vectors of different lengths cannot be compared",
            expected="vectors of one embedding model",
            got="lengths " + ", ".join(str(d) for d in sorted(dims)),
            hint="Re-index the library with a single embedding model",
        )
    dim = dims.pop() if dims else 0
    if dim == 0:
        order = np.argsort(-np.asarray(relevance, dtype=np.float64), kind="stable")
        return [ids[int(i)] for i in order[:k]]
    matrix = np.zeros((len(ids), dim + len(ids)), dtype=np.float32)
    for row, item in enumerate(ids):
        vec = vectors.get(item)
        if vec is None:
            matrix[row, dim + row] = 1.0  # a private axis: orthogonal to everything else
        else:
            matrix[row, :dim] = np.asarray(vec, dtype=np.float32).reshape(-1)
    return [ids[i] for i in mmr_order(relevance, matrix, k, diversity_lambda)]


def intra_list_diversity(vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 - cos) between the items of one list (rows, any scale).

    Returns:
        0.0 for lists shorter than two items or of identical items; up to 2.0 for opposite ones.
    """
    m = np.asarray(vectors, dtype=np.float64)
    n = m.shape[0] if m.ndim == 2 else 0
    if n < 2:
        return 0.0
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    unit = m / np.where(norms == 0.0, 1.0, norms)
    with one_blas_thread():
        sims = unit @ unit.T
    upper = sims[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - upper))


def catalogue_coverage(
    lists: Iterable[Sequence[str]], catalogue_size: int, k: int | None = None
) -> float:
    """Share of the catalogue that appears in at least one of the recommended lists (in its top
    ``k`` when given)."""
    if k is not None and k < 1:
        raise InvalidInputError("A cut-off k must be positive", expected="k >= 1", got=str(k))
    if catalogue_size <= 0:
        raise InvalidInputError(
            "Coverage needs a non-empty catalogue",
            expected="a catalogue size above 0",
            got=str(catalogue_size),
        )
    seen: set[str] = set()
    for items in lists:
        seen.update(items if k is None else items[:k])
    return len(seen) / catalogue_size

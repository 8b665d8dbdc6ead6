"""The collaborative baselines every task compares against, written once: popularity, item-kNN,
ALS and BPR from ``implicit``, each fitted on a users x items matrix of positive interactions and
scoring every item for the given rows; and the next-item baselines, fitted on each user's ordered
items: a first-order Markov count model and SASRec (:mod:`evaluation.sasrec`).

The latent-factor baselines use the product's ALS settings (``agent.settings.CollabSettings``:
factors, regularization, iterations, alpha, seed, threads), so "ALS" in a table is the ALS that
``vidrec train`` fits, on binary interactions instead of the product's confidence weighting.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import csr_matrix

from agent.collab.matrix import confidence
from agent.collab.model import new_als
from agent.settings import CollabSettings
from retrieval.blas import one_blas_thread

__all__ = [
    "BASELINES",
    "DESCRIPTIONS",
    "SEQUENTIAL",
    "SEQUENTIAL_DESCRIPTIONS",
    "Scorer",
    "als_scorer",
    "binary",
    "bpr_scorer",
    "fit",
    "fit_sequential",
    "itemknn_scorer",
    "markov_scorer",
    "popularity_scorer",
]

Scorer = Callable[[np.ndarray], np.ndarray]  # user rows -> (len(rows) x items) scores
KNN_NEIGHBOURS = 100
BPR_ITERATIONS = 100

DESCRIPTIONS = {
    "popularity": "items by the number of users with a positive interaction",
    "itemknn": f"item-item cosine kNN (implicit CosineRecommender, K={KNN_NEIGHBOURS}), binary",
    "als": "implicit ALS with the product's CollabSettings (factors, regularization, alpha), "
    "binary interactions",
    "bpr": f"implicit BPR (the product's factors, lr 0.01, reg 0.01, {BPR_ITERATIONS} iterations)",
}
BASELINES = tuple(DESCRIPTIONS)
SEQUENTIAL_DESCRIPTIONS = {
    "markov": "first-order Markov next-item counts from the last training item (ties: popularity)",
    "sasrec": "SASRec (Kang & McAuley 2018): 2 causal self-attention blocks, 64 dims, the last "
    "200 items, BCE with one sampled negative, PyTorch CPU",
}
SEQUENTIAL = tuple(SEQUENTIAL_DESCRIPTIONS)


def binary(matrix: csr_matrix) -> csr_matrix:
    """1 where the interaction is positive (a stored value above 0), else nothing."""
    return csr_matrix((matrix > 0).astype(np.float32))


def popularity_scorer(matrix: csr_matrix) -> Scorer:
    counts = np.asarray(binary(matrix).sum(axis=0), dtype=np.float32).ravel()
    return lambda rows: np.tile(counts, (len(rows), 1))


def als_scorer(matrix: csr_matrix, cfg: CollabSettings) -> Scorer:
    """ALS on the binary matrix, each positive pair at the product's confidence ``1 + alpha``."""
    positive = binary(matrix)
    positive.data = confidence(positive.data, cfg.alpha)
    model = new_als(cfg)
    with one_blas_thread():  # implicit runs its own threads; a BLAS pool only slows it
        model.fit(positive, show_progress=False)
    user_f, item_f = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return lambda rows: user_f[rows] @ item_f.T


def bpr_scorer(matrix: csr_matrix, cfg: CollabSettings) -> Scorer:
    """BPR on the binary matrix (its multi-threaded SGD varies a little from run to run)."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    with one_blas_thread():
        model = BayesianPersonalizedRanking(
            factors=cfg.factors,
            learning_rate=0.01,
            regularization=0.01,
            iterations=BPR_ITERATIONS,
            random_state=cfg.seed,
            num_threads=cfg.threads,
        )
        model.fit(binary(matrix), show_progress=False)
    user_f, item_f = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return lambda rows: user_f[rows] @ item_f.T


def itemknn_scorer(matrix: csr_matrix, cfg: CollabSettings) -> Scorer:
    """Item-item cosine kNN: a user's score of an item sums its similarity to their items."""
    from implicit.nearest_neighbours import CosineRecommender

    positive = binary(matrix)
    model = CosineRecommender(K=KNN_NEIGHBOURS, num_threads=cfg.threads)
    with warnings.catch_warnings():  # implicit converts its own transposed matrix and warns
        warnings.simplefilter("ignore", category=Warning)
        model.fit(positive, show_progress=False)
    similarity = model.similarity.tocsr()
    return lambda rows: np.asarray((positive[rows] @ similarity).todense(), dtype=np.float32)


def markov_scorer(sequences: Sequence[np.ndarray], n_items: int) -> Scorer:
    """First-order Markov next-item counts: how often item j directly followed item i in the
    training sequences; a user's scores are the row of their last training item (add-one
    popularity, scaled below one transition, breaks ties and covers an unseen last item)."""
    sources = np.concatenate([s[:-1] for s in sequences if len(s) > 1] or [np.zeros(0, int)])
    targets = np.concatenate([s[1:] for s in sequences if len(s) > 1] or [np.zeros(0, int)])
    transitions = csr_matrix(
        (np.ones(len(sources), dtype=np.float32), (sources, targets)), shape=(n_items, n_items)
    )
    counts = np.bincount(
        np.concatenate([*sequences, np.zeros(0, int)]).astype(np.int64), minlength=n_items
    ).astype(np.float32)
    prior = 0.5 * counts / (counts.max() + 1.0)
    last = np.array([int(s[-1]) if len(s) else -1 for s in sequences])

    def score(rows: np.ndarray) -> np.ndarray:
        out = np.tile(prior, (len(rows), 1))
        for n, u in enumerate(rows):
            if last[u] >= 0:
                out[n] += transitions[last[u]].toarray().ravel()
        return out

    return score


def fit_sequential(
    name: str, sequences: Sequence[np.ndarray], n_items: int, cfg: CollabSettings
) -> Scorer:
    """The next-item baseline called ``name`` (one of :data:`SEQUENTIAL`) fitted on each user's
    ordered training items."""
    if name == "markov":
        return markov_scorer(sequences, n_items)
    if name == "sasrec":
        from evaluation.sasrec import sasrec_scorer

        return sasrec_scorer(sequences, n_items, seed=cfg.seed)
    raise ValueError(f"unknown next-item baseline {name!r}; expected one of {SEQUENTIAL}")


def fit(name: str, matrix: csr_matrix, cfg: CollabSettings) -> Scorer:
    """The baseline called ``name`` (one of :data:`BASELINES`) fitted on ``matrix``."""
    if name == "popularity":
        return popularity_scorer(matrix)
    if name == "itemknn":
        return itemknn_scorer(matrix, cfg)
    if name == "als":
        return als_scorer(matrix, cfg)
    if name == "bpr":
        return bpr_scorer(matrix, cfg)
    raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")

"""MovieLens rating prediction: the held-out ratings predicted by the global mean, user + item
biases, and a biased matrix factorisation (``r = mu + b_u + b_i + p_u . q_i``, trained by
alternating ridge regressions in numpy), scored with MAE and RMSE."""

from __future__ import annotations

import time

import numpy as np
from rich.progress import Progress
from scipy import sparse

from evaluation.metrics import mae, rmse
from evaluation.movielens_data import Split
from evaluation.report import EvalReport, SystemResult

__all__ = ["BiasedMF", "rating_prediction"]


class BiasedMF:
    """``r = mu + b_u + b_i + p_u . q_i`` fitted by alternating ridge regressions (numpy).

    Args:
        factors: latent dimensions (0 = the user + item bias baseline only).
        reg: L2 weight on the factors; ``reg_bias`` on the biases.
        iterations: alternating sweeps (users then items).
    """

    def __init__(
        self,
        factors: int = 20,
        reg: float = 5.0,
        reg_bias: float = 5.0,
        iterations: int = 15,
        seed: int = 0,
    ) -> None:
        self.factors = factors
        self.reg = reg
        self.reg_bias = reg_bias
        self.iterations = iterations
        self.seed = seed
        self.mu = 0.0
        self.bu = np.zeros(0)
        self.bi = np.zeros(0)
        self.P = np.zeros((0, factors))
        self.Q = np.zeros((0, factors))

    def fit(
        self, users: np.ndarray, items: np.ndarray, values: np.ndarray, n_users: int, n_items: int
    ) -> BiasedMF:
        rng = np.random.default_rng(self.seed)
        self.mu = float(values.mean())
        self.bu = np.zeros(n_users)
        self.bi = np.zeros(n_items)
        self.P = rng.normal(0, 0.1, (n_users, self.factors))
        self.Q = rng.normal(0, 0.1, (n_items, self.factors))
        resid = values.astype(np.float64) - self.mu
        ones = np.ones(len(values))
        by_user = _indicator(users, n_users)
        by_item = _indicator(items, n_items)
        lam = np.diag([self.reg_bias] + [self.reg] * self.factors)
        for _ in range(self.iterations):
            w = _ridge(by_user, np.c_[ones, self.Q[items]], resid - self.bi[items], lam)
            self.bu, self.P = w[:, 0], w[:, 1:]
            w = _ridge(by_item, np.c_[ones, self.P[users]], resid - self.bu[users], lam)
            self.bi, self.Q = w[:, 0], w[:, 1:]
        return self

    def predict(
        self, users: np.ndarray, items: np.ndarray, lo: float = 0.5, hi: float = 5.0
    ) -> np.ndarray:
        raw = (
            self.mu
            + self.bu[users]
            + self.bi[items]
            + np.sum(self.P[users] * self.Q[items], axis=1)
        )
        return np.clip(raw, lo, hi)


def _indicator(keys: np.ndarray, n: int) -> sparse.csc_matrix:
    """``n x len(keys)`` 0/1 matrix: row g selects the ratings of group g."""
    m = len(keys)
    return sparse.csc_matrix((np.ones(m), (keys, np.arange(m))), shape=(n, m))


def _ridge(
    groups: sparse.csc_matrix, x: np.ndarray, y: np.ndarray, lam: np.ndarray, chunk: int = 16384
) -> np.ndarray:
    """Per group g, the ridge solution ``(X_g'X_g + lam)^-1 X_g'y_g`` (all groups at once)."""
    n, d = groups.shape[0], x.shape[1]
    gram = np.zeros((n, d * d))
    rhs = np.zeros((n, d))
    for lo in range(0, x.shape[0], chunk):
        xs = x[lo : lo + chunk]
        sel = groups[:, lo : lo + chunk]
        gram += sel @ (xs[:, :, None] * xs[:, None, :]).reshape(len(xs), d * d)
        rhs += sel @ (xs * y[lo : lo + chunk, None])
    solved = np.linalg.solve(gram.reshape(n, d, d) + lam, rhs[:, :, None])
    return np.asarray(solved[:, :, 0])


def rating_prediction(
    report: EvalReport, split: Split, test: np.ndarray, seed: int, progress: Progress
) -> None:
    """One row per predictor on the ``test`` ratings, each fitted on ``split.train``."""
    r = split.ratings
    tr = split.train
    actual = r.values[test]
    task_id = progress.add_task("rating predictors", total=3)
    start = time.perf_counter()
    mu = float(r.values[tr].mean())
    rows = [("global-mean", "mean of the training ratings", np.full(len(test), mu))]
    progress.advance(task_id)
    for name, description, factors in (
        ("bias", "user + item biases (ridge, alternating least squares)", 0),
        ("biased-mf", "biased MF r = mu + b_u + b_i + p_u.q_i (20 factors, ALS, numpy)", 20),
    ):
        model = BiasedMF(factors=factors, seed=seed).fit(
            r.users[tr], r.items[tr], r.values[tr], r.n_users, r.n_items
        )
        rows.append((name, description, model.predict(r.users[test], r.items[test])))
        progress.advance(task_id)
    wall = time.perf_counter() - start
    for name, description, predicted in rows:
        report.systems.append(
            SystemResult(
                name,
                description,
                {"MAE": mae(predicted, actual), "RMSE": rmse(predicted, actual)},
                len(test),
                wall / len(rows),
            )
        )

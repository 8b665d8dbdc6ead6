"""Every collaborative baseline on a synthetic matrix whose answer is known: two taste clusters,
users 0-29 like only items 0-9, users 30-59 only items 10-19 (a random 6 of their 10)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from agent.settings import CollabSettings
from evaluation.baselines import BASELINES, fit, fit_sequential


@pytest.fixture(scope="module")
def matrix() -> csr_matrix:
    rng = np.random.default_rng(3)
    rows, cols = [], []
    for user in range(60):
        offset = 0 if user < 30 else 10
        for item in rng.choice(10, 6, replace=False):
            rows.append(user)
            cols.append(offset + int(item))
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(60, 20))


@pytest.mark.parametrize("name", [b for b in BASELINES if b != "popularity"])
def test_a_personal_baseline_recommends_the_users_own_cluster(
    name: str, matrix: csr_matrix
) -> None:
    cfg = CollabSettings(factors=2, iterations=20, regularization=0.1, threads=1, seed=1)
    scores = fit(name, matrix, cfg)(np.array([0, 45]))
    assert scores.shape == (2, 20)
    for row, cluster in ((0, range(10)), (1, range(10, 20))):
        seen = set(matrix[[0, 45][row]].indices)
        unseen = [int(i) for i in np.argsort(-scores[row]) if int(i) not in seen][:3]
        assert all(i in cluster for i in unseen), (name, unseen)


def test_popularity_is_the_same_count_for_everyone(matrix: csr_matrix) -> None:
    scores = fit("popularity", matrix, CollabSettings())(np.array([0, 45]))
    np.testing.assert_array_equal(scores[0], scores[1])
    np.testing.assert_array_equal(scores[0], np.asarray(matrix.sum(axis=0)).ravel())


def test_an_unknown_baseline_lists_the_known_ones(matrix: csr_matrix) -> None:
    with pytest.raises(ValueError, match="itemknn"):
        fit("svd", matrix, CollabSettings())


def _chains(users: int = 40, length: int = 12, items: int = 30) -> list[np.ndarray]:
    """Each user walks the items in a fixed cycle from a random start: the next item is known."""
    rng = np.random.default_rng(0)
    return [(int(rng.integers(items)) + np.arange(length)) % items for _ in range(users)]


def test_markov_predicts_the_item_that_follows_the_last_one() -> None:
    sequences = _chains()
    scores = fit_sequential("markov", sequences, 30, CollabSettings())(np.arange(40))
    for user, seq in enumerate(sequences):
        assert int(np.argmax(scores[user])) == (int(seq[-1]) + 1) % 30


def test_sasrec_learns_the_order() -> None:
    from evaluation.sasrec import SASRecConfig, sasrec_scorer

    config = SASRecConfig()
    config.dims, config.max_len, config.epochs, config.dropout = 32, 12, 150, 0.0
    config.lr = 5e-3
    sequences = _chains()
    scores = sasrec_scorer(sequences, 30, seed=0, config=config)(np.arange(40))
    hits = sum(
        (int(seq[-1]) + 1) % 30 in np.argsort(-scores[u])[:3] for u, seq in enumerate(sequences)
    )
    assert hits >= 30, hits


def test_sasrec_state_does_not_depend_on_padding() -> None:
    """A history's state is the same in a 12-slot and a 40-slot window once positions are
    equal (zeroed here): padding is masked out as a key. Before, every padded slot was a key."""
    import torch

    from evaluation.sasrec import SASRecConfig, build_model

    config = SASRecConfig()
    config.dims, config.max_len, config.dropout, config.heads = 16, 40, 0.0, 2
    torch.manual_seed(0)
    model = build_model(10, config).eval()
    with torch.no_grad():
        model.positions.weight.zero_()
        history = [3, 5, 7]
        short = torch.tensor([[0] * 9 + history])
        long = torch.tensor([[0] * 37 + history])
        a, b = model(short)[0, -1], model(long)[0, -1]
        assert torch.isfinite(model(long)).all()
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


def test_an_unknown_next_item_baseline_is_named() -> None:
    with pytest.raises(ValueError, match="markov"):
        fit_sequential("gru", _chains(), 30, CollabSettings())

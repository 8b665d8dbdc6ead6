"""MMR and the diversity measures on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from agent.diversity import catalogue_coverage, intra_list_diversity, mmr_order, mmr_rerank
from retrieval.errors import InvalidInputError

# three near-duplicates (x axis) that are the most relevant, then two different items
VECTORS = np.array(
    [
        [1.0, 0.00, 0.0],
        [1.0, 0.05, 0.0],
        [1.0, 0.00, 0.05],
        [0.0, 1.00, 0.0],
        [0.0, 0.00, 1.0],
    ]
)
RELEVANCE = [0.95, 0.94, 0.93, 0.70, 0.60]


def test_lambda_one_keeps_the_relevance_order() -> None:
    assert mmr_order(RELEVANCE, VECTORS, 5, 1.0) == [0, 1, 2, 3, 4]


def test_mmr_brings_different_items_up_past_near_duplicates() -> None:
    order = mmr_order(RELEVANCE, VECTORS, 3, 0.5)
    assert order[0] == 0  # the most relevant still leads
    assert set(order[1:]) == {3, 4}  # then the two items unlike it, not its twins
    plain = VECTORS[[0, 1, 2]]
    assert intra_list_diversity(VECTORS[order]) > intra_list_diversity(plain)


def test_mmr_with_lambda_zero_is_pure_novelty_after_the_first() -> None:
    order = mmr_order(RELEVANCE, VECTORS, 5, 0.0)
    assert order[0] == 0  # all candidates tie at no redundancy: first by position
    assert set(order[1:3]) == {3, 4}


def test_relevance_scale_does_not_change_the_order() -> None:
    scaled = [100 * r - 7 for r in RELEVANCE]
    assert mmr_order(scaled, VECTORS, 5, 0.6) == mmr_order(RELEVANCE, VECTORS, 5, 0.6)


def test_mmr_rerank_by_id_keeps_items_without_a_vector() -> None:
    ids = ["a", "a2", "a3", "b", "new"]
    vectors = {i: VECTORS[n] for n, i in enumerate(ids[:4])}
    order = mmr_rerank(ids, RELEVANCE, vectors, 5, 0.5)
    assert sorted(order) == sorted(ids)
    assert order.index("new") < order.index("a3")  # no vector: never penalised as a duplicate
    assert mmr_rerank(ids, RELEVANCE, {}, 2, 0.5) == ["a", "a2"]


def test_bad_lambda_and_mismatched_vectors_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="between 0"):
        mmr_order(RELEVANCE, VECTORS, 3, 1.5)
    with pytest.raises(InvalidInputError, match="5 vectors"):
        mmr_order(RELEVANCE, VECTORS[:4], 3, 0.5)
    with pytest.raises(InvalidInputError, match="different lengths"):
        mmr_rerank(["a", "b"], [1.0, 0.5], {"a": np.ones(3), "b": np.ones(4)}, 2, 0.5)


def test_intra_list_diversity_on_known_lists() -> None:
    assert intra_list_diversity(np.eye(3)) == pytest.approx(1.0)
    assert intra_list_diversity(np.ones((4, 2))) == pytest.approx(0.0, abs=1e-6)
    assert intra_list_diversity(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)
    assert intra_list_diversity(np.ones((1, 3))) == 0.0


def test_catalogue_coverage() -> None:
    assert catalogue_coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)
    with pytest.raises(InvalidInputError):
        catalogue_coverage([["a"]], 0)

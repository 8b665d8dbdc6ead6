"""Metric functions against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.metrics import (
    catalogue_coverage,
    hit_at_k,
    intra_list_diversity,
    mae,
    mean,
    mrr,
    ndcg_at_k,
    ranking_metrics,
    recall_at_k,
    reciprocal_rank,
    rmse,
)
from retrieval.errors import InvalidInputError

RANKED = ["a", "b", "c", "d"]


def test_recall_counts_the_share_of_relevant_items_in_the_cutoff() -> None:
    assert recall_at_k(RANKED, {"b", "d", "x"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, {"b", "d", "x"}, 4) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, {"a"}, 1) == 1.0
    assert recall_at_k(RANKED, {"z"}, 4) == 0.0
    assert recall_at_k(RANKED, set(), 4) == 0.0


def test_recall_beyond_the_list_length_is_the_whole_list() -> None:
    assert recall_at_k(["a"], {"a", "b"}, 50) == 0.5


def test_hit_is_one_when_any_relevant_item_is_in_the_cutoff() -> None:
    assert hit_at_k(RANKED, {"c"}, 2) == 0.0
    assert hit_at_k(RANKED, {"c"}, 3) == 1.0
    assert hit_at_k(RANKED, {"c", "a"}, 1) == 1.0


def test_ndcg_by_hand() -> None:
    # relevant b (rank 2) and d (rank 4): DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766
    # ideal: two relevant at ranks 1 and 2: 1 + 0.6309298
    assert ndcg_at_k(RANKED, {"b", "d"}, 4) == pytest.approx(1.0616064 / 1.6309298, abs=1e-6)
    # cut at 2: only b counts; the ideal still has two relevant items in the top 2
    assert ndcg_at_k(RANKED, {"b", "d"}, 2) == pytest.approx(0.6309298 / 1.6309298, abs=1e-6)
    # one relevant item at rank 1 is perfect; at rank 3 it is 1/log2(4) = 0.5
    assert ndcg_at_k(RANKED, {"a"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, {"c"}, 10) == pytest.approx(0.5)
    assert ndcg_at_k(RANKED, {"z"}, 10) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    # 3 relevant, k=1, the first item is relevant: DCG = IDCG = 1
    assert ndcg_at_k(RANKED, {"a", "b", "c"}, 1) == pytest.approx(1.0)


def test_reciprocal_rank_and_mrr() -> None:
    assert reciprocal_rank(["x", "y", "z"], {"z"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"q"}) == 0.0
    value = mrr([["a", "b"], ["x", "y", "z"], ["q"]], [{"b"}, {"z"}, {"none"}])
    assert value == pytest.approx((0.5 + 1 / 3 + 0.0) / 3)


def test_mae_and_rmse_by_hand() -> None:
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert rmse([4.0], [4.0]) == 0.0


def test_rating_metrics_reject_mismatched_or_empty_input() -> None:
    with pytest.raises(InvalidInputError, match="same length"):
        mae([1, 2], [1])
    with pytest.raises(InvalidInputError, match="No ratings"):
        rmse([], [])


def test_intra_list_diversity_by_hand() -> None:
    # cosines: (1,2) = 0, (1,3) = (2,3) = 1/sqrt(2); distances 1, 0.2929, 0.2929
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    expected = (1.0 + 2 * (1 - 1 / math.sqrt(2))) / 3
    assert intra_list_diversity(vectors) == pytest.approx(expected)
    assert intra_list_diversity(np.array([[1.0, 0.0], [2.0, 0.0]])) == pytest.approx(0.0)
    assert intra_list_diversity(np.array([[1.0, 0.0]])) == 0.0


def test_catalogue_coverage_counts_distinct_items_in_top_k() -> None:
    assert catalogue_coverage([["a", "b", "c"], ["a", "d"]], 10, 2) == pytest.approx(0.3)
    assert catalogue_coverage([], 10, 2) == 0.0
    with pytest.raises(InvalidInputError):
        catalogue_coverage([["a"]], 0, 1)


def test_cutoff_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="k >= 1"):
        recall_at_k(RANKED, {"a"}, 0)


def test_ranking_metrics_averages_over_cases() -> None:
    lists = [["a", "b"], ["c", "d"]]
    relevant = [{"b"}, {"x"}]
    out = ranking_metrics(
        lists, relevant, recall_ks=(1, 2), hit_ks=(2,), ndcg_ks=(2,), with_mrr=True
    )
    assert out["Recall@1"] == 0.0
    assert out["Recall@2"] == pytest.approx(0.5)
    assert out["HR@2"] == pytest.approx(0.5)
    assert out["NDCG@2"] == pytest.approx(0.6309298 / 2, abs=1e-6)
    assert out["MRR"] == pytest.approx(0.25)
    with pytest.raises(InvalidInputError):
        ranking_metrics(lists, relevant[:1], recall_ks=(1,))
    assert mean([]) == 0.0


def test_intervals_bracket_the_mean_and_show_beside_it_in_the_table() -> None:
    from evaluation.metrics import add_intervals, ranking_metrics
    from evaluation.report import EvalReport, SystemResult

    lists = [["a", "b"], ["c", "d"], ["e", "f"], ["a", "x"]] * 10
    relevant = [{"a"}, {"z"}, {"f"}, {"q"}] * 10
    metrics = ranking_metrics(lists, relevant, recall_ks=(1,), ndcg_ks=(2,))
    add_intervals(metrics, lists, relevant, recall_ks=(1,), ndcg_ks=(2,))
    assert metrics["Recall@1"] == 0.25
    assert metrics["Recall@1 lo"] < 0.25 < metrics["Recall@1 hi"]
    assert metrics["NDCG@2 lo"] < metrics["NDCG@2"] < metrics["NDCG@2 hi"]
    report = EvalReport("t", "d", "", 40, 40, 0, None, [SystemResult("s", "", metrics, 40)])
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(report.table())
    text = console.export_text()
    assert "Recall@1 lo" not in text and f"0.250 [{metrics['Recall@1 lo']:.3f}," in text

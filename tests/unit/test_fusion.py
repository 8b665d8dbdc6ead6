"""Reciprocal rank fusion and per-video grouping on hand-made rankings with known answers."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.errors import InvalidInputError
from retrieval.search import (
    FusedChunk,
    group_by_video,
    rrf_fuse,
    store_filter,
    validate_filters,
)
from retrieval.store.base import StoreFilter
from retrieval.store.chroma import where_clause
from retrieval.types import SearchFilters


def test_rrf_scores_and_order_match_the_formula() -> None:
    dense = [("a", "v1"), ("b", "v1"), ("c", "v2")]
    lexical = [("c", "v2"), ("a", "v1"), ("d", "v3")]
    fused = rrf_fuse(dense, lexical, k=60)
    scores = {f.chunk_id: f.score for f in fused}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert scores["d"] == pytest.approx(1 / 63)
    assert [f.chunk_id for f in fused] == ["a", "c", "b", "d"]
    ranks = {f.chunk_id: (f.dense_rank, f.lexical_rank) for f in fused}
    assert ranks == {"a": (1, 2), "b": (2, None), "c": (3, 1), "d": (None, 3)}


def test_rrf_agreement_beats_a_single_first_place() -> None:
    # "x" is 2nd on both sides, "y" first on dense only: fusion must prefer agreement.
    fused = rrf_fuse([("y", "v"), ("x", "v")], [("z", "v"), ("x", "v")], k=60)
    assert fused[0].chunk_id == "x"


def test_rrf_small_k_lets_a_top_rank_dominate() -> None:
    # With k=0 a 1st place (1/1) outweighs two 2nd places (1/2 + 1/2 = 1): a tie, broken by id.
    fused = rrf_fuse([("y", "v"), ("x", "v")], [("z", "v"), ("x", "v")], k=0)
    assert fused[0].score == pytest.approx(1.0)
    assert {f.chunk_id for f in fused if f.score == pytest.approx(1.0)} == {"x", "y", "z"}
    assert [f.chunk_id for f in fused] == ["x", "y", "z"]


def test_rrf_keeps_the_first_rank_of_a_duplicate_and_handles_empty_sides() -> None:
    fused = rrf_fuse([("a", "v"), ("a", "v"), ("b", "v")], [], k=10)
    assert [(f.chunk_id, f.dense_rank) for f in fused] == [("a", 1), ("b", 3)]
    assert rrf_fuse([], [], k=60) == []
    with pytest.raises(InvalidInputError):
        rrf_fuse([], [], k=-1)


def test_video_scores_as_its_best_chunk_not_the_sum() -> None:
    chunks = [
        FusedChunk("short:0", "short", 0.030),
        FusedChunk("long:0", "long", 0.020),
        FusedChunk("long:1", "long", 0.019),
        FusedChunk("long:2", "long", 0.018),
    ]
    grouped = group_by_video(chunks)
    assert [g.video_id for g in grouped] == ["short", "long"]
    assert grouped[0].score == pytest.approx(0.030)
    assert grouped[1].score == pytest.approx(0.020)
    assert [c.chunk_id for c in grouped[1].chunks] == ["long:0", "long:1", "long:2"]


def test_equal_best_chunks_break_ties_on_the_other_chunks_then_id() -> None:
    chunks = [
        FusedChunk("b:0", "b", 0.02),
        FusedChunk("a:0", "a", 0.02),
        FusedChunk("c:0", "c", 0.02),
        FusedChunk("c:1", "c", 0.01),
    ]
    assert [g.video_id for g in group_by_video(chunks)] == ["c", "a", "b"]


def test_contradictory_filters_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInputError, match="min_duration <= max_duration"):
        validate_filters(SearchFilters(min_duration=600, max_duration=60))
    with pytest.raises(InvalidInputError, match="published_after <= published_before"):
        validate_filters(
            SearchFilters(published_after=date(2020, 1, 1), published_before=date(2019, 1, 1))
        )


def test_search_filters_translate_to_store_filter_and_chroma_where() -> None:
    assert store_filter(SearchFilters()) is None
    sf = store_filter(
        SearchFilters(
            min_duration=60,
            published_after=date(2015, 3, 1),
            languages=("EN",),
            tags_any=("Food", "fun"),
            tags_none=("Horror",),
            exclude_ids=frozenset({"x"}),
        )
    )
    assert sf is not None and sf.published_after == 20150301
    where = where_clause(sf)
    assert where == {
        "$and": [
            {"duration": {"$gte": 60.0}},
            {"published": {"$gte": 20150301}},
            {"language": {"$in": ["en"]}},
            {"$or": [{"tags": {"$contains": "food"}}, {"tags": {"$contains": "fun"}}]},
            {"tags": {"$not_contains": "horror"}},
            {"video_id": {"$nin": ["x"]}},
        ]
    }
    assert where_clause(StoreFilter(max_duration=10)) == {"duration": {"$lte": 10.0}}
    assert where_clause(StoreFilter()) is None

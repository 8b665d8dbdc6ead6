"""Hybrid search over a tiny library built with the fakes: relevance, filters, vectors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from retrieval.errors import InvalidInputError
from retrieval.library import Library
from retrieval.types import SearchFilters, VideoHit
from tests.fakes.index import write_talks


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("search")
    settings = Settings(
        data_dir=root / "data",
        asr={"backend": "fake"},
        embedding={"backend": "fake"},
    )
    library = Library(settings)
    report = library.ingest(manifest=write_talks(root / "in"))
    assert report.ok
    yield library
    library.close()


def _passes(hit: VideoHit, f: SearchFilters) -> bool:
    v = hit.video
    tags = {t.lower() for t in v.tags}
    return (
        (f.min_duration is None or (v.duration is not None and v.duration >= f.min_duration))
        and (f.max_duration is None or (v.duration is not None and v.duration <= f.max_duration))
        and (
            f.published_after is None
            or (v.published is not None and v.published >= f.published_after)
        )
        and (
            f.published_before is None
            or (v.published is not None and v.published <= f.published_before)
        )
        and (not f.languages or (v.language or "") in {x.lower() for x in f.languages})
        and (not f.tags_any or bool(tags & {t.lower() for t in f.tags_any}))
        and not tags & {t.lower() for t in f.tags_none}
        and v.id not in f.exclude_ids
    )


def test_best_video_and_chunk_for_a_spoken_phrase(lib: Library) -> None:
    hits = lib.search("garlic")
    assert hits[0].video.id == "cooking"
    best = hits[0].best
    assert "garlic" in best.chunk.text and best.chunk.video_id == "cooking"
    assert best.lexical_rank == 1 and best.dense_rank is not None
    assert best.chunk.end >= best.chunk.start
    assert [c.score for c in hits[0].chunks] == sorted(
        (c.score for c in hits[0].chunks), reverse=True
    )
    # first by best chunk, by centroid and by whole-video BM25: a clear first place (the fusion
    # rules themselves are tested on hand-made rankings in test_fusion and test_video_level)
    assert len(hits) > 1 and hits[0].score > hits[1].score
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.video.id for h in hits}) == len(hits)  # one hit per video


def test_metadata_only_rows_are_found_by_their_description(lib: Library) -> None:
    assert lib.search("shark at the beach")[0].video.id == "jaws"


def test_k_limits_the_number_of_videos(lib: Library) -> None:
    assert len(lib.search("reefs", k=2)) == 2
    assert len(lib.search("reefs", k=50)) == 4
    assert lib.search("reefs", k=0) == []


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(max_duration=600),
        SearchFilters(min_duration=900),
        SearchFilters(published_after=date(2016, 1, 1)),
        SearchFilters(published_before=date(2016, 1, 1)),
        SearchFilters(languages=("FR",)),
        SearchFilters(tags_any=("science",)),
        SearchFilters(tags_none=("science",)),
        SearchFilters(exclude_ids=frozenset({"cooking", "oceans"})),
        SearchFilters(tags_any=("science",), max_duration=1000),
    ],
)
def test_filters_hold_on_every_hit_and_keep_every_match(
    lib: Library, filters: SearchFilters
) -> None:
    hits = lib.search("coral reefs pasta rockets shark", filters, k=10)
    everyone = lib.search("coral reefs pasta rockets shark", k=10)
    assert all(_passes(h, filters) for h in hits)
    assert {h.video.id for h in hits} == {h.video.id for h in everyone if _passes(h, filters)}


def test_filters_apply_to_the_lexical_side_too(lib: Library) -> None:
    # "basil" is only in cooking; excluding it must not leak it back through BM25
    hits = lib.search("basil", SearchFilters(exclude_ids=frozenset({"cooking"})))
    assert "cooking" not in {h.video.id for h in hits}
    assert all(h.best.lexical_rank is None for h in hits)
    assert lib.lexical.search("basil", 10, allowed_videos={"oceans"}) == []


def test_a_filter_nothing_passes_returns_nothing(lib: Library) -> None:
    assert lib.search("reefs", SearchFilters(tags_any=("nonexistent",))) == []


def test_bad_queries_and_filters_say_what_is_wrong(lib: Library) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        lib.search("   ")
    with pytest.raises(InvalidInputError, match="min_duration <= max_duration"):
        lib.search("reefs", SearchFilters(min_duration=100, max_duration=10))
    with pytest.raises(InvalidInputError):
        lib.search_by_vector(np.zeros(256, dtype=np.float32))


def test_video_vectors_are_normalised_chunk_means(lib: Library) -> None:
    vectors = lib.video_vectors(["oceans", "jaws", "unknown"])
    assert set(vectors) == {"oceans", "jaws"}
    for vid, vec in vectors.items():
        assert vec.dtype == np.float32 and vec.shape == (lib.embedder.dim,)
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
        texts = [c.text for c in lib.chunks(vid)]
        mean = lib.embedder.encode_documents(texts).mean(axis=0)
        assert np.allclose(vec, mean / np.linalg.norm(mean), atol=1e-5)


def test_search_by_profile_vector_finds_the_video_it_came_from(lib: Library) -> None:
    vec = lib.video_vectors(["space"])["space"]
    hits = lib.search_by_vector(vec, k=2)
    assert hits[0].video.id == "space"
    assert -1.0 <= hits[1].score <= hits[0].score <= 1.0
    hits = lib.search_by_vector(vec, SearchFilters(exclude_ids=frozenset({"space"})))
    assert "space" not in {h.video.id for h in hits}


def test_nearest_videos_rank_whole_videos_by_centroid(lib: Library) -> None:
    vectors = lib.video_vectors([v.id for v in lib.videos()])
    vec = vectors["space"]
    nearest = lib.nearest_videos(vec, k=3)
    expected = sorted(vectors, key=lambda v: -float(vectors[v] @ vec))[:3]
    assert [v for v, _ in nearest] == expected
    assert nearest[0][1] == pytest.approx(1.0, abs=1e-4)
    excluded = lib.nearest_videos(vec, SearchFilters(exclude_ids=frozenset({"space"})), k=3)
    assert "space" not in {v for v, _ in excluded}
    assert lib.nearest_videos(vec, k=0) == []
    with pytest.raises(InvalidInputError):
        lib.nearest_videos(np.zeros(256, dtype=np.float32))


def test_embed_query_matches_the_embedder(lib: Library) -> None:
    vec = lib.embed_query("coral reefs")
    assert np.allclose(vec, lib.embedder.encode_queries(["coral reefs"])[0])
    with pytest.raises(InvalidInputError):
        lib.embed_query("")


def test_bm25_index_persists_and_reloads_without_rebuild(lib: Library, tmp_path: Path) -> None:
    from retrieval.lexical import LexicalIndex

    lib.lexical.ensure_fresh()
    fresh = LexicalIndex(lib.catalogue, lib.config.data_dir / "bm25")
    assert [m.chunk_id for m in fresh.search("basil", 5)] == [
        m.chunk_id for m in lib.lexical.search("basil", 5)
    ]
    assert fresh.rebuilds == 0  # loaded from disk, version matched

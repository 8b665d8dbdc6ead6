"""The fast paths of a search give the same answers as the plain ones: query vectors kept by
text, and filters applied after an unfiltered vector query instead of inside the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.settings import Settings
from retrieval.embed.cache import QueryVectorCache
from retrieval.library import Library
from retrieval.types import SearchFilters
from tests.fakes.index import write_talks
from tests.spies import record_calls

QUERY = "coral reefs pasta rockets shark"


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("speed")
    settings = Settings(
        data_dir=root / "data", asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    library = Library(settings)
    assert library.ingest(manifest=write_talks(root / "in")).ok
    yield library
    library.close()


class _Counting:
    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, []  # type: list[list[str]]
        self.name, self.dim = inner.name, inner.dim

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode_queries(texts)


def test_a_query_text_is_embedded_once_and_misses_in_one_batch(lib: Library) -> None:
    counting = _Counting(lib.embedder)
    cache = QueryVectorCache(lambda: counting, size=2)
    first = cache.encode(["a", "b", "a"])
    assert counting.calls == [["a", "b"]]  # one batch, each text once
    assert np.allclose(first, lib.embedder.encode_queries(["a", "b", "a"]))
    cache.encode(["b"])
    assert counting.calls == [["a", "b"]]  # kept
    cache.encode(["c"])  # size 2: "a" (least recently used) goes
    cache.encode(["a"])
    assert counting.calls[-1] == ["a"] and len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 4)


def test_the_library_shares_one_cache_between_searches_and_embed_query(
    lib: Library, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    fresh = Library(settings)  # its cache is empty when its searcher is made
    assert fresh.searcher.query_vectors is fresh.query_vectors
    assert fresh.searcher_with(settings.search).query_vectors is fresh.query_vectors
    fresh.close()
    before = lib.query_vectors.misses
    lib.search("a text never searched before")
    vector = lib.embed_query("a text never searched before")
    lib.searcher_with(lib.config.search.model_copy(update={"rrf_k": 10})).search(
        "a text never searched before"
    )
    assert lib.query_vectors.misses == before + 1
    assert np.allclose(vector, lib.embedder.encode_queries(["a text never searched before"])[0])


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(max_duration=600),
        SearchFilters(published_after=date(2016, 1, 1)),
        SearchFilters(tags_none=("science",)),
        SearchFilters(exclude_ids=frozenset({"cooking"})),
        SearchFilters(tags_any=("science",), max_duration=1000),
    ],
)
def test_post_filtering_finds_what_the_store_filter_finds(
    lib: Library, filters: SearchFilters, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_store = lib.searcher_with(
        lib.config.search.model_copy(update={"post_filter_min_share": 1.01})
    )
    after = lib.searcher_with(lib.config.search.model_copy(update={"post_filter_min_share": 0.0}))
    expected = in_store.search(QUERY, filters, k=10)
    wheres: list[Any] = []
    for name in ("query", "query_videos"):
        original = getattr(lib.store, name)

        def spy(vector: Any, n: int, where: Any = None, _f: Any = original) -> Any:
            wheres.append(where)
            return _f(vector, n, where)

        monkeypatch.setattr(lib.store, name, spy)
    got = after.search(QUERY, filters, k=10)
    assert [(h.video.id, h.best.chunk.id) for h in got] == [
        (h.video.id, h.best.chunk.id) for h in expected
    ]
    assert wheres and all(w is None for w in wheres[:2])  # the ranking queries were unfiltered
    by_vector = after.search_by_vector(lib.embed_query(QUERY), filters, k=10)
    assert [h.video.id for h in by_vector] == [
        h.video.id for h in in_store.search_by_vector(lib.embed_query(QUERY), filters, k=10)
    ]


def test_a_chunk_id_names_its_video_and_the_store_refuses_any_other_id(lib: Library) -> None:
    from retrieval.store.base import ChunkRecord
    from retrieval.types import chunk_id, video_of_chunk

    assert video_of_chunk(chunk_id("talk:2019.07", 3)) == "talk:2019.07"
    vector = np.ones(lib.embedder.dim, dtype=np.float32) / np.sqrt(lib.embedder.dim)
    with pytest.raises(ValueError, match="chunk_id"):
        lib.store.upsert([ChunkRecord("cooking-7", "cooking", 7, 0.0, 1.0, vector)])
    hits = lib.store.query(lib.embed_query("garlic"), 5)
    assert hits and all(h.video_id == lib.catalogue.chunk(h.chunk_id).video_id for h in hits)  # type: ignore[union-attr]


def test_exclusions_alone_need_no_catalogue_query_per_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    library = Library(settings)
    try:
        assert library.ingest(manifest=write_talks(tmp_path / "in")).ok
        searcher = library.searcher
        filters = SearchFilters(exclude_ids=frozenset({"cooking"}))
        by_catalogue = SearchFilters(max_duration=10**6, exclude_ids=filters.exclude_ids)
        expected = [h.video.id for h in searcher.search(QUERY, by_catalogue)]
        calls = record_calls(monkeypatch, library.catalogue, "matching_video_ids")
        for _ in range(3):
            assert [h.video.id for h in searcher.search(QUERY, filters)] == expected
        assert len(calls) == 1  # every id read once, not once per search
        gone = expected[0]
        library.remove(gone)  # a new catalogue version: the ids are read again
        after = [h.video.id for h in searcher.search(QUERY, filters)]
        assert gone not in after and "cooking" not in after and len(calls) == 2
    finally:
        library.close()

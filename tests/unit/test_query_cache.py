"""The library's query-vector cache (retrieval.embed.cache.QueryVectorCache): a text embedded once
is answered from memory, the misses of a call go to the embedder together, the oldest texts go
first beyond its size."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.embed.cache import QueryVectorCache


class Counting:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if texts:
            self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32).reshape(-1, 3)


def test_a_query_embedded_once_is_answered_from_the_cache() -> None:
    embedder = Counting()
    cache = QueryVectorCache(lambda: embedder, size=8)  # type: ignore[arg-type,return-value]
    first = cache.encode(["mars", "space travel"])
    again = cache.encode(["space travel", "oceans", "mars"])
    assert embedder.calls == [["mars", "space travel"], ["oceans"]]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert (cache.hits, cache.misses) == (2, 3)


def test_the_cache_keeps_the_newest_texts_only() -> None:
    embedder = Counting()
    cache = QueryVectorCache(lambda: embedder, size=4)  # type: ignore[arg-type,return-value]
    for n in range(9):
        cache.encode([f"text {n}"])
    assert len(cache) == 4
    cache.encode(["text 0"])  # evicted: embedded again
    assert embedder.calls[-1] == ["text 0"]
    cache.encode(["text 8"])  # kept
    assert embedder.calls[-1] == ["text 0"]

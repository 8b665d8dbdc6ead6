"""The sentence-transformers embedder keeps the last query vectors: the ranking stage's texts that
the search already embedded cost nothing (the model itself is stubbed: a unit test loads none)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from retrieval.embed import sentence_transformers as st


def _embedder(calls: list[list[str]]) -> st.SentenceTransformerEmbedder:
    embedder = object.__new__(st.SentenceTransformerEmbedder)
    embedder.dim = 3
    embedder._recent = OrderedDict()
    embedder._recent_lock = threading.Lock()

    def encode(texts: Sequence[str], kind: str) -> np.ndarray:
        if texts:
            calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32).reshape(-1, 3)

    embedder._encode = encode  # type: ignore[method-assign]
    return embedder


def test_a_query_embedded_once_is_answered_from_the_cache() -> None:
    calls: list[list[str]] = []
    embedder = _embedder(calls)
    first = embedder.encode_queries(["mars", "space travel"])
    again = embedder.encode_queries(["space travel", "oceans", "mars"])
    assert calls == [["mars", "space travel"], ["oceans"]]  # only the new text reached the model
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    assert embedder.encode_queries([]).shape == (0, 3)


def test_the_cache_keeps_the_newest_texts_only() -> None:
    calls: list[list[str]] = []
    embedder = _embedder(calls)
    for n in range(st.QUERY_CACHE + 5):
        embedder.encode_queries([f"text {n}"])
    assert len(embedder._recent) == st.QUERY_CACHE
    embedder.encode_queries(["text 0"])  # evicted: embedded again
    assert calls[-1] == ["text 0"]

"""Query texts are embedded one at a time with ``embedding.query_threads`` torch threads; documents
in batches with all threads (the model is stubbed: a unit test loads none)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from retrieval.embed import sentence_transformers as st
from retrieval.settings import EmbeddingSettings


class _Model:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []  # (kind, batch_size, torch threads)

    def _encode(self, kind: str, texts: list[str], batch_size: int, **_: Any) -> np.ndarray:
        self.calls.append((kind, batch_size, torch.get_num_threads()))
        return np.ones((len(texts), 3), dtype=np.float32)

    def encode_query(self, texts: list[str], **kw: Any) -> np.ndarray:
        return self._encode("query", texts, **kw)

    def encode_document(self, texts: list[str], **kw: Any) -> np.ndarray:
        return self._encode("document", texts, **kw)


def _embedder(
    model: _Model, query_threads: int | None, query_model: _Model | None = None
) -> st.SentenceTransformerEmbedder:
    embedder = object.__new__(st.SentenceTransformerEmbedder)
    embedder._model = model
    embedder._query_model = query_model or model
    embedder.dim = 3
    embedder.batch_size = 64
    embedder.query_threads = query_threads
    return embedder


def test_queries_are_embedded_unpadded_with_the_query_threads_and_the_count_restored() -> None:
    model = _Model()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        embedder = _embedder(model, query_threads=1)
        embedder.encode_queries(["a short turn", "a much longer earlier turn " * 20])
        embedder.encode_documents(["doc one", "doc two"])
        assert model.calls == [("query", 1, 1), ("document", 64, 2)]
        assert torch.get_num_threads() == 2  # restored after the query
    finally:
        torch.set_num_threads(before)


def test_unset_query_threads_leave_the_count_alone() -> None:
    model = _Model()
    embedder = _embedder(model, query_threads=None)
    embedder.encode_queries(["mars"])
    assert model.calls == [("query", 1, torch.get_num_threads())]


def test_the_default_embeds_a_query_with_one_thread() -> None:
    assert EmbeddingSettings().query_threads == 1


def test_an_adapted_query_encoder_takes_the_queries_and_the_base_the_documents() -> None:
    base, queries = _Model(), _Model()
    embedder = _embedder(base, query_threads=None, query_model=queries)
    embedder.encode_queries(["mars"])
    embedder.encode_documents(["doc one"])
    assert [c[0] for c in queries.calls] == ["query"]
    assert [c[0] for c in base.calls] == ["document"]

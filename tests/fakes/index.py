"""Fakes for the index layer: a deterministic hashing embedder registered as ``"fake"``.

Token hashing (lower-cased words, a crude plural strip, signed buckets) gives meaningful
similarity without a model: texts sharing words are closer than texts that share none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from retrieval.embed.base import normalise_rows
from retrieval.embed.factory import EMBEDDERS
from retrieval.settings import EmbeddingSettings

_WORD = re.compile(r"\w+")


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder; counts its calls for tests."""

    def __init__(self, settings: EmbeddingSettings | None = None, dim: int = 256) -> None:
        self.name = f"fake-hashing-{dim}"
        self.dim = dim
        self.query_calls = 0
        self.document_calls = 0
        self.documents_encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for raw in _WORD.findall(text.lower()):
            token = raw[:-1] if len(raw) > 3 and raw.endswith("s") else raw
            index, sign = _bucket(token, self.dim)
            vec[index] += sign
        if not vec.any():
            vec[0] = 1.0  # empty text: a fixed unit vector rather than NaNs
        return vec

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(np.stack([self._vector(t) for t in texts]))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.query_calls += 1
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.document_calls += 1
        self.documents_encoded += len(texts)
        return self._encode(texts)


def register() -> None:
    EMBEDDERS.register("fake", HashingEmbedder)

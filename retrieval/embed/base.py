"""The ``Embedder`` protocol: texts in, L2-normalised float32 rows out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to unit vectors; queries and documents may be encoded differently.

    Attributes:
        name: identifies the model; a change of name means stored vectors are stale.
        dim: length of every vector.
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode search queries: ``(len(texts), dim)`` float32, rows of unit length."""
        ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Encode indexed passages: ``(len(texts), dim)`` float32, rows of unit length."""
        ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Return ``matrix`` as float32 with every non-zero row scaled to unit length."""
    out = np.asarray(matrix, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (out / norms).astype(np.float32, copy=False)

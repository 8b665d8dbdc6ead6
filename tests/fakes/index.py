"""Fakes for the index layer: a deterministic hashing embedder registered as ``"fake"``.

Token hashing (lower-cased words, a crude plural strip, signed buckets) gives meaningful
similarity without a model: texts sharing words are closer than texts that share none.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

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

    def __init__(
        self,
        settings: EmbeddingSettings | None = None,
        dim: int = 256,
        models_dir: Path | None = None,
    ) -> None:
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


# --- tiny libraries for tests -------------------------------------------------------------------
TALKS: dict[str, str] = {
    "cooking": (
        "Cooking pasta at home is easy. Boil water with plenty of salt. Stir the noodles and "
        "taste them often. A good tomato sauce needs garlic and basil."
    ),
    "oceans": (
        "Coral reefs are bleaching as the oceans warm. Divers measured the temperature of the "
        "sea. Fish populations collapse when reefs die."
    ),
    "space": (
        "Rockets carry satellites into orbit. The telescope photographed distant galaxies. "
        "Astronauts train for years before a launch."
    ),
}

TALK_ROWS: list[dict[str, object]] = [
    {
        "id": "cooking",
        "title": "Pasta at home",
        "transcript_path": "cooking.txt",
        "duration": 300,
        "tags": "food,fun",
        "published": "2015-03-01",
        "language": "en",
    },
    {
        "id": "oceans",
        "title": "Dying reefs",
        "transcript_path": "oceans.txt",
        "duration": 900,
        "tags": "climate,science",
        "published": "2019-06-01",
        "language": "en",
    },
    {
        "id": "space",
        "title": "To the stars",
        "transcript_path": "space.txt",
        "duration": 1200,
        "tags": "science",
        "published": "2021-01-01",
        "language": "fr",
    },
    {
        "id": "jaws",
        "title": "Jaws",
        "description": "A great white shark terrorises a beach town.",
        "tags": "thriller",
        "duration": 7440,
        "published": "1975-06-20",
    },
]


def write_talks(folder: Path, rows: Sequence[Mapping[str, object]] | None = None) -> Path:
    """Write the TALKS transcripts and a JSONL manifest over them into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TALKS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    manifest = folder / "manifest.jsonl"
    manifest.write_text(
        "".join(json.dumps(row) + "\n" for row in (TALK_ROWS if rows is None else rows)),
        encoding="utf-8",
    )
    return manifest

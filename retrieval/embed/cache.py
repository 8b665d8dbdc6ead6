"""Query vectors kept by text: a query embedded once is not embedded again.

The same words are often searched more than once: a conversation's earlier turns on every later
turn, the agent's several searches in one turn, an evaluation running several systems over the
same queries, a user asking again. Embedding a short query is the largest single cost of a search
on a CPU, so the vectors of the last ``size`` distinct texts are kept (least recently used ones
dropped first). The misses of one call are embedded together, in one batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from retrieval.embed.base import Embedder


class QueryVectorCache:
    """``encode(texts)`` as ``Embedder.encode_queries``, from memory for texts seen lately."""

    def __init__(self, embedder: Callable[[], Embedder], size: int = 4096) -> None:
        self._embedder = embedder  # a provider: the model loads on the first miss only
        self._kept = VersionedVectors(size)  # one version: texts never change meaning
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        return self._kept.size

    @property
    def _vectors(self) -> OrderedDict[str, np.ndarray]:
        return self._kept._vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit rows; texts not kept are embedded in one call."""
        texts = list(texts)
        if not texts:
            return self._embedder().encode_queries([])
        embedded: list[str] = []

        def embed(missing: list[str]) -> dict[str, np.ndarray]:
            embedded.extend(missing)
            vectors = self._embedder().encode_queries(missing)
            return {t: np.array(v, dtype=np.float32) for t, v in zip(missing, vectors, strict=True)}

        found = self._kept.get(texts, 0, embed)
        with self._lock:
            self.misses += len(embedded)
            self.hits += len(texts) - len(embedded)
        return np.stack([found[t] for t in texts])

    def __len__(self) -> int:
        return len(self._kept._vectors)


class VersionedVectors:
    """Vectors by key (a video id, a query text), the last ``size`` used kept in memory while a
    version stays the same: a new version (the catalogue's, for video vectors) drops them all,
    since any video may have been re-ingested or removed."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = max(0, int(size))
        self._version: int | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        ids: Sequence[str],
        version: int,
        load: Callable[[list[str]], dict[str, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """The vectors of ``ids`` (those ``load`` knows), loading only the ones not kept."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            if version != self._version:
                self._vectors.clear()
                self._version = version
            for key in ids:
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    found[key] = vector
        missing = list(dict.fromkeys(v for v in ids if v not in found))
        if missing:
            loaded = load(missing)
            found.update(loaded)
            with self._lock:
                if version == self._version and self.size:
                    for key, vector in loaded.items():
                        vector.flags.writeable = False
                        self._vectors[key] = vector
                    while len(self._vectors) > self.size:
                        self._vectors.popitem(last=False)
        return found

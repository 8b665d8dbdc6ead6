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
        self.size = max(0, int(size))
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit rows; texts not kept are embedded in one call."""
        texts = list(texts)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            encoded = self._embedder().encode_queries(missing)
            for text, vector in zip(missing, encoded, strict=True):
                vector = np.array(vector, dtype=np.float32)
                vector.flags.writeable = False
                found[text] = vector
            self._keep(missing, found)
        with self._lock:
            self.misses += len(missing)
            self.hits += len(texts) - len(missing)
        if not texts:
            return self._embedder().encode_queries([])
        return np.stack([found[t] for t in texts])

    def _keep(self, texts: list[str], vectors: dict[str, np.ndarray]) -> None:
        if self.size == 0:
            return
        with self._lock:
            for text in texts:
                self._vectors[text] = vectors[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)


class VersionedVectors:
    """Vectors by id kept in memory while a version (the catalogue's) stays the same: a new
    version drops them all, since any video may have been re-ingested or removed."""

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
            for video_id in ids:
                vector = self._vectors.get(video_id)
                if vector is not None:
                    self._vectors.move_to_end(video_id)
                    found[video_id] = vector
        missing = list(dict.fromkeys(v for v in ids if v not in found))
        if missing:
            loaded = load(missing)
            found.update(loaded)
            with self._lock:
                if version == self._version and self.size:
                    for video_id, vector in loaded.items():
                        vector.flags.writeable = False
                        self._vectors[video_id] = vector
                    while len(self._vectors) > self.size:
                        self._vectors.popitem(last=False)
        return found

"""BM25 (``bm25s``, English stop-words, Snowball stemming via PyStemmer) over catalogue texts.

Two kinds of document: every chunk text (``chunk_documents``, the default), and one document per
video (``video_documents``: its title, speaker, description, tags and whole transcript), which
scores a video by everything it says rather than by one passage.

The index is derived data: it is rebuilt from the SQL catalogue whenever the catalogue's version
counter moved. Every search reads that counter (one SQL query), so a process notices a change made
by any other process on the same database (another API worker, an ingest job) and catches up
without a restart.

Each build is saved under ``<data_dir>/bm25/v<version>/``, written aside and renamed into place, and
never changed after: several processes sharing the data dir load a version another one built instead
of rebuilding it, and a reader never sees a folder half replaced. Only the newest few are kept.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.catalogue import Catalogue
from retrieval.types import Video

log = logging.getLogger(__name__)


def bm25s_module() -> Any:
    """``bm25s``, imported on first use. Its import sets its own logger to DEBUG (and it logs
    every index build there), which would print through any root handler: quieted each time."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


_META = "vidrec_bm25.json"
KEEP_VERSIONS = 3


Documents = Callable[[], tuple[int, list[tuple[str, str, str]]]]
"""Reads ``(catalogue version, [(document id, video id, text), ...])`` in one transaction."""


@dataclass(frozen=True)
class LexicalMatch:
    chunk_id: str  # the document id: a chunk id, or the video id for whole-video documents
    video_id: str
    score: float


def video_text(video: Video, chunk_texts: list[str]) -> str:
    """One video as one document: its metadata fields, then its chunks in order."""
    parts = [video.title, video.speaker or "", video.description, " ".join(video.tags)]
    return "\n".join(p.strip() for p in [*parts, *chunk_texts] if p and p.strip())


def chunk_documents(catalogue: Catalogue) -> Documents:
    return catalogue.all_chunks


def video_documents(catalogue: Catalogue) -> Documents:
    def read() -> tuple[int, list[tuple[str, str, str]]]:
        version, rows = catalogue.video_texts()
        return version, [(v.id, v.id, video_text(v, texts)) for v, texts in rows]

    return read


def english_stemmer() -> Any:
    """PyStemmer's English Snowball ``stemWords``, or None (with a warning) when not installed."""
    try:
        import Stemmer
    except ImportError:  # optional: BM25 still works without stemming
        log.warning(
            "PyStemmer is not installed; BM25 runs without stemming (pip install PyStemmer)"
        )
        return None
    return Stemmer.Stemmer("english").stemWords


def tokenize(texts: list[str], *, stemmer: Any, return_ids: bool = True) -> Any:
    """The BM25 tokenizer of every lexical index: ``bm25s`` with English stop-words and
    ``stemmer`` (:func:`english_stemmer`, or None for none)."""
    return bm25s_module().tokenize(
        texts, stopwords="en", stemmer=stemmer, return_ids=return_ids, show_progress=False
    )


class LexicalIndex:
    """BM25 over the catalogue's chunks (or ``documents``), rebuilt lazily when it changes."""

    def __init__(
        self, catalogue: Catalogue, directory: Path, documents: Documents | None = None
    ) -> None:
        self.catalogue = catalogue
        self.directory = directory
        self._documents = documents or chunk_documents(catalogue)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._retriever: Any = None
        self._chunk_ids: list[str] = []
        self._video_ids: np.ndarray = np.array([], dtype=object)
        self._stem = english_stemmer()
        self.rebuilds = 0  # how many times this process rebuilt the index (for tests/benchmarks)
        self.loads = 0  # how many times it loaded a version another process had saved

    def _tokenize(self, texts: list[str], *, return_ids: bool) -> Any:
        return tokenize(texts, stemmer=self._stem, return_ids=return_ids)

    def ensure_fresh(self) -> None:
        """Make the in-memory index match the catalogue (load from disk or rebuild)."""
        version = self.catalogue.version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            if not self._load(version):
                self._rebuild()

    def _folder(self, version: int) -> Path:
        return self.directory / f"v{version:010d}"

    def _load(self, version: int) -> bool:
        folder = self._folder(version)
        meta_path = folder / _META
        if not meta_path.is_file():
            return False
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("version") != version:
                return False
            retriever = None
            if meta["chunk_ids"]:
                retriever = bm25s_module().BM25.load(str(folder), show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError) as exc:  # pruned meanwhile, or damaged
            log.warning("BM25 index at %s unreadable (%s); rebuilding", folder, exc)
            return False
        self._retriever = retriever
        self._chunk_ids = list(meta["chunk_ids"])
        self._video_ids = np.array(meta["video_ids"], dtype=object)
        self._version = version
        self.loads += 1
        return True

    def _rebuild(self) -> None:
        bm25s = bm25s_module()
        version, rows = self._documents()
        log.info("building BM25 over %d documents (catalogue version %d)", len(rows), version)
        chunk_ids = [cid for cid, _, _ in rows]
        video_ids = [vid for _, vid, _ in rows]
        retriever = None
        if rows:
            retriever = bm25s.BM25()
            retriever.index(
                self._tokenize([text for _, _, text in rows], return_ids=True), show_progress=False
            )
        self._retriever = retriever
        self._chunk_ids = chunk_ids
        self._video_ids = np.array(video_ids, dtype=object)
        self._version = version
        self.rebuilds += 1
        try:
            self._save(version, retriever, chunk_ids, video_ids)
        except OSError as exc:  # the index in memory serves; the next process rebuilds
            log.warning("could not save the BM25 index under %s (%s)", self.directory, exc)

    def _save(
        self, version: int, retriever: Any, chunk_ids: list[str], video_ids: list[str]
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self._folder(version)
        if (target / _META).is_file():
            return  # another process built this version first
        tmp = self.directory / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            if retriever is not None:
                retriever.save(str(tmp), show_progress=False)
            (tmp / _META).write_text(
                json.dumps({"version": version, "chunk_ids": chunk_ids, "video_ids": video_ids})
            )
            tmp.rename(target)  # fails if another process renamed its copy there first: fine
        except OSError:
            if not (target / _META).is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._prune()

    def _prune(self) -> None:
        versions = sorted(p for p in self.directory.glob("v[0-9]*") if p.is_dir())
        for old in versions[:-KEEP_VERSIONS]:
            shutil.rmtree(old, ignore_errors=True)
        for legacy in self.directory.iterdir():  # the single-folder layout of earlier versions
            if legacy.is_file():
                legacy.unlink(missing_ok=True)

    def search(
        self, query: str, n: int, allowed_videos: set[str] | None = None
    ) -> list[LexicalMatch]:
        """Top ``n`` chunks by BM25 with a positive score, restricted to ``allowed_videos``."""
        self.ensure_fresh()
        retriever, chunk_ids, video_ids = self._retriever, self._chunk_ids, self._video_ids
        if retriever is None or n <= 0 or not chunk_ids:
            return []
        tokens = self._tokenize([query], return_ids=False)
        if not tokens or not tokens[0]:
            return []
        mask = None
        if allowed_videos is not None:
            if not allowed_videos:
                return []
            # set membership: np.isin on object arrays compares every pair (~12 s at 10k x 10k)
            allowed = allowed_videos
            mask = np.fromiter((v in allowed for v in video_ids), np.float32, len(video_ids))
        docs, scores = retriever.retrieve(
            tokens, k=min(n, len(chunk_ids)), show_progress=False, weight_mask=mask
        )
        out: list[LexicalMatch] = []
        for doc, score in zip(docs[0], scores[0], strict=True):
            if score <= 0:
                break
            out.append(LexicalMatch(chunk_ids[int(doc)], str(video_ids[int(doc)]), float(score)))
        return out

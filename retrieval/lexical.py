"""BM25 (``bm25s``, English stop-words, Snowball stemming via PyStemmer) over catalogue texts.

Two kinds of document: every chunk text (``chunk_documents``, the default), and one document per
video (``video_documents``: its title, speaker, description, tags and whole transcript), which
scores a video by everything it says rather than by one passage.

``Bm25Params`` sets an index's k1 and b, and whether adjacent word pairs count as extra terms
(``pair_buckets``: "climate change", "dark matter" match as phrases, not as two common words). A
pair is hashed into one of ``pair_buckets`` terms, so the vocabulary stays bounded (about 1.1M
distinct pairs over 2,092 TED transcripts; 2^18 buckets scored the same, docs/search.md).

The index is derived data: it is rebuilt from the SQL catalogue whenever the catalogue's version
counter moved. Every search reads that counter (one SQL query), so a process notices a change made
by any other process on the same database (another API worker, an ingest job) and catches up
without a restart.

Each build is saved under ``<data_dir>/bm25/v<version>/``, written aside and renamed into place, and
never changed after: several processes sharing the data dir load a version another one built instead
of rebuilding it, and a reader never sees a folder half replaced. Only the newest few are kept.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.catalogue import Catalogue
from retrieval.settings import SearchSettings
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


@dataclass(frozen=True)
class Bm25Params:
    """BM25's term saturation ``k1`` and length normalisation ``b`` (``bm25s``' defaults), and
    ``pair_buckets``: adjacent word pairs (after stop-words and stemming) added as terms, hashed
    into that many buckets (0: single words only)."""

    k1: float = 1.5
    b: float = 0.75
    pair_buckets: int = 0

    def signature(self) -> str:
        """Names the parameters in a saved index's folder: one built with others is not loaded."""
        return f"k{self.k1:g}-b{self.b:g}-p{self.pair_buckets}"


def video_bm25_params(settings: SearchSettings) -> Bm25Params:
    """The whole-video index's parameters from ``search`` settings."""
    return Bm25Params(
        settings.video_bm25_k1, settings.video_bm25_b, settings.video_bm25_pair_buckets
    )


def with_pairs(tokens: list[str], buckets: int) -> list[str]:
    """``tokens`` and, when ``buckets`` > 0, a term for each adjacent pair of them (``+`` and a
    stable hash: no single token holds ``+``, and the hash is the same in every process)."""
    if buckets <= 0:
        return tokens
    pairs = (zlib.crc32(f"{a} {b}".encode()) % buckets for a, b in itertools.pairwise(tokens))
    return [*tokens, *(f"+{p:x}" for p in pairs)]


class LexicalIndex:
    """BM25 over the catalogue's chunks (or ``documents``), rebuilt lazily when it changes."""

    def __init__(
        self,
        catalogue: Catalogue,
        directory: Path,
        documents: Documents | None = None,
        params: Bm25Params | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.directory = directory
        self.params = params or Bm25Params()
        self._documents = documents or chunk_documents(catalogue)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._retriever: Any = None
        self._chunk_ids: list[str] = []
        self._video_ids: np.ndarray = np.array([], dtype=object)
        self._postings = Postings.empty()
        self._stem = english_stemmer()
        self.rebuilds = 0  # how many times this process rebuilt the index (for tests/benchmarks)
        self.loads = 0  # how many times it loaded a version another process had saved

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        buckets = self.params.pair_buckets
        found = tokenize(texts, stemmer=self._stem, return_ids=False)
        return [with_pairs(list(tokens), buckets) for tokens in found]

    def ensure_fresh(self, version: int | None = None) -> None:
        """Make the in-memory index match the catalogue (load from disk or rebuild);
        ``version``: the catalogue's version when the caller has just read it."""
        version = self.catalogue.version() if version is None else version
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            if not self._load(version):
                self._rebuild()

    def _folder(self, version: int) -> Path:
        default = self.params == Bm25Params()  # the folders written before there were params
        return self.directory / f"v{version:010d}{'' if default else '-' + self.params.signature()}"

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
        self._install(version, retriever, list(meta["chunk_ids"]), list(meta["video_ids"]))
        self.loads += 1
        return True

    def _install(
        self, version: int, retriever: Any, chunk_ids: list[str], video_ids: list[str]
    ) -> None:
        self._postings = Postings.of(retriever, video_ids)
        self._retriever = retriever
        self._chunk_ids = chunk_ids
        self._video_ids = np.array(video_ids, dtype=object)
        self._version = version

    def _rebuild(self) -> None:
        bm25s = bm25s_module()
        version, rows = self._documents()
        log.info("building BM25 over %d documents (catalogue version %d)", len(rows), version)
        chunk_ids = [cid for cid, _, _ in rows]
        video_ids = [vid for _, vid, _ in rows]
        retriever = None
        if rows:
            retriever = bm25s.BM25(k1=self.params.k1, b=self.params.b)
            texts = [text for _, _, text in rows]
            if self.params.pair_buckets > 0:
                corpus: Any = self._tokenize(texts)
            else:  # token ids straight from the tokenizer: faster to index than strings
                corpus = tokenize(texts, stemmer=self._stem, return_ids=True)
            retriever.index(corpus, show_progress=False)
        self._install(version, retriever, chunk_ids, video_ids)
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
        self,
        query: str,
        n: int,
        allowed_videos: set[str] | frozenset[str] | None = None,
        *,
        version: int | None = None,
    ) -> list[LexicalMatch]:
        """Top ``n`` chunks by BM25 with a positive score, restricted to ``allowed_videos``
        (``version``: the catalogue version the caller read, to save reading it again)."""
        self.ensure_fresh(version)
        postings, chunk_ids, video_ids = self._postings, self._chunk_ids, self._video_ids
        if n <= 0 or not chunk_ids:
            return []
        if allowed_videos is not None and not allowed_videos:
            return []
        tokens = self._tokenize([query])
        if not tokens or not tokens[0]:
            return []
        docs, scores = postings.top(tokens[0], n, allowed_videos)
        return [
            LexicalMatch(chunk_ids[doc], str(video_ids[doc]), float(score))
            for doc, score in zip(docs.tolist(), scores.tolist(), strict=True)
        ]

    def best_per_video(
        self, query: str, videos: set[str] | frozenset[str]
    ) -> dict[str, LexicalMatch]:
        """Each of ``videos``' best document for ``query`` (those with no matching word are
        left out): every matching document of theirs is scored, none is cut by a top ``n``."""
        self.ensure_fresh()
        tokens = self._tokenize([query])
        if not videos or not self._chunk_ids or not tokens or not tokens[0]:
            return {}
        docs, scores = self._postings.scores(tokens[0], videos)
        out: dict[str, LexicalMatch] = {}
        for doc in np.lexsort((docs, -scores)).tolist():  # best first, ties: lower row
            row = int(docs[doc])
            video = str(self._video_ids[row])
            if video not in out:
                out[video] = LexicalMatch(self._chunk_ids[row], video, float(scores[doc]))
        return out


@dataclass(frozen=True)
class Postings:
    """The BM25 score matrix of a ``bm25s`` index (CSC: per token, the documents holding it and
    their precomputed BM25 term scores), read directly so that one query costs the length of its
    tokens' posting lists, not a pass over every document.

    ``bm25s``' own retrieval adds postings with ``np.add.at`` (unbuffered: slow on long lists) and
    applies a filter as a mask multiplied over every document; here the postings are summed with
    one ``np.bincount`` and a filter drops postings of other videos before summing. Scores are the
    same as ``bm25s`` gives (its Lucene variant has no non-occurrence term).
    """

    vocab: dict[str, int]
    data: np.ndarray  # term scores, postings of token t at data[indptr[t]:indptr[t + 1]]
    indices: np.ndarray  # document rows, aligned with data
    indptr: np.ndarray
    num_docs: int
    doc_video: np.ndarray  # document row -> index into video_index
    video_index: dict[str, int]

    @staticmethod
    def empty() -> Postings:
        none = np.zeros(0, dtype=np.int64)
        return Postings({}, none.astype(np.float32), none, np.zeros(1, np.int64), 0, none, {})

    @staticmethod
    def of(retriever: Any, video_ids: list[str]) -> Postings:
        if retriever is None:
            return Postings.empty()
        if getattr(retriever, "nonoccurrence_array", None) is not None:
            raise ValueError("BM25 variants with a non-occurrence score are not supported")
        video_index: dict[str, int] = {}
        doc_video = np.fromiter(
            (video_index.setdefault(v, len(video_index)) for v in video_ids),
            dtype=np.int32,
            count=len(video_ids),
        )
        scores = retriever.scores
        return Postings(
            vocab=dict(retriever.vocab_dict),
            data=np.asarray(scores["data"]),
            indices=np.asarray(scores["indices"]),
            indptr=np.asarray(scores["indptr"]),
            num_docs=int(scores["num_docs"]),
            doc_video=doc_video,
            video_index=video_index,
        )

    def scores(
        self, tokens: list[str], allowed_videos: set[str] | frozenset[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(document rows, BM25 scores)`` of every document matching a token (and allowed)."""
        ids = [self.vocab[t] for t in tokens if t in self.vocab]
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        slices = [slice(self.indptr[i], self.indptr[i + 1]) for i in ids]
        rows = np.concatenate([self.indices[s] for s in slices])
        weights = np.concatenate([self.data[s] for s in slices])
        if allowed_videos is not None:
            keep_video = np.zeros(len(self.video_index), dtype=bool)
            keep_video[[self.video_index[v] for v in allowed_videos if v in self.video_index]] = 1
            keep = keep_video[self.doc_video[rows]]
            rows, weights = rows[keep], weights[keep]
        if len(rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        summed = np.bincount(rows, weights=weights, minlength=self.num_docs)
        docs = np.flatnonzero(summed > 0)
        return docs, summed[docs]

    def top(
        self, tokens: list[str], n: int, allowed_videos: set[str] | frozenset[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best ``(document rows, scores)``, best first (ties: lower row first)."""
        docs, scores = self.scores(tokens, allowed_videos)
        if len(docs) > n:
            part = np.argpartition(-scores, n - 1)[:n]
            docs, scores = docs[part], scores[part]
        order = np.lexsort((docs, -scores))
        return docs[order], scores[order]


def video_index(catalogue: Catalogue, directory: Path, settings: SearchSettings) -> LexicalIndex:
    """The whole-video BM25 index (metadata fields and the whole transcript as one document,
    the parameters of ``settings``), saved under ``directory``."""
    return LexicalIndex(
        catalogue, directory, video_documents(catalogue), video_bm25_params(settings)
    )

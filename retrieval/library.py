"""``Library``: the retrieval facade the agent uses (ingest, search, catalogue, vectors, ASR).

Construction is cheap: the transcriber, embedder, vector store and catalogue are created on first
use, so a process that only lists videos never loads a model, and one that only searches never
loads Whisper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from retrieval.catalogue import Catalogue
from retrieval.embed.base import Embedder, normalise_rows
from retrieval.embed.cache import QueryVectorCache, VersionedVectors
from retrieval.errors import InvalidInputError, NotFoundError
from retrieval.guard import IngestGuard
from retrieval.ingest import Ingestor
from retrieval.lazy import built_once
from retrieval.lexical import LexicalIndex, video_index
from retrieval.query_fusion import effective_search
from retrieval.search import HybridSearch
from retrieval.settings import (
    ASRSettings,
    ChunkingSettings,
    EmbeddingSettings,
    IngestSettings,
    SearchSettings,
    StoreSettings,
)
from retrieval.store.base import VectorStore, video_record
from retrieval.types import (
    Chunk,
    IngestProgress,
    IngestReport,
    QueryText,
    SearchFilters,
    Transcript,
    Video,
    VideoHit,
)

if TYPE_CHECKING:
    from retrieval.asr.base import Transcriber

log = logging.getLogger(__name__)


class LibraryConfig(Protocol):
    """What ``Library`` needs from settings (``agent.settings.Settings`` satisfies it)."""

    asr: ASRSettings
    embedding: EmbeddingSettings
    store: StoreSettings
    chunking: ChunkingSettings
    search: SearchSettings
    ingest: IngestSettings

    @property
    def sql_url(self) -> str: ...

    @property
    def chroma_dir(self) -> Path: ...

    @property
    def models_dir(self) -> Path: ...

    @property
    def data_dir(self) -> Path: ...


def embedder_id(settings: EmbeddingSettings) -> str:
    """Identifies the document vectors an embedder makes, known without loading it."""
    return f"{settings.backend}:{settings.model}"


def query_embedder_id(settings: EmbeddingSettings) -> str:
    """Identifies the query vectors: the documents' model, and the adapted query encoder if any
    (vectors of logged turns are comparable only with a new turn's from the same encoder)."""
    base = embedder_id(settings)
    return f"{base}+queries:{settings.query_model}" if settings.query_model else base


class Library:
    """A video library: ingest media and manifests, search them, read the catalogue."""

    def __init__(self, config: LibraryConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._transcriber: Transcriber | None = None
        self._store: VectorStore | None = None
        self._catalogue: Catalogue | None = None
        self._lexical: LexicalIndex | None = None
        self._video_lexical: LexicalIndex | None = None
        self._search: HybridSearch | None = None
        self.query_vectors = QueryVectorCache(lambda: self.embedder, config.search.query_cache_size)
        self._video_vectors_complete = False  # every catalogued video has a centroid
        self._centroids = VersionedVectors()

    # --- lazily built parts -------------------------------------------------------------------
    def _lazy(self, attr: str, build: Callable[[], Any]) -> Any:
        return built_once(self, attr, self._lock, build)

    @property
    def query_embedder_id(self) -> str:
        """What :func:`query_embedder_id` says of this library's query vectors."""
        return query_embedder_id(self.config.embedding)

    @property
    def embedder(self) -> Embedder:
        from retrieval.embed.factory import create_embedder

        result: Embedder = self._lazy(
            "_embedder", lambda: create_embedder(self.config.embedding, self.config.models_dir)
        )
        return result

    @property
    def transcriber(self) -> Transcriber:
        def build() -> Transcriber:
            from retrieval.asr.factory import create_transcriber

            return create_transcriber(self.config.asr, self.config.models_dir)

        result: Transcriber = self._lazy("_transcriber", build)
        return result

    @property
    def store(self) -> VectorStore:
        from retrieval.store.factory import create_store

        result: VectorStore = self._lazy(
            "_store",
            lambda: create_store(
                self.config.store,
                self.config.chroma_dir,
                embedder_name=embedder_id(self.config.embedding),
            ),
        )
        return result

    @property
    def catalogue(self) -> Catalogue:
        result: Catalogue = self._lazy("_catalogue", lambda: Catalogue(self.config.sql_url))
        return result

    @property
    def lexical(self) -> LexicalIndex:
        result: LexicalIndex = self._lazy(
            "_lexical", lambda: LexicalIndex(self.catalogue, self.config.data_dir / "bm25")
        )
        return result

    @property
    def video_lexical(self) -> LexicalIndex:
        """BM25 over whole videos (metadata fields and the whole transcript as one document)."""
        result: LexicalIndex = self._lazy(
            "_video_lexical",
            lambda: video_index(
                self.catalogue, self.config.data_dir / "bm25-videos", self.config.search
            ),
        )
        return result

    @property
    def searcher(self) -> HybridSearch:
        result: HybridSearch = self._lazy(
            "_search",
            lambda: self.searcher_with(effective_search(self.config.search, self.config.embedding)),
        )
        return result

    def searcher_with(self, settings: SearchSettings) -> HybridSearch:
        """A search over this library's parts with other search settings (e.g. fusion weights)."""
        return HybridSearch(
            self.catalogue,
            self.store,
            self.lexical,
            lambda: self.embedder,
            settings,
            video_lexical=self.video_lexical,
            query_vectors=self.query_vectors,
        )

    # --- ingest -------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path] = (),
        manifest: str | Path | None = None,
        progress: Callable[[IngestProgress], None] | None = None,
        guard: IngestGuard | None = None,
        *,
        ray: str | None = None,
    ) -> IngestReport:
        """Index files/folders and manifest rows; see ``retrieval.ingest`` for the guarantees
        (``guard``: the roots inputs from outside must stay under, a time limit, cancelling).

        With ``ray`` (a Ray address, "auto" or "local"), decoding, Whisper and embedding run as
        Ray Data stages on that cluster (``retrieval.ray_ingest``), with the same guarantees."""
        if isinstance(paths, str | Path):
            paths = [paths]
        parts: dict[str, Any] = {
            "catalogue": self.catalogue,
            "store": lambda: self.store,
            "embedder": lambda: self.embedder,
            "transcriber": lambda: self.transcriber,
            "chunking": self.config.chunking,
            "ingest": self.config.ingest,
            "asr": self.config.asr,
            "embedder_id": embedder_id(self.config.embedding),
            "lock_path": self.config.data_dir / "ingest.lock",
        }
        ingestor = Ingestor(**parts)
        if ray is not None:
            from retrieval.ray_ingest import RayIngestor

            ingestor = RayIngestor(
                address=ray,
                embedding=self.config.embedding,
                models_dir=self.config.models_dir,
                **parts,
            )
        report = ingestor.run(paths, manifest, progress, guard)
        if not self._video_vectors_complete:
            self.backfill_video_vectors()
        if report.ingested:
            self.lexical.ensure_fresh()  # rebuild BM25 now rather than on the first query
            self.video_lexical.ensure_fresh()
        return report

    def backfill_video_vectors(self) -> int:
        """Give every catalogued video its whole-video vector (ingest writes them; a store
        written before they existed gets them here, from its chunk vectors). Returns how many.

        The first ingest of a process calls it; later ones do not, since ingest itself writes
        each new video's vector (listing every vector id costs seconds on a large library)."""
        have = self.store.video_vector_ids()
        missing = [v for v in self.catalogue.videos() if v.id not in have]
        for start in range(0, len(missing), 500):
            batch = missing[start : start + 500]
            stacked = self.store.video_embeddings([v.id for v in batch])
            self.store.upsert_videos(
                [video_record(v, stacked[v.id]) for v in batch if len(stacked.get(v.id, ()))]
            )
        if missing:
            log.info("added whole-video vectors for %d videos", len(missing))
        self._video_vectors_complete = True
        return len(missing)

    def remove(self, video_id: str) -> None:
        """Delete a video from SQL, the vector store and BM25. ``NotFoundError`` if absent."""
        source = self.catalogue.source(video_id)
        if source is None and self.catalogue.get_video(video_id) is None:
            raise NotFoundError(
                f"No video with id {video_id!r} in the library",
                hint="List ids with `vidrec videos`",
            )
        # pending first: a run killed mid-remove is finished by the next ingest's recovery
        self.catalogue.mark_pending(video_id, source.content_hash if source else "", "removed")
        self.store.delete_videos([video_id])
        self.catalogue.delete_video(video_id)
        for index in (self._lexical, self._video_lexical):
            if index is not None:
                index.ensure_fresh()

    # --- search -------------------------------------------------------------------------------
    def search(
        self,
        query: str | Sequence[QueryText],
        filters: SearchFilters | None = None,
        k: int = 10,
    ) -> list[VideoHit]:
        """Hybrid search (dense + BM25, chunks and whole videos, RRF); ``query`` is one text or
        several weighted ones. ``VideoHit.score`` is the video's fused score."""
        return self.searcher.search(query, filters, k)

    def search_by_vector(
        self, vector: np.ndarray, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        """Dense search from a vector (e.g. a user profile); score = best chunk's cosine."""
        return self.searcher.search_by_vector(vector, filters, k)

    def nearest_videos(
        self, vector: np.ndarray, filters: SearchFilters | None = None, k: int = 10
    ) -> list[tuple[str, float]]:
        """``(video id, cosine)`` of the whole videos nearest ``vector``, best first."""
        return self.searcher.nearest_videos(vector, filters, k)

    def embed_query(self, text: str) -> np.ndarray:
        if not text or not text.strip():
            raise InvalidInputError(
                "Cannot embed an empty text", expected="some words", got=repr(text)
            )
        vector: np.ndarray = self.query_vectors.encode([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors of ``texts``, embedded in one batch where not kept from before (so
        that searching them afterwards costs no embedding while they stay in the cache)."""
        return self.query_vectors.encode(texts)

    def video_vectors(self, video_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Mean of each video's chunk vectors, L2-normalised; unknown ids are left out. Kept in
        memory until the catalogue's version changes (a turn's learned stage reads ~150)."""

        def load(ids: list[str]) -> dict[str, np.ndarray]:
            stacked = self.store.video_embeddings(ids)
            return {
                vid: normalise_rows(vectors.mean(axis=0))[0]
                for vid, vectors in stacked.items()
                if len(vectors)
            }

        return self._centroids.get(list(video_ids), self.catalogue.version(), load)

    # --- catalogue ----------------------------------------------------------------------------
    def get_video(self, video_id: str) -> Video | None:
        return self.catalogue.get_video(video_id)

    def videos(self) -> list[Video]:
        return self.catalogue.videos()

    def chunks(self, video_id: str) -> list[Chunk]:
        return self.catalogue.chunks(video_id)

    def videos_by_ids(self, video_ids: Iterable[str]) -> dict[str, Video]:
        return self.catalogue.videos_by_ids(video_ids)

    def chunks_of(self, video_ids: Iterable[str]) -> dict[str, list[Chunk]]:
        """Each video's chunks in order, read together (see ``Catalogue.chunks_of``)."""
        return self.catalogue.chunks_of(video_ids)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.catalogue.chunk(chunk_id)

    # --- speech -------------------------------------------------------------------------------
    def transcribe(
        self, audio: str | Path | np.ndarray, max_seconds: float | None = None
    ) -> Transcript:
        """Speech to text with the same transcriber ingest uses (loaded once).

        With ``max_seconds``, a file is probed and decoded here first, and refused
        (``AudioTooLongError``) when longer: decoding stops at the limit.
        """
        if max_seconds is not None and not isinstance(audio, np.ndarray):
            from retrieval.media import load_audio

            audio = load_audio(audio, max_seconds=max_seconds)
        return self.transcriber.transcribe(audio, language=self.config.asr.language)

    def close(self) -> None:
        if self._catalogue is not None:
            self._catalogue.close()

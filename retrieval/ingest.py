"""Resumable, idempotent ingest: inputs -> transcripts -> chunks -> vectors + catalogue + BM25.

Inputs are files or folders (searched recursively; a media file is paired with sidecar captions of
the same stem) and manifest rows (metadata plus optional media, captions or transcript paths; a row
with none of them is indexed from its title, description and tags). Per video the text comes from,
in priority order: captions, a given transcript, Whisper ASR of the media, the metadata alone.

Idempotence: each video has a *content hash* over its input bytes (media, captions, transcript),
its metadata, the chunking settings and the embedder (and the ASR model when ASR is used). A video
whose hash is recorded as ``done`` is skipped before anything is decoded, transcribed or embedded.

Crash safety (kill -9 at any point): per video, (1) the catalogue records the new hash as
``pending`` and commits; (2) the video's vectors are deleted and the new ones upserted under
deterministic ids ``{video_id}:{index}``; (3) one SQL transaction replaces the video row and its
chunks, marks the hash ``done`` and bumps the catalogue version (BM25 follows that version). A run
killed anywhere leaves at most ``pending`` videos; the next run redoes those in its batch (delete
then upsert, so no duplicates or stale chunks) and purges pending ones it was not given, so nothing
half-written is ever served. One ingest runs at a time per library, across every process and machine
on its database (:func:`ingest_lock`).

Embedding is batched across videos: prepared chunks are buffered until ``embed_flush_chunks`` and
embedded in one call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval import ingest_stages as stages
from retrieval.asr.base import Transcriber
from retrieval.catalogue import Catalogue
from retrieval.discovery import discover
from retrieval.embed.base import Embedder
from retrieval.errors import (
    IngestBusyError,
    one_line,
)
from retrieval.guard import IngestCancelled, IngestGuard, file_digest
from retrieval.ingest_stages import IngestItem, PreparedVideo
from retrieval.settings import ASRSettings, ChunkingSettings, IngestSettings
from retrieval.sqldb.locks import LockBusy, database_lock
from retrieval.store.base import ChunkRecord, VectorStore, date_key, video_record
from retrieval.types import (
    Chunk,
    IngestFailure,
    IngestProgress,
    IngestReport,
    Video,
)

log = logging.getLogger(__name__)

ProgressFn = Callable[[IngestProgress], None]


# --- hashing ------------------------------------------------------------------------------------
def content_hash(
    item: IngestItem,
    *,
    chunking: ChunkingSettings,
    ingest: IngestSettings,
    embedder_id: str,
    asr: ASRSettings,
    guard: IngestGuard | None = None,
) -> str:
    """Everything that determines what gets indexed for ``item``, hashed (see module doc)."""
    cap = int(ingest.max_file_mb * 1e6)
    parts: dict[str, object] = {
        "video": dataclasses.asdict(item.video),
        "chunking": chunking.model_dump(mode="json"),
        "metadata_chunk": ingest.metadata_chunk,
        "embedder": embedder_id,
    }
    if item.captions_path is not None:
        parts["captions"] = file_digest(item.captions_path, "captions", max_bytes=cap, guard=guard)
    elif item.transcript_path is not None:
        parts["transcript"] = file_digest(
            item.transcript_path, "transcript", max_bytes=cap, guard=guard
        )
    if item.media_path is not None:
        parts["media"] = file_digest(item.media_path, "media", max_bytes=cap, guard=guard)
        if item.captions_path is None and item.transcript_path is None:
            parts["asr"] = {"backend": asr.backend, "model": asr.model, "language": asr.language}
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


# --- the run ------------------------------------------------------------------------------------
@contextmanager
def ingest_lock(catalogue: Catalogue, path: Path) -> Iterator[None]:
    """One ingest per library at a time, for every process on the catalogue's database (an
    advisory lock on PostgreSQL, a ``flock`` on ``path`` otherwise; freed even on kill -9)."""
    try:
        with database_lock(catalogue.engine, "ingest", path, wait=False):
            yield
    except LockBusy:
        raise IngestBusyError(
            "Another ingest is running on this library",
            hint=f"Wait for it to finish (lock: {path} or the database's ingest lock)",
        ) from None


class Ingestor:
    """Runs one ingest over a catalogue and a vector store (heavy parts come from providers)."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        store: Callable[[], VectorStore],
        embedder: Callable[[], Embedder],
        transcriber: Callable[[], Transcriber],
        chunking: ChunkingSettings,
        ingest: IngestSettings,
        asr: ASRSettings,
        embedder_id: str,
        lock_path: Path,
    ) -> None:
        self.catalogue = catalogue
        self._store = store
        self._embedder = embedder
        self._transcriber = transcriber
        self.chunking = chunking
        self.settings = ingest
        self.asr = asr
        self.embedder_id = embedder_id
        self.lock_path = lock_path

    def run(
        self,
        paths: Sequence[str | Path] = (),
        manifest: str | Path | None = None,
        progress: ProgressFn | None = None,
        guard: IngestGuard | None = None,
    ) -> IngestReport:
        """Ingest ``paths`` and ``manifest`` rows; ``guard`` confines inputs from outside and can
        stop the run (``IngestCancelled``; videos written before it stopped stay)."""
        guard = guard or IngestGuard()
        guard.check()
        found = discover(paths, manifest, self.settings, roots=guard.roots)
        report = IngestReport(failed=list(found.failures))
        total = len(found.items) + len(found.failures)
        state = _RunState(report, total, progress, done=len(found.failures))
        with ingest_lock(self.catalogue, self.lock_path):
            self.recover(keep={item.video_id for item in found.items})
            self.process(self.changed(found.items, state, guard), state)
        return report

    def changed(
        self, items: Sequence[IngestItem], state: _RunState, guard: IngestGuard
    ) -> Iterator[tuple[IngestItem, str]]:
        """Yield each item with its content hash unless it is already ``done`` with that hash
        (lazily: an item is hashed when the one before it has been handled)."""
        sources = self.catalogue.sources()
        for item in items:
            guard.check()
            try:
                digest = content_hash(
                    item,
                    chunking=self.chunking,
                    ingest=self.settings,
                    embedder_id=self.embedder_id,
                    asr=self.asr,
                    guard=guard,
                )
            except IngestCancelled:
                raise
            except Exception as exc:  # one bad input never stops the batch
                state.fail(item.origin, exc)
                continue
            known = sources.get(item.video_id)
            if known is not None and known.status == "done" and known.content_hash == digest:
                state.report.unchanged.append(item.video_id)
                state.tick(item.origin)
                continue
            yield item, digest

    def process(self, todo: Iterable[tuple[IngestItem, str]], state: _RunState) -> None:
        """Prepare, embed and write the changed items, in this process (the Ray run overrides
        this one step: ``retrieval.ray_ingest``)."""
        buffer: list[PreparedVideo] = []
        for item, digest in todo:
            try:
                prepared = self.prepare(item, digest)
            except IngestCancelled:
                raise
            except Exception as exc:  # one bad input never stops the batch
                state.fail(item.origin, exc)
                continue
            state.report.audio_seconds += prepared.audio_seconds
            buffer.append(prepared)
            state.buffered += len(prepared.chunks)
            state.tick(item.origin)
            if state.buffered >= self.settings.embed_flush_chunks:
                self.flush(buffer, state)
                buffer = []
        if buffer:
            self.flush(buffer, state)

    def recover(self, keep: set[str]) -> None:
        """Purge videos left ``pending`` by an interrupted run, unless this run redoes them."""
        stale = [
            s
            for s in self.catalogue.sources().values()
            if s.status == "pending" and s.video_id not in keep
        ]
        if not stale:
            return
        store = self._store()
        for src in stale:
            log.warning(
                "video %s was left half-written by an interrupted run; removing it "
                "(ingest %s again to restore it)",
                src.video_id,
                src.origin or "its input",
            )
            store.delete_videos([src.video_id])
            self.catalogue.delete_video(src.video_id)

    def prepare(self, item: IngestItem, digest: str) -> PreparedVideo:
        """Decode/transcribe/parse one item into final metadata and chunks (no writes)."""
        decoded = stages.decode(item, digest, self.settings)
        if decoded.audio is not None:  # Whisper loads only when a video needs it
            decoded = stages.transcribe(decoded, self._transcriber(), self.asr.language)
        return stages.finish(decoded, self.chunking, self.settings)

    def flush(self, buffer: list[PreparedVideo], state: _RunState) -> None:
        """Embed every buffered chunk in one call, then write the videos together (see module
        doc); when that write fails, each video is written alone so that only a bad one fails."""
        if not buffer:
            return
        texts = [c.text for p in buffer for c in p.chunks]
        vectors = stages.embed(self._embedder(), texts)
        parts = np.split(vectors, np.cumsum([len(p.chunks) for p in buffer])[:-1])
        store = self._store()
        state.buffered -= len(texts)
        if len(buffer) > 1:
            try:
                self.write_many(store, buffer, parts)
            except Exception as exc:
                log.info("writing %d videos together failed (%s); one at a time", len(buffer), exc)
            else:
                for prepared in buffer:
                    self.counted(prepared, state)
                return
        for prepared, part in zip(buffer, parts, strict=True):
            self.commit(store, prepared, part, state)

    def commit(
        self, store: VectorStore, prepared: PreparedVideo, vectors: np.ndarray, state: _RunState
    ) -> None:
        """Write one embedded video and count it (a failed write is reported, not raised)."""
        try:
            self.write(store, prepared, vectors)
        except Exception as exc:
            log.warning("writing %s failed: %s", prepared.video.id, exc)
            state.report.failed.append(
                IngestFailure(
                    prepared.item.origin, one_line(exc) + " Run the ingest again to retry."
                )
            )
            return
        self.counted(prepared, state)

    @staticmethod
    def counted(prepared: PreparedVideo, state: _RunState) -> None:
        state.report.ingested.append(prepared.video.id)
        state.report.chunks += len(prepared.chunks)
        state.emit(prepared.item.origin)

    def write(self, store: VectorStore, prepared: PreparedVideo, vectors: np.ndarray) -> None:
        self.write_many(store, [prepared], [vectors])

    def write_many(
        self, store: VectorStore, prepared: Sequence[PreparedVideo], vectors: Sequence[np.ndarray]
    ) -> None:
        """Write videos in the three crash-safe steps of the module doc, each step once for all
        of them (a per-video write paid ~40 ms of Chroma and two SQL commits for each video: a
        9,891-movie catalogue spent most of its cold ingest there)."""
        self.catalogue.mark_pending_many(
            [(p.video.id, p.content_hash, p.item.origin) for p in prepared]
        )
        store.delete_videos([p.video.id for p in prepared])
        store.upsert(
            [
                record
                for p, vecs in zip(prepared, vectors, strict=True)
                for record in chunk_records(p.video, p.chunks, vecs)
            ]
        )
        store.upsert_videos(
            [video_record(p.video, vecs) for p, vecs in zip(prepared, vectors, strict=True)]
        )
        self.catalogue.commit_videos([(p.video, p.chunks, p.content_hash) for p in prepared])


def chunk_records(video: Video, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[ChunkRecord]:
    """The store's records of ``video``'s chunks, one vector each, with the filters' metadata
    (the video's duration, publication date, language and tags on every chunk)."""
    published, lang, tags = date_key(video.published), video.language, video.tags
    return [
        ChunkRecord(
            c.id, video.id, c.index, c.start, c.end, vec, video.duration, published, lang, tags
        )
        for c, vec in zip(chunks, vectors, strict=True)
    ]


@dataclass
class _RunState:
    report: IngestReport
    total: int
    progress: ProgressFn | None
    done: int = 0
    buffered: int = 0

    def fail(self, origin: str, exc: BaseException) -> None:
        log.warning("ingest failed for %s: %s", origin, exc)
        self.report.failed.append(IngestFailure(origin, one_line(exc)))
        self.tick(origin)

    def tick(self, current: str) -> None:
        self.done += 1
        self.emit(current)

    def emit(self, current: str) -> None:
        if self.progress is not None:
            self.progress(
                IngestProgress(
                    files_done=min(self.done, self.total),
                    files_total=self.total,
                    current=current,
                    audio_seconds=self.report.audio_seconds,
                    chunks=self.report.chunks + self.buffered,
                )
            )

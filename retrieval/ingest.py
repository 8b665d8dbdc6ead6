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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval import ingest_stages as stages
from retrieval.asr.base import Transcriber
from retrieval.catalogue import Catalogue
from retrieval.embed.base import Embedder
from retrieval.errors import (
    IngestBusyError,
    InvalidInputError,
    VidrecError,
)
from retrieval.guard import IngestCancelled, IngestGuard, file_digest
from retrieval.ingest_stages import IngestItem, PreparedVideo
from retrieval.paths import checked_file, resolve_roots
from retrieval.settings import ASRSettings, ChunkingSettings, IngestSettings
from retrieval.sqldb.locks import LockBusy, database_lock
from retrieval.store.base import ChunkRecord, VectorStore, date_key, video_record
from retrieval.types import (
    IngestFailure,
    IngestProgress,
    IngestReport,
    Video,
)

log = logging.getLogger(__name__)

ProgressFn = Callable[[IngestProgress], None]


@dataclass
class Discovery:
    items: list[IngestItem] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, VidrecError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "video"


def _title_from_stem(stem: str) -> str:
    return re.sub(r"[_\s]+", " ", stem).strip() or stem


# --- discovery ----------------------------------------------------------------------------------
def _sidecar(
    media: Path, settings: IngestSettings, roots: Sequence[Path] | None = None
) -> Path | None:
    """Captions beside ``media`` with the same stem (``talk.mp4`` -> ``talk.srt``/``talk.vtt``)."""
    for ext in settings.caption_extensions:
        candidate = media.with_suffix(ext)
        if candidate.is_file():
            try:
                return checked_file(candidate, "captions", roots=roots)
            except InvalidInputError as exc:
                log.warning("sidecar captions skipped: %s", exc)
    return None


def discover(
    paths: Sequence[str | Path],
    manifest: str | Path | None,
    settings: IngestSettings,
    *,
    roots: Sequence[str | Path] | None = None,
) -> Discovery:
    """Turn CLI paths and a manifest into ``IngestItem``s (and failures for what cannot be read).

    With ``roots`` (inputs from outside), every file must resolve under one of them (see
    ``retrieval.paths``); a file that does not is a failure of its own.
    """
    out = Discovery()
    seen_media: set[Path] = set()
    taken: set[str] = set()
    allowed = resolve_roots(roots)
    if manifest is not None:
        from retrieval.manifest import read_manifest

        try:
            result = read_manifest(manifest, roots=allowed)
        except VidrecError as exc:
            out.failures.append(IngestFailure(str(manifest), one_line(exc)))
            result = None
        if result is not None:
            out.failures.extend(result.failures)
            for row in result.rows:
                origin = f"{manifest} (id {row.id})"
                if row.id in taken:
                    out.failures.append(
                        IngestFailure(
                            origin,
                            f"Duplicate video id {row.id!r} in the manifest; give every row a unique id.",
                        )
                    )
                    continue
                taken.add(row.id)
                media = Path(row.media_path) if row.media_path else None
                captions = Path(row.captions_path) if row.captions_path else None
                transcript = Path(row.transcript_path) if row.transcript_path else None
                if media is not None:
                    seen_media.add(media.resolve())
                    if captions is None and transcript is None:
                        captions = _sidecar(media, settings, allowed)
                out.items.append(
                    IngestItem(
                        video_id=row.id,
                        origin=origin,
                        video=row.to_video(),
                        media_path=media,
                        captions_path=captions,
                        transcript_path=transcript,
                    )
                )
    media_ext = {e.lower() for e in settings.media_extensions}
    caption_ext = {e.lower() for e in settings.caption_extensions}
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower() in media_ext | caption_ext
            ]
        elif path.exists() or path.is_symlink():
            candidates = [path]
        else:
            out.failures.append(
                IngestFailure(
                    str(path),
                    "No such file or folder; check the path (ingest takes media files or folders).",
                )
            )
            continue
        for candidate in candidates:
            try:
                checked_file(candidate, "input", roots=allowed)
            except InvalidInputError as exc:
                out.failures.append(IngestFailure(str(candidate), one_line(exc)))
                continue
            files.append(candidate)
    # Group by (folder, stem): a media file and its sidecar captions are one video.
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    for f in files:
        resolved = f.resolve()
        if resolved in seen_media:
            continue  # already described by a manifest row
        key = (resolved.parent, resolved.stem)
        kind = "captions" if f.suffix.lower() in caption_ext else "media"
        group = groups.setdefault(key, {})
        if kind == "media" and "media" in group and group["media"] != resolved:
            key = (resolved.parent, resolved.name)  # same stem, two containers: keep both
            group = groups.setdefault(key, {})
        group.setdefault(kind, resolved)
    for group in groups.values():
        media = group.get("media")
        captions = group.get("captions")
        if media is not None and captions is None:
            captions = _sidecar(media, settings, allowed)
        anchor = media or captions
        assert anchor is not None
        video_id = slugify(anchor.stem)
        if video_id in taken:
            video_id = f"{video_id}-{hashlib.sha1(str(anchor).encode()).hexdigest()[:6]}"
        taken.add(video_id)
        out.items.append(
            IngestItem(
                video_id=video_id,
                origin=str(anchor),
                video=Video(
                    id=video_id,
                    title=_title_from_stem(anchor.stem),
                    media_path=str(media) if media else None,
                ),
                media_path=media,
                captions_path=captions,
            )
        )
    return out


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
        """Embed every buffered chunk in one call, then write each video (see module doc)."""
        texts = [c.text for p in buffer for c in p.chunks]
        vectors = stages.embed(self._embedder(), texts)
        offset = 0
        store = self._store()
        for prepared in buffer:
            n = len(prepared.chunks)
            state.buffered -= n
            self.commit(store, prepared, vectors[offset : offset + n], state)
            offset += n

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
        state.report.ingested.append(prepared.video.id)
        state.report.chunks += len(prepared.chunks)
        state.emit(prepared.item.origin)

    def write(self, store: VectorStore, prepared: PreparedVideo, vectors: np.ndarray) -> None:
        video = prepared.video
        self.catalogue.mark_pending(video.id, prepared.content_hash, prepared.item.origin)
        store.delete_videos([video.id])
        store.upsert(
            [
                ChunkRecord(
                    id=c.id,
                    video_id=video.id,
                    index=c.index,
                    start=c.start,
                    end=c.end,
                    embedding=vec,
                    duration=video.duration,
                    published=date_key(video.published),
                    language=video.language,
                    tags=video.tags,
                )
                for c, vec in zip(prepared.chunks, vectors, strict=True)
            ]
        )
        store.upsert_videos([video_record(video, vectors)])
        self.catalogue.commit_video(video, prepared.chunks, prepared.content_hash)


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

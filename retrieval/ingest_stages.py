"""The per-video steps of ingest, shared by the local run and the Ray Data run.

One video goes ``decode`` -> ``transcribe`` (only when no captions or transcript came with it) ->
``finish`` (chunks and final metadata) -> embedding -> the write in ``retrieval.ingest``. The local
ingest calls the three steps one after the other in its own process (``Ingestor.prepare``); the Ray
run (``retrieval.ray_ingest``) calls each as its own Ray Data stage, so decoding, Whisper and the
embedder run in separate pools of workers. None of these steps writes anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.asr.base import Transcriber
from retrieval.embed.base import Embedder
from retrieval.errors import InvalidInputError, VidrecError
from retrieval.settings import ChunkingSettings, IngestSettings
from retrieval.types import Chunk, Transcript, TranscriptSource, Video


@dataclass(frozen=True)
class IngestItem:
    """One video to ingest, before anything is decoded.

    Attributes:
        origin: what to name in messages (a file path or ``manifest:line``).
        video: metadata known up front (duration and transcript source are filled in later).
    """

    video_id: str
    origin: str
    video: Video
    media_path: Path | None = None
    captions_path: Path | None = None
    transcript_path: Path | None = None


@dataclass(frozen=True)
class Decoded:
    """A video after its first step: captions or a transcript read, or audio ready for Whisper.

    Attributes:
        audio: what Whisper still has to transcribe (a media path, or 16 kHz mono samples when
            the file was decoded here); ``None`` once there is a transcript or nothing to hear.
        audio_seconds: how much audio Whisper transcribed for this video.
    """

    item: IngestItem
    content_hash: str
    duration: float | None
    transcript: Transcript | None = None
    source: TranscriptSource = "metadata"
    audio: Path | np.ndarray | None = None
    audio_seconds: float = 0.0


@dataclass(frozen=True)
class PreparedVideo:
    """A video ready to be embedded and written: final metadata and its chunks."""

    item: IngestItem
    content_hash: str
    video: Video
    chunks: list[Chunk]
    audio_seconds: float = 0.0


def metadata_text(video: Video) -> str:
    parts = [video.title.strip()]
    if video.description.strip():
        parts.append(video.description.strip())
    if video.tags:
        parts.append("Tags: " + ", ".join(video.tags))
    return "\n".join(p for p in parts if p)


def decode(
    item: IngestItem, digest: str, settings: IngestSettings, *, samples: bool = False
) -> Decoded:
    """Probe the media, read captions or a transcript, and check the audio's length.

    With ``samples``, media to transcribe is decoded here to 16 kHz samples (so another process
    can run Whisper on them); otherwise Whisper decodes the file itself (with the same
    ``retrieval.media.load_audio``). A file that declares no length is always decoded here,
    stopping at ``settings.max_audio_seconds``.
    """
    duration = item.video.duration
    declared = 0.0
    if item.media_path is not None:
        from retrieval.media import probe

        declared = probe(item.media_path).duration
        if duration is None and declared > 0:
            duration = declared
    if item.captions_path is not None:
        from retrieval.captions import parse_captions

        return Decoded(item, digest, duration, parse_captions(item.captions_path), "captions")
    if item.transcript_path is not None:
        from retrieval.transcripts import read_transcript

        transcript = read_transcript(
            item.transcript_path, duration, language=item.video.language or "en"
        )
        return Decoded(item, digest, duration, transcript, "transcript")
    if item.media_path is None:
        return Decoded(item, digest, duration)
    from retrieval.media import check_length, load_audio

    limit = settings.max_audio_seconds
    check_length(item.media_path, declared, limit)
    audio: Path | np.ndarray = item.media_path
    if samples or declared <= 0:
        audio = load_audio(item.media_path, max_seconds=limit)
    return Decoded(item, digest, duration, audio=audio)


def transcribe(decoded: Decoded, transcriber: Transcriber, language: str | None) -> Decoded:
    """Run Whisper on the audio ``decode`` left, if any."""
    if decoded.audio is None:
        return decoded
    transcript = transcriber.transcribe(decoded.audio, language=language)
    return dataclasses.replace(
        decoded,
        transcript=transcript,
        source="asr",
        audio=None,
        audio_seconds=float(transcript.duration or decoded.duration or 0.0),
    )


def finish(decoded: Decoded, chunking: ChunkingSettings, settings: IngestSettings) -> PreparedVideo:
    """Chunks (plus the metadata chunk) and the video's final metadata."""
    from retrieval.chunking import chunk_segments

    item, transcript, duration = decoded.item, decoded.transcript, decoded.duration
    chunks: list[Chunk] = []
    language = item.video.language
    if transcript is not None:
        chunks = chunk_segments(item.video_id, transcript.segments, chunking)
        language = language or transcript.language
        if duration is None:
            ends = [s.end for s in transcript.segments]
            duration = transcript.duration or (max(ends) if ends else None)
    if settings.metadata_chunk or transcript is None:
        text = metadata_text(item.video)
        if text:
            chunks.append(
                Chunk(
                    id=f"{item.video_id}:{len(chunks)}",
                    video_id=item.video_id,
                    index=len(chunks),
                    start=0.0,
                    end=0.0,
                    text=text,
                )
            )
    if not chunks:
        raise InvalidInputError(
            f"Nothing to index for {item.origin}",
            expected="spoken text, captions, a transcript or a title",
            got="none of them",
            hint="Add captions or a transcript, or give the video a title in a manifest",
        )
    video = dataclasses.replace(
        item.video,
        duration=duration,
        language=language.lower() if language else None,
        transcript_source=decoded.source,
        media_path=str(item.media_path) if item.media_path else item.video.media_path,
    )
    return PreparedVideo(item, decoded.content_hash, video, chunks, decoded.audio_seconds)


def embed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """One embedding call over the chunk texts of several videos (one vector per text)."""
    vectors = embedder.encode_documents(texts)
    if vectors.shape[0] != len(texts):
        raise VidrecError(
            "The embedder returned the wrong number of vectors",
            expected=str(len(texts)),
            got=str(vectors.shape[0]),
        )
    return vectors

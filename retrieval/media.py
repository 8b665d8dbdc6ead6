"""Decode any container FFmpeg reads (via PyAV) into 16 kHz mono float32, and probe its streams.

Every failure is a :class:`~retrieval.errors.MediaError` that names the file and says what to do:
a missing, empty or non-media file, a truncated one, or one without an audio stream.

Truncation is recognised when the last audio packet is flagged corrupt or cannot be decoded (what
FFmpeg reports for a file cut short), or when the decoded audio is clearly shorter than the audio
stream's declared duration. An isolated damaged packet in the middle is logged and skipped, as
``ffmpeg`` itself does, so one glitch does not lose an hour of video.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np

from retrieval.errors import MediaError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000

_CHECK_HINT = (
    "Check it plays, e.g. `ffmpeg -v error -i FILE -f null -`, then re-export or re-download it"
)


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. ``duration`` is in seconds (0.0 when the container does not say)."""

    duration: float
    has_audio: bool
    has_video: bool
    container: str


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(
            f"Media file {path} does not exist",
            hint="Check the path (relative paths in a manifest are resolved against its folder)",
        )
    if not path.is_file():
        raise MediaError(
            f"Media path {path} is not a file",
            expected="an audio or video file",
            got="a folder" if path.is_dir() else "a special file",
        )
    if path.stat().st_size == 0:
        raise MediaError(
            f"Media file {path.name} is empty (0 bytes)",
            hint=f"Copy or export {path} again; the file has no content",
        )


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(
            f"{path.name} is not a media file FFmpeg can read ({exc.strerror or exc})",
            expected="an audio or video file (mp4, mkv, webm, wav, mp3, ...)",
            got=f"unreadable content in {path}",
            hint="A media file cut short loses its header too. " + _CHECK_HINT,
        ) from exc
    except OSError as exc:
        raise MediaError(
            f"Cannot read media file {path} ({exc.strerror or exc})",
            hint="Check the file's permissions",
        ) from exc


def _is_attached_picture(stream: av.stream.Stream) -> bool:
    """Cover art in an mp3/m4a is a video stream with the attached_pic disposition: not a video."""
    disposition = getattr(stream, "disposition", None)
    flag = getattr(getattr(av.stream, "Disposition", None), "attached_pic", None)
    if disposition is None or flag is None:
        return False
    return bool(disposition & flag)


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    return 0.0


def probe(path: str | Path) -> MediaInfo:
    """Read the container header: duration, which streams it has, the container format name."""
    path = Path(path)
    _check_file(path)
    with _open(path) as container:
        has_audio = len(container.streams.audio) > 0
        has_video = any(not _is_attached_picture(s) for s in container.streams.video)
        return MediaInfo(
            duration=_duration(container),
            has_audio=has_audio,
            has_video=has_video,
            container=container.format.name,
        )


class AudioTooLongError(MediaError):
    """Audio longer than the caller's limit (refused from the header, or when decoding reaches it)."""

    http_status = 413
    code = "audio_too_long"


def check_length(path: Path, seconds: float, max_seconds: float | None, *, got: str = "") -> None:
    """Raise :class:`AudioTooLongError` when ``seconds`` of audio exceed ``max_seconds``."""
    if max_seconds is None or seconds <= max_seconds:
        return
    raise AudioTooLongError(
        f"{path.name} is longer than this server accepts",
        expected=f"at most {max_seconds:.0f} s of audio",
        got=got or f"{seconds:.1f} s",
        hint="Send a shorter recording, or raise the limit (VIDREC_API__MAX_AUDIO_SECONDS for "
        "queries, VIDREC_INGEST__MAX_AUDIO_SECONDS for ingest)",
    )


def declared_seconds(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    """The audio stream's length as its header declares it (0.0 when it does not say)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return _duration(container) if not container.streams.video else 0.0


def load_audio(
    path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None
) -> np.ndarray:
    """Decode the best audio stream of ``path`` to mono float32 samples in [-1, 1] at ``sample_rate``.

    With ``max_seconds``, a file whose header declares more is refused before any decoding, and
    decoding stops as soon as it passes the limit (a header may not say, or may lie), so memory
    stays bounded by the limit.

    Raises:
        MediaError: missing, empty, non-media, truncated or corrupt file, or no audio stream.
        AudioTooLongError: longer than ``max_seconds``.
    """
    path = Path(path)
    _check_file(path)
    with _open(path) as container:
        if not container.streams.audio:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise MediaError(
                f"{path.name} has no audio stream to transcribe",
                expected="a file with an audio track",
                got=f"{container.format.name} with {kinds}",
                hint="Put captions (.srt/.vtt with the same name) beside it or give a "
                "transcript_path in the manifest",
            )
        stream = container.streams.best("audio") or container.streams.audio[0]
        declared = declared_seconds(container, stream)
        check_length(path, declared, max_seconds, got=f"{declared:.1f} s (declared)")
        pieces, damaged, last_damaged = _decode(container, stream, sample_rate, path, max_seconds)
    audio = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else _EMPTY
    decoded = len(audio) / sample_rate
    if last_damaged or (declared > 0 and declared - decoded > max(0.5, 0.05 * declared)):
        got = f"{decoded:.1f} s of audio decoded"
        if declared > decoded + 0.05:
            got += f" of {declared:.1f} s declared"
        raise MediaError(
            f"{path.name} is truncated: its audio ends early",
            expected="a complete file",
            got=got,
            hint=_CHECK_HINT,
        )
    if damaged:
        log.warning(
            "%s: skipped %d damaged audio packet(s), first at %.1f s",
            path,
            len(damaged),
            damaged[0],
        )
    if audio.size == 0:
        raise MediaError(
            f"{path.name} has an audio stream with no decodable samples",
            hint=_CHECK_HINT,
        )
    return audio


def _decode(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    sample_rate: int,
    path: Path,
    max_seconds: float | None,
) -> tuple[list[np.ndarray], list[float], bool]:
    """Resampled pieces, the times of damaged packets, and whether the last packet was damaged."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pieces: list[np.ndarray] = []
    damaged: list[float] = []
    last_damaged = False
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    total = 0

    def keep(out: av.AudioFrame) -> None:
        nonlocal total
        piece = out.to_ndarray().reshape(-1)
        total += len(piece)
        if limit is not None and total > limit:
            pieces.clear()
            check_length(
                path,
                total / sample_rate,
                max_seconds,
                got=f"more (decoding stopped after {total / sample_rate:.1f} s)",
            )
        pieces.append(piece)

    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at the end of the stream
                continue
            last_damaged = bool(packet.is_corrupt)
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                last_damaged = True
                frames = []
            if last_damaged:
                damaged.append(float(packet.pts * packet.time_base) if packet.pts else 0.0)
            for frame in frames:
                if isinstance(frame, av.AudioFrame):
                    for out in resampler.resample(frame):
                        keep(out)
        for out in resampler.resample(None):
            keep(out)
    except av.error.FFmpegError as exc:  # a demuxer error: the container itself is cut or broken
        raise MediaError(
            f"{path.name} is truncated or corrupt ({exc.strerror or exc})",
            hint=_CHECK_HINT,
        ) from exc
    return pieces, damaged, last_damaged


_EMPTY = np.zeros(0, dtype=np.float32)

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


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the best audio stream of ``path`` to mono float32 samples in [-1, 1] at ``sample_rate``.

    Raises:
        MediaError: missing, empty, non-media, truncated or corrupt file, or no audio stream.
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
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pieces: list[np.ndarray] = []
        damaged: list[float] = []
        last_damaged = False
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
                    if not isinstance(frame, av.AudioFrame):
                        continue
                    for out in resampler.resample(frame):
                        pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
        except (
            av.error.FFmpegError
        ) as exc:  # a demuxer error: the container itself is cut or broken
            raise MediaError(
                f"{path.name} is truncated or corrupt ({exc.strerror or exc})",
                hint=_CHECK_HINT,
            ) from exc
        audio = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else _EMPTY
        decoded = len(audio) / sample_rate
        declared = (
            float(stream.duration * stream.time_base)
            if stream.duration is not None and stream.time_base is not None
            else (_duration(container) if not container.streams.video else 0.0)
        )
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


_EMPTY = np.zeros(0, dtype=np.float32)

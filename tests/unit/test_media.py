"""Decoding and probing real (tiny) media made with ffmpeg, and every kind of bad file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import MediaError
from retrieval.media import MediaInfo, load_audio, probe

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    files = {
        "wav": d / "tone.wav",  # 1 s, 440 Hz, 44.1 kHz stereo
        "mp4": d / "clip.mp4",  # 2 s video + aac audio
        "silent_video": d / "silent.mp4",  # video stream only
        "truncated": d / "truncated.wav",
        "text": d / "notes.mp4",
        "empty": d / "empty.webm",
    }
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=44100",
        "-ac", "2", "-af", "volume=0.5", str(files["wav"]),
    )  # fmt: skip
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=660:duration=2",
        "-f", "lavfi", "-i", "color=c=blue:s=64x48:r=10:d=2",
        "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(files["mp4"]),
    )  # fmt: skip
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=64x48:r=10:d=1",
        "-c:v",
        "mpeg4",
        str(files["silent_video"]),
    )
    data = files["wav"].read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["text"].write_text("This is a shopping list, not a video.\nmilk\neggs\n")
    files["empty"].write_bytes(b"")
    return files


def _dominant_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_wav_is_resampled_to_16k_mono_float32(media: dict[str, Path]) -> None:
    audio = load_audio(media["wav"])
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert abs(len(audio) - 16000) <= 160  # 1 s at 16 kHz
    assert abs(_dominant_hz(audio) - 440) < 5
    # ffmpeg's sine source has amplitude 1/8; volume=0.5 halves it; mono mix of equal channels keeps it
    assert 0.05 < float(np.max(np.abs(audio))) < 0.07


def test_other_sample_rate(media: dict[str, Path]) -> None:
    audio = load_audio(media["wav"], sample_rate=8000)
    assert abs(len(audio) - 8000) <= 80


def test_video_container_audio_is_decoded(media: dict[str, Path]) -> None:
    audio = load_audio(media["mp4"])
    assert 1.9 < len(audio) / 16000 < 2.1
    assert abs(_dominant_hz(audio) - 660) < 5


def test_probe_reports_streams_and_duration(media: dict[str, Path]) -> None:
    info = probe(media["mp4"])
    assert isinstance(info, MediaInfo)
    assert info.has_audio and info.has_video
    assert "mp4" in info.container
    assert info.duration == pytest.approx(2.0, abs=0.1)
    wav = probe(media["wav"])
    assert (wav.has_audio, wav.has_video, wav.container) == (True, False, "wav")
    assert wav.duration == pytest.approx(1.0, abs=0.05)
    silent = probe(media["silent_video"])
    assert (silent.has_audio, silent.has_video) == (False, True)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("silent_video", "no audio stream"),
        ("truncated", "truncated"),
        ("text", "not a media file"),
        ("empty", "empty"),
    ],
)
def test_bad_media_names_file_and_remedy(media: dict[str, Path], kind: str, words: str) -> None:
    with pytest.raises(MediaError) as info:
        load_audio(media[kind])
    message = str(info.value)
    assert words in message
    assert media[kind].name in message
    assert info.value.hint  # says what to do


def test_non_media_and_empty_fail_in_probe_too(media: dict[str, Path]) -> None:
    for kind in ("text", "empty"):
        with pytest.raises(MediaError, match=media[kind].name):
            probe(media[kind])


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        load_audio(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="not a file"):
        probe(tmp_path)

"""Transcriber factory and protocol through the registered fake; model-name checks (no loading)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from retrieval.asr import TRANSCRIBERS, Transcriber, create_transcriber
from retrieval.asr.faster_whisper import (
    FasterWhisperTranscriber,
    as_samples,
    resolve_model_path,
)
from retrieval.errors import ConfigError, InvalidInputError, MediaError
from retrieval.settings import ASRSettings
from tests.fakes.asr import FakeTranscriber, write_tone


def test_registry_lists_real_and_fake_backends() -> None:
    assert {"faster-whisper", "fake"} <= set(TRANSCRIBERS.names())


def test_fake_through_factory_transcribes_file_with_sidecar(tmp_path: Path) -> None:
    transcriber = create_transcriber(ASRSettings(backend="fake"), tmp_path)
    assert isinstance(transcriber, FakeTranscriber)
    assert isinstance(transcriber, Transcriber)
    clip = write_tone(tmp_path / "clip.wav", seconds=4.0)
    clip.with_suffix(".txt").write_text("one two three four five six seven eight nine ten")
    transcript = transcriber.transcribe(clip)
    assert transcript.source == "asr" and transcript.duration == pytest.approx(4.0)
    assert transcript.text == "one two three four five six seven eight nine ten"
    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 2.0), (2.0, 4.0)]


def test_fake_segments_are_lazy_and_named_after_file(tmp_path: Path) -> None:
    transcriber = create_transcriber(ASRSettings(backend="fake"), tmp_path)
    clip = write_tone(tmp_path / "funny_cooking-show.wav", seconds=1.0)
    assert inspect.isgenerator(transcriber.segments(clip))
    assert [s.text for s in transcriber.segments(clip)] == ["funny cooking show"]


def test_fake_raises_real_media_errors(tmp_path: Path) -> None:
    transcriber = create_transcriber(ASRSettings(backend="fake"), tmp_path)
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video")
    with pytest.raises(MediaError, match=r"bogus\.mp4"):
        transcriber.transcribe(bogus)


def test_fake_queue_and_arrays(tmp_path: Path) -> None:
    transcriber = create_transcriber(ASRSettings(backend="fake"), tmp_path)
    FakeTranscriber.enqueue("recommend me a funny cooking video")
    samples = np.zeros(16000 * 3, dtype=np.float32)
    assert transcriber.transcribe(samples).text == "recommend me a funny cooking video"
    assert transcriber.transcribe(samples).text == "audio of 3.0 seconds"


def test_unknown_backend_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_transcriber(ASRSettings(backend="kaldi"), tmp_path)
    assert "'faster-whisper'" in str(info.value) and "'fake'" in str(info.value)


def test_unknown_whisper_model_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        create_transcriber(ASRSettings(model="large-v9"), tmp_path)
    message = str(info.value)
    assert "'large-v9'" in message and "'base'" in message and "'tiny.en'" in message


def test_folder_without_model_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.bin"):
        create_transcriber(ASRSettings(model=str(tmp_path)), tmp_path)


def test_whisper_is_created_lazily(tmp_path: Path) -> None:
    transcriber = create_transcriber(ASRSettings(model="tiny.en"), tmp_path)
    assert isinstance(transcriber, FasterWhisperTranscriber)
    assert not transcriber.loaded
    assert (resolve_model_path("tiny.en", tmp_path) / "model.bin").is_file()
    assert not (tmp_path / "whisper-base").exists()  # nothing assembled until "base" is used


def test_local_model_folder_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "my-whisper"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"x")
    assert resolve_model_path(str(folder), tmp_path) == folder


def test_samples_must_be_mono(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="shape"):
        as_samples(np.zeros((100, 2), dtype=np.float32))
    assert as_samples(np.zeros(10, dtype=np.float64)).dtype == np.float32

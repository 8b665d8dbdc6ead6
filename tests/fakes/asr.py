"""A deterministic fake :class:`~retrieval.asr.base.Transcriber`, registered as ``"fake"``.

It decodes media with the real :func:`retrieval.media.load_audio` (so bad files raise the same
``MediaError`` as with Whisper) but never loads a model. The text, in order of preference:

1. texts queued with :meth:`FakeTranscriber.enqueue` (one per call, any input);
2. for a file, a sidecar ``<name>.txt`` beside it (LibriVox clips ship one), else the file name's
   words (``funny_cooking-show.mp4`` -> "funny cooking show");
3. for an array, ``"audio of N.N seconds"``.

The words are spread evenly over the audio in segments of at most eight words.
"""

from __future__ import annotations

import math
import re
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from retrieval.asr.base import AudioInput
from retrieval.asr.factory import TRANSCRIBERS
from retrieval.media import SAMPLE_RATE, load_audio
from retrieval.settings import ASRSettings
from retrieval.types import Segment, Transcript

WORDS_PER_SEGMENT = 8


class FakeTranscriber:
    name = "fake"
    queued: ClassVar[list[str]] = []

    def __init__(self, settings: ASRSettings, models_dir: Path) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.calls: list[str] = []  # what was transcribed, for assertions

    @classmethod
    def enqueue(cls, *texts: str) -> None:
        """Make the next transcriptions (any transcriber instance) return these texts."""
        cls.queued.extend(texts)

    def _text_for(self, audio: AudioInput, duration: float) -> str:
        if self.queued:
            return self.queued.pop(0)
        if isinstance(audio, str | Path):
            path = Path(audio)
            sidecar = path.with_suffix(".txt")
            if sidecar.is_file():
                return " ".join(sidecar.read_text(encoding="utf-8").split())
            return " ".join(w for w in re.split(r"[\W_]+", path.stem) if w)
        return f"audio of {duration:.1f} seconds"

    def _timed(self, audio: AudioInput) -> tuple[list[Segment], float]:
        samples = load_audio(audio) if isinstance(audio, str | Path) else np.asarray(audio)
        duration = len(samples) / SAMPLE_RATE
        self.calls.append(str(audio) if isinstance(audio, str | Path) else f"array[{len(samples)}]")
        if duration == 0:
            return [], 0.0
        words = self._text_for(audio, duration).split()
        n = math.ceil(len(words) / WORDS_PER_SEGMENT)
        step = duration / n if n else duration
        segments = [
            Segment(
                start=round(i * step, 3),
                end=round((i + 1) * step, 3),
                text=" ".join(words[i * WORDS_PER_SEGMENT : (i + 1) * WORDS_PER_SEGMENT]),
            )
            for i in range(n)
        ]
        return segments, duration

    def segments(self, audio: AudioInput, language: str | None = None) -> Iterator[Segment]:
        segments, _ = self._timed(audio)
        yield from segments

    def transcribe(self, audio: AudioInput, language: str | None = None) -> Transcript:
        segments, duration = self._timed(audio)
        return Transcript(
            segments=segments,
            language=language or self.settings.language or "en",
            duration=duration,
            source="asr",
        )


def write_tone(path: Path, seconds: float = 1.0, sample_rate: int = SAMPLE_RATE) -> Path:
    """A real 16-bit mono WAV of a 440 Hz tone (tiny test media without ffmpeg)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pcm = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def register() -> None:
    TRANSCRIBERS.register("fake", FakeTranscriber)

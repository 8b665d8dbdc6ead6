"""Choose a :class:`Transcriber` by the name in ``ASRSettings.backend``.

Real backends register as ``"module:attr"`` strings, so importing this module never loads
faster-whisper or CTranslate2. Tests register ``"fake"`` into the same registry.
"""

from __future__ import annotations

from pathlib import Path

from retrieval.asr.base import Transcriber
from retrieval.registry import Registry
from retrieval.settings import ASRSettings

TRANSCRIBERS: Registry[Transcriber] = Registry("transcriber")
TRANSCRIBERS.register("faster-whisper", "retrieval.asr.faster_whisper:FasterWhisperTranscriber")


def create_transcriber(settings: ASRSettings, models_dir: Path) -> Transcriber:
    """A transcriber for ``settings.backend`` (unknown names raise ConfigError listing valid ones).

    Nothing heavy loads here: the model is loaded on the first transcription.
    """
    return TRANSCRIBERS.create(settings.backend, settings, models_dir)

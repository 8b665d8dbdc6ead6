"""The one interface every speech recogniser implements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.types import Segment, Transcript

AudioInput = str | Path | np.ndarray
"""A media file path (any container FFmpeg decodes) or 16 kHz mono float32 samples."""


@runtime_checkable
class Transcriber(Protocol):
    """Speech to timed text.

    Implementations load their model lazily on first use and reuse it. Bad media raises
    :class:`~retrieval.errors.MediaError`.
    """

    def transcribe(self, audio: AudioInput, language: str | None = None) -> Transcript:
        """All segments at once, with the detected (or given) language and the audio duration."""
        ...

    def segments(self, audio: AudioInput, language: str | None = None) -> Iterator[Segment]:
        """Segments one by one as they are decoded (lazy: recognition runs as you iterate)."""
        ...

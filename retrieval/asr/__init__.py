"""Speech recognition: the :class:`Transcriber` protocol, its factory and backends."""

from __future__ import annotations

from retrieval.asr.base import Transcriber
from retrieval.asr.factory import TRANSCRIBERS, create_transcriber

__all__ = ["TRANSCRIBERS", "Transcriber", "create_transcriber"]

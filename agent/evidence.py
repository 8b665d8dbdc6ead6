"""Which chunk of a video is its evidence: what is said, before the title and description."""

from __future__ import annotations

from retrieval.types import Chunk, VideoHit

__all__ = ["evidence_of", "is_spoken"]


def is_spoken(chunk: Chunk) -> bool:
    """A transcript chunk (it has a time span), not the title/description/tags chunk."""
    return chunk.end > chunk.start


def evidence_of(hit: VideoHit) -> Chunk:
    """The hit's best chunk of what is said, or its best chunk of any kind if nothing spoken hit."""
    return next((c.chunk for c in hit.chunks if is_spoken(c.chunk)), hit.best.chunk)

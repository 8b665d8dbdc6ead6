"""Embedder backends by name. Real ones register lazily ("module:attr"): no torch on import."""

from __future__ import annotations

from pathlib import Path

from retrieval.embed.base import Embedder
from retrieval.registry import Registry
from retrieval.settings import EmbeddingSettings

EMBEDDERS: Registry[Embedder] = Registry("embedder")
EMBEDDERS.register(
    "sentence-transformers",
    "retrieval.embed.sentence_transformers:SentenceTransformerEmbedder",
)


def create_embedder(settings: EmbeddingSettings, models_dir: Path | None = None) -> Embedder:
    """Build the embedder named by ``settings.backend`` (the factory gets the whole section and
    the models cache, where a model split across packages is assembled)."""
    return EMBEDDERS.create(settings.backend, settings, models_dir=models_dir)

"""Vector store backends by name. Real ones register lazily: importing this loads no Chroma."""

from __future__ import annotations

from pathlib import Path

from retrieval.registry import Registry
from retrieval.settings import StoreSettings
from retrieval.store.base import VectorStore

STORES: Registry[VectorStore] = Registry("vector store")
STORES.register("chroma", "retrieval.store.chroma:ChromaStore")


def create_store(settings: StoreSettings, path: Path, *, embedder_name: str) -> VectorStore:
    """Open the store named by ``settings.backend``.

    Args:
        settings: the store section (backend, ``chroma_url``, collection).
        path: folder for an embedded store (ignored by client/server ones).
        embedder_name: recorded with the collection; vectors of another embedder are refused
            (known from settings, so opening the store never loads the model).
    """
    return STORES.create(settings.backend, settings, path, embedder_name=embedder_name)

"""Vector stores: one ``VectorStore`` protocol, backends chosen by name in ``factory``."""

from __future__ import annotations

from retrieval.store.base import ChunkRecord, StoreFilter, VectorMatch, VectorStore
from retrieval.store.factory import STORES, create_store

__all__ = ["STORES", "ChunkRecord", "StoreFilter", "VectorMatch", "VectorStore", "create_store"]

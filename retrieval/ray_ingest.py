"""Batch ingest on a Ray cluster: decoding, Whisper and embedding as Ray Data stages.

``vidrec ingest --ray ADDRESS`` runs the same ingest as the local path with one step moved out:
this process (the Ray driver) still holds the ingest lock, discovers the inputs, purges videos an
interrupted run left half-written, hashes every input and skips unchanged ones
(``Ingestor.changed``), and writes each video with ``Ingestor.commit`` (pending -> vectors ->
commit, as in ``retrieval.ingest``). What runs on the cluster is the per-video work of
``retrieval.ingest_stages``, as a streaming Ray Data pipeline::

    from_items(changed videos)
      -> map_batches(decode)                   tasks: probe, captions/transcript, audio to 16 kHz
      -> map_batches(_Transcribe)              actor pool, Whisper loaded once per actor
      -> map_batches(finish)                   tasks: chunks and final metadata
      -> map_batches(_Embed)                   actor pool, the embedder loaded once per actor
      -> the driver writes each video as its row arrives

Idempotence and resume are therefore the local path's: an unchanged video is skipped before it
reaches the cluster, and a run killed anywhere leaves at most ``pending`` videos that the next run
redoes or purges. A video that fails in any stage is reported and the others go on.

Every node needs vidrec installed (the same version) and the inputs at the same paths (shared
storage); the stores (SQL, Chroma server) are written only by the driver.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import ingest_stages as stages
from retrieval.errors import ConfigError, MissingDependencyError, one_line
from retrieval.ingest import Ingestor, _RunState
from retrieval.settings import (
    ASRSettings,
    ChunkingSettings,
    EmbeddingSettings,
    IngestSettings,
    RaySettings,
)
from retrieval.types import IngestFailure

log = logging.getLogger(__name__)

WORK = "work"
"""The pipeline's one column: each row is one video's current stage value, pickled."""


@dataclass(frozen=True)
class _Todo:
    item: stages.IngestItem
    content_hash: str


@dataclass(frozen=True)
class _Embedded:
    prepared: stages.PreparedVideo
    vectors: np.ndarray


@dataclass(frozen=True)
class _Failed:
    origin: str
    error: str


def _rows(values: list[Any]) -> dict[str, np.ndarray]:
    column = np.empty(len(values), dtype=object)
    column[:] = [pickle.dumps(v, protocol=5) for v in values]
    return {WORK: column}


def _values(batch: dict[str, np.ndarray]) -> list[Any]:
    return [pickle.loads(blob) for blob in batch[WORK]]


def _each(batch: dict[str, np.ndarray], step: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """Apply ``step`` to every row that has not failed; a row that raises becomes a failure."""
    out: list[Any] = []
    for value in _values(batch):
        if isinstance(value, _Failed):
            out.append(value)
            continue
        try:
            out.append(step(value))
        except Exception as exc:  # one bad input never stops the batch
            log.warning("ingest failed for %s: %s", value.item.origin, exc)
            out.append(_Failed(value.item.origin, one_line(exc)))
    return _rows(out)


def decode_batch(batch: dict[str, np.ndarray], settings: IngestSettings) -> dict[str, np.ndarray]:
    """Ray task: ``ingest_stages.decode``, with media decoded to samples for the Whisper actors."""
    return _each(batch, lambda t: stages.decode(t.item, t.content_hash, settings, samples=True))


def finish_batch(
    batch: dict[str, np.ndarray],
    chunking: ChunkingSettings,
    settings: IngestSettings,
) -> dict[str, np.ndarray]:
    """Ray task: ``ingest_stages.finish`` (chunks and final metadata)."""
    return _each(batch, lambda d: stages.finish(d, chunking, settings))


class _Transcribe:
    """Ray actor: one Whisper per actor, loaded on its first clip and kept."""

    def __init__(self, asr: ASRSettings, models_dir: Path) -> None:
        from retrieval.asr.factory import create_transcriber

        self.transcriber = create_transcriber(asr, models_dir)
        self.language = asr.language

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return _each(batch, lambda d: stages.transcribe(d, self.transcriber, self.language))


class _Embed:
    """Ray actor: one embedder per actor; one embedding call over every chunk of a batch."""

    def __init__(self, embedding: EmbeddingSettings, models_dir: Path) -> None:
        from retrieval.embed.factory import create_embedder

        self.embedder = create_embedder(embedding, models_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = _values(batch)
        ready = [v for v in values if isinstance(v, stages.PreparedVideo)]
        texts = [c.text for p in ready for c in p.chunks]
        try:
            vectors = stages.embed(self.embedder, texts) if texts else None
        except Exception as exc:
            error = one_line(exc)
            return _rows(
                [v if isinstance(v, _Failed) else _Failed(v.item.origin, error) for v in values]
            )
        out: list[Any] = []
        offset = 0
        for value in values:
            if isinstance(value, _Failed):
                out.append(value)
                continue
            n = len(value.chunks)
            assert vectors is not None
            out.append(_Embedded(value, vectors[offset : offset + n]))
            offset += n
        return _rows(out)


def connect(address: str, settings: RaySettings) -> bool:
    """Join the Ray cluster at ``address`` ("auto": the one this machine belongs to; "local": a
    throwaway one in this process). Returns whether this call started Ray (and so should stop it)."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "Batch ingest on Ray needs the ray package",
            hint="pip install 'vidrec[ray]' (or pip install 'ray[data]')",
        ) from None
    if ray.is_initialized():
        return False
    # Ray reports usage to its makers by default: nothing leaves the machine unless the operator
    # sets RAY_USAGE_STATS_ENABLED=1 themselves
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if address == "local":
        options["num_cpus"] = settings.local_cpus
        options["object_store_memory"] = settings.local_object_store_mb * 1024 * 1024
    else:
        options["address"] = address
    ray.init(**options)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI shows its own progress
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-dataset INFO lines
    return True


def check_resources(settings: RaySettings, cpus: float) -> None:
    """Refuse a pipeline the cluster cannot place: Ray Data would wait for CPUs forever."""
    actors = (settings.transcribe_actors + settings.embed_actors) * settings.actor_cpus
    need = actors + settings.decode_cpus
    if need > cpus:
        raise ConfigError(
            "The Ray cluster has too few CPUs for this ingest's actors and decode tasks",
            expected=f"at least {need:g} CPUs ({actors:g} for the actors, "
            f"{settings.decode_cpus:g} for a decode task)",
            got=f"{cpus:g} CPUs",
            hint="Lower ingest.ray.actor_cpus, transcribe_actors or embed_actors "
            "(VIDREC_INGEST__RAY__...), or add Ray workers",
        )


class RayIngestor(Ingestor):
    """An ``Ingestor`` whose processing step runs on Ray Data (see the module doc)."""

    def __init__(
        self,
        *,
        address: str,
        embedding: EmbeddingSettings,
        models_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.address = address
        self.embedding = embedding
        self.models_dir = models_dir

    def process(self, todo: Iterable[tuple[stages.IngestItem, str]], state: _RunState) -> None:
        work = [_Todo(item, digest) for item, digest in todo]
        if not work:
            return
        started = connect(self.address, self.settings.ray)
        try:
            import ray

            check_resources(self.settings.ray, float(ray.cluster_resources().get("CPU", 0)))
            store = self._store()
            for value in self._pipeline(work):
                if isinstance(value, _Failed):
                    state.report.failed.append(IngestFailure(value.origin, value.error))
                    state.tick(value.origin)
                    continue
                prepared = value.prepared
                state.report.audio_seconds += prepared.audio_seconds
                state.tick(prepared.item.origin)
                self.commit(store, prepared, value.vectors, state)
        finally:
            if started:
                ray.shutdown()

    def _pipeline(self, work: list[_Todo]) -> Iterable[Any]:
        import ray.data

        cfg = self.settings.ray
        tasks = {"batch_size": 1, "num_cpus": cfg.decode_cpus, "batch_format": "numpy"}
        actors = {"num_cpus": cfg.actor_cpus, "batch_format": "numpy"}
        # Any: Ray's annotations reject a batch function that takes fn_kwargs
        ds: Any = ray.data.from_items([{WORK: pickle.dumps(t, protocol=5)} for t in work])
        ds = ds.map_batches(decode_batch, fn_kwargs={"settings": self.settings}, **tasks)
        ds = ds.map_batches(
            _Transcribe,
            fn_constructor_kwargs={"asr": self.asr, "models_dir": self.models_dir},
            compute=ray.data.ActorPoolStrategy(size=cfg.transcribe_actors),
            batch_size=1,
            **actors,
        )
        ds = ds.map_batches(
            finish_batch,
            fn_kwargs={"chunking": self.chunking, "settings": self.settings},
            **tasks,
        )
        ds = ds.map_batches(
            _Embed,
            fn_constructor_kwargs={"embedding": self.embedding, "models_dir": self.models_dir},
            compute=ray.data.ActorPoolStrategy(size=cfg.embed_actors),
            batch_size=cfg.embed_batch_videos,
            **actors,
        )
        for batch in ds.iter_batches(batch_size=1, batch_format="numpy"):
            yield from _values(batch)

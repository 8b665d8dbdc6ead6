"""The indexes of ``benchmarks.scale``: real TED talks, replicated to any number of chunks.

``--talks`` real TED talks (the demo library's transcript rows) are ingested once through the real
pipeline (transcripts, chunking, the packaged MiniLM embedder) into a base library. An index of N
chunks then repeats the base videos until N chunks: replica r of video v is ``v~r`` with v's
metadata and chunk texts, and every chunk vector is the original plus Gaussian noise (``sigma`` of
the unit vector's length, spread over the 384 dimensions), re-normalised, so neighbours are near
but not identical; each replica's whole-video vector is the normalised mean of its noisy chunk
vectors, as ingest writes it. Catalogue rows go through ``Catalogue.commit_video`` and vectors
through the store's ``upsert``/``upsert_videos``, as ingest writes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from retrieval.library import Library

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUERIES = [
    "climate change and global warming",
    "how schools kill creativity",
    "the future of artificial intelligence",
    "funny talk about cooking",
    "why we sleep and dream",
    "ocean exploration and coral reefs",
    "poverty in africa and economic growth",
    "design of everyday things",
    "the science of happiness",
    "women in leadership",
    "music and the brain",
    "space exploration and mars",
    "how to fight disease with vaccines",
    "the power of introverts",
    "a city without cars",
    "children learning to read",
    "robots that walk",
    "stories that change the world",
    "why do we feel fear",
    "renewable energy from the sun",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build_base(talks: int, data_dir: Path) -> tuple[Library, int]:
    from agent.settings import Settings
    from retrieval.demo import build_demo_library
    from retrieval.library import Library
    from retrieval.manifest import read_manifest, write_manifest

    base = Settings()
    settings = Settings(data_dir=data_dir, models_cache=base.models_dir)
    full = build_demo_library(base.data.shared_dir, data_dir / "demo-src", talks=talks, synthetic=0)
    rows = [r for r in read_manifest(full).rows if r.transcript_path and not r.media_path]
    manifest = write_manifest(rows, data_dir / "bench-manifest.jsonl")
    library = Library(settings)
    start = time.perf_counter()
    report = library.ingest(manifest=manifest)
    took = time.perf_counter() - start
    print(
        f"index: {len(rows)} talks, ingested {len(report.ingested)} "
        f"(unchanged {len(report.unchanged)}), {report.chunks} new chunks in {took:.1f} s"
    )
    return library, len(rows)


@dataclass
class Base:
    videos: list[Any]  # retrieval.types.Video
    chunks: dict[str, list[Any]]  # video id -> [Chunk]
    vectors: dict[str, np.ndarray]  # chunk id -> unit vector


def library_settings(data_dir: Path, chroma_url: str | None = None) -> Any:
    from agent.settings import Settings

    base = Settings()
    return Settings(
        data_dir=data_dir,
        models_cache=base.models_dir,
        store={"chroma_url": chroma_url},
    )


def load_base(talks: int, work: Path) -> Base:
    library, _ = build_base(talks, work / "base")
    base = base_of(library)
    library.close()
    return base


def base_of(library: Library) -> Base:
    """The videos, chunks and chunk vectors of ``library`` (the base every index replicates)."""
    videos = library.videos()
    chunks = {v.id: library.chunks(v.id) for v in videos}
    ids = [c.id for cs in chunks.values() for c in cs]
    collection = library.store.collection  # type: ignore[attr-defined]
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), 1000):
        got = collection.get(ids=ids[start : start + 1000], include=["embeddings"])
        for cid, emb in zip(got["ids"], got["embeddings"], strict=True):
            vectors[cid] = np.asarray(emb, dtype=np.float32)
    return Base(videos, chunks, vectors)


def replica_vectors(
    base: Base, video_id: str, replica: int, position: int, sigma: float, seed: int
) -> np.ndarray:
    """The perturbed unit vectors of replica ``replica`` of base video ``video_id`` (the
    ``position``-th base video): drawn from a generator seeded by (seed, replica, position) alone,
    so a replica's vectors are the same whether the build ran in one go or was resumed."""
    rng = np.random.default_rng((seed, replica, position))
    vecs = np.stack([base.vectors[c.id] for c in base.chunks[video_id]])
    noisy = vecs + sigma * rng.standard_normal(vecs.shape) / np.sqrt(vecs.shape[1])
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def build_index(
    base: Base,
    n_chunks: int,
    library: Library,
    sigma: float,
    seed: int,
    batch: int = 4096,
    on_flush: Callable[[], None] = lambda: None,
) -> int:
    """Fill ``library`` with about ``n_chunks`` chunks made of perturbed replicas of the base
    videos; return how many replicas this call wrote.

    Resumable: the replicas are written in a fixed order, chunks then whole-video vectors, every
    ``batch`` chunks, so a replica whose whole-video vector is in the store has all its chunks
    there and in the catalogue; such replicas are skipped. A replica written only in part (its
    catalogue rows committed, its vectors not flushed before the process died) is written again
    under the same ids (``commit_video`` replaces, ``upsert`` overwrites) with the same vectors."""
    from retrieval.store.base import ChunkRecord, VideoRecord, date_key, video_record
    from retrieval.types import Chunk

    done = library.store.video_vector_ids()
    records: list[ChunkRecord] = []
    centroids: list[VideoRecord] = []
    written, replica, fresh = 0, 0, 0
    while written < n_chunks:
        for position, video in enumerate(base.videos):
            if written >= n_chunks:
                break
            vid = f"{video.id}~{replica:05d}"
            written += len(base.chunks[video.id])
            if vid in done:
                continue
            rows = [
                Chunk(f"{vid}:{c.index}", vid, c.index, c.start, c.end, c.text)
                for c in base.chunks[video.id]
            ]
            replica_video = _replica(video, vid)
            library.catalogue.commit_video(replica_video, rows, vid)
            vecs = replica_vectors(base, video.id, replica, position, sigma, seed)
            records += [
                ChunkRecord(
                    row.id,
                    vid,
                    row.index,
                    row.start,
                    row.end,
                    vec,
                    duration=video.duration,
                    published=date_key(video.published),
                    language=(video.language or "").lower() or None,
                    tags=tuple(t.lower() for t in video.tags),
                )
                for row, vec in zip(rows, vecs, strict=True)
            ]
            centroids.append(video_record(replica_video, vecs))
            fresh += 1
            if len(records) >= batch:
                _flush(library, records, centroids)
                on_flush()
                records, centroids = [], []
        replica += 1
    _flush(library, records, centroids)
    on_flush()
    return fresh


def _flush(library: Library, records: list[Any], centroids: list[Any]) -> None:
    if records:  # chunks first: a whole-video vector in the store means its chunks are there
        library.store.upsert(records)
    if centroids:
        library.store.upsert_videos(centroids)


def _replica(video: Any, vid: str) -> Any:
    from dataclasses import replace

    return replace(video, id=vid)

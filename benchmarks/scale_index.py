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
        embedding={"threads": 1},  # one thread: spinning torch threads collapse on a shared CPU
    )


def load_base(talks: int, work: Path) -> Base:
    library, _ = build_base(talks, work / "base")
    videos = library.videos()
    chunks = {v.id: library.chunks(v.id) for v in videos}
    ids = [c.id for cs in chunks.values() for c in cs]
    collection = library.store.collection  # type: ignore[attr-defined]
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), 1000):
        got = collection.get(ids=ids[start : start + 1000], include=["embeddings"])
        for cid, emb in zip(got["ids"], got["embeddings"], strict=True):
            vectors[cid] = np.asarray(emb, dtype=np.float32)
    library.close()
    return Base(videos, chunks, vectors)


def build_index(base: Base, n_chunks: int, data_dir: Path, sigma: float, seed: int) -> Any:
    """A library of about ``n_chunks`` chunks made of perturbed replicas of the base videos."""
    from retrieval.library import Library
    from retrieval.store.base import ChunkRecord, VideoRecord, date_key, video_record
    from retrieval.types import Chunk

    library = Library(library_settings(data_dir))
    rng = np.random.default_rng(seed)
    records: list[ChunkRecord] = []
    centroids: list[VideoRecord] = []
    written, replica = 0, 0
    while written < n_chunks:
        for video in base.videos:
            if written >= n_chunks:
                break
            vid = f"{video.id}~{replica:05d}"
            rows = [
                Chunk(f"{vid}:{c.index}", vid, c.index, c.start, c.end, c.text)
                for c in base.chunks[video.id]
            ]
            replica_video = _replica(video, vid)
            library.catalogue.commit_video(replica_video, rows, vid)
            first = len(records)
            for row, src in zip(rows, base.chunks[video.id], strict=True):
                vec = base.vectors[src.id]
                noisy = vec + sigma * rng.standard_normal(vec.shape[0]) / np.sqrt(vec.shape[0])
                records.append(
                    ChunkRecord(
                        row.id,
                        vid,
                        row.index,
                        row.start,
                        row.end,
                        (noisy / np.linalg.norm(noisy)).astype(np.float32),
                        duration=video.duration,
                        published=date_key(video.published),
                        language=(video.language or "").lower() or None,
                        tags=tuple(t.lower() for t in video.tags),
                    )
                )
            centroids.append(
                video_record(replica_video, np.stack([r.embedding for r in records[first:]]))
            )
            written += len(rows)
            if len(records) >= 4096:
                library.store.upsert(records)
                library.store.upsert_videos(centroids)
                records, centroids = [], []
        replica += 1
    if records:
        library.store.upsert(records)
    if centroids:
        library.store.upsert_videos(centroids)
    return library


def _replica(video: Any, vid: str) -> Any:
    from dataclasses import replace

    return replace(video, id=vid)

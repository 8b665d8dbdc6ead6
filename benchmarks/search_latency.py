"""Search latency on a demo index: ``Library.search`` p50/p95 vs a raw Chroma query, same run.

Builds (once, reused afterwards: ingest is idempotent) an index of ``--talks`` TED talks from the
demo library's transcript rows under ``--data-dir``, then times a fixed list of queries:

* ours: ``Library.search(q, k=10)``: query embedding + Chroma (100 candidates) + BM25 + RRF +
  grouping + catalogue lookups;
* baseline: the raw ``collection.query(query_embeddings=..., n_results=100)`` on the same
  collection with precomputed query vectors (dense retrieval alone, no embedding);
* also the query embedding alone, to show where the time goes.

Usage: ``python -m benchmarks.search_latency [--talks 150] [--repeat 5] [--data-dir DIR]``
(``--existing`` times the library already in ``--data-dir``, e.g. the one ``vidrec demo-data``
built, without ingesting anything).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

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


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _build(talks: int, data_dir: Path) -> tuple[Library, int]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "vidrec-bench-search"
    )
    parser.add_argument("--existing", action="store_true", help="use the index as it is")
    args = parser.parse_args()

    from agent.settings import Settings
    from retrieval.library import Library

    if args.existing:
        base = Settings()
        library = Library(Settings(data_dir=args.data_dir, models_cache=base.models_dir))
        print(f"index: existing library at {args.data_dir}, {len(library.videos())} videos")
    else:
        library, _ = _build(args.talks, args.data_dir)
    store = library.store
    collection = store.collection  # type: ignore[attr-defined]
    n = library.config.search.chunk_candidates
    vectors = library.embedder.encode_queries(QUERIES)  # loads the model (sets torch threads)
    import torch

    print(
        f"collection: {store.count()} chunks; candidates per side: {n}; "
        f"torch threads: {torch.get_num_threads()}"
    )
    for q in QUERIES[:3]:  # warm every path (BM25 load, SQLite cache, HNSW pages)
        library.search(q)
    ours, raw, embed = [], [], []
    for _ in range(args.repeat):
        for q, vec in zip(QUERIES, vectors, strict=True):
            t0 = time.perf_counter()
            library.search(q, k=10)
            t1 = time.perf_counter()
            collection.query(query_embeddings=vec.reshape(1, -1), n_results=n)
            t2 = time.perf_counter()
            library.embedder.encode_queries([q])
            t3 = time.perf_counter()
            ours.append(t1 - t0)
            raw.append(t2 - t1)
            embed.append(t3 - t2)
    ms = 1000.0
    p50_ours, p95_ours = _pct(ours, 0.5) * ms, _pct(ours, 0.95) * ms
    p50_raw, p95_raw = _pct(raw, 0.5) * ms, _pct(raw, 0.95) * ms
    print(f"{len(ours)} searches ({len(QUERIES)} queries x {args.repeat})")
    print(f"vidrec Library.search k=10 : p50 {p50_ours:7.2f} ms  p95 {p95_ours:7.2f} ms")
    print(f"raw Chroma query n={n:<4}   : p50 {p50_raw:7.2f} ms  p95 {p95_raw:7.2f} ms")
    print(f"query embedding alone      : p50 {statistics.median(embed) * ms:7.2f} ms")
    rest = [o - e for o, e in zip(ours, embed, strict=True)]
    print(f"search minus embedding     : p50 {_pct(rest, 0.5) * ms:7.2f} ms (approx.)")
    print(
        f"ratio ours/raw p50         : {p50_ours / p50_raw:.2f}x  (p95 {p95_ours / p95_raw:.2f}x)"
    )
    hits = library.search(QUERIES[0], k=3)
    for rank, hit in enumerate(hits, 1):
        print(f"  {rank}. {hit.video.title} ({hit.score:.4f})")


if __name__ == "__main__":
    main()

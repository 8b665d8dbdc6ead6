"""Hybrid search with whole-video scoring at scale: p50/p95 against best-chunk search, same run.

Builds (once; ingest is idempotent, so a second run reuses it) a library of about ``--chunks``
chunks from real TED transcripts: video ``i`` is talk ``i mod T`` with its sentences rotated by
``i // T``, so past the 2,098 talks the texts stay real but no two videos are the same. Ingest is
the real one (chunking, SQL, Chroma with whole-video vectors, both BM25 indexes); the embedder is
the deterministic hashing one of the tests (256 dimensions), so building 100k chunks takes minutes
rather than hours on a CPU, and the times below are the search's own (no model in them).

Then it times, interleaved, the same TED descriptions as queries through:

* ours: ``Library.search(q, k=10)``: chunks (dense + BM25) and whole videos (centroid + BM25)
  fused by RRF, evidence lookups, catalogue rows;
* baseline: the same search with the whole-video weights at 0, i.e. each video scored by its best
  chunk (the search before whole-video evidence).

Usage: ``python -m benchmarks.search_scale [--chunks 100000] [--queries 50] [--repeat 3]
[--data-dir DIR]``. Prints the p50/p95 of each and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHARS_PER_CHUNK = 700  # about what 45 s / 900-character chunks hold, to size the corpus


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _talks(ted: Path) -> list[tuple[str, list[str]]]:
    """``(description, sentences)`` of every talk with a transcript."""
    with (ted / "ted_main.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    with (ted / "talk_transcripts.csv").open(newline="", encoding="utf-8") as fh:
        for pair in csv.DictReader(fh):
            path = ted / pair["path"]
            if not path.is_file():
                continue
            text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
            sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
            if len(text) < 2000:  # a stub or stage directions only
                continue
            out.append((rows[int(pair["csv_index"])]["description"], sentences))
    return out


def _manifest(ted: Path, chunks: int, folder: Path) -> tuple[Path, list[str]]:
    talks = _talks(ted)
    src = folder / "src"
    src.mkdir(parents=True, exist_ok=True)
    lines, total, i = [], 0, 0
    while total < chunks * CHARS_PER_CHUNK:
        _, sentences = talks[i % len(talks)]
        shift = (i // len(talks)) * 7 % max(1, len(sentences))
        text = " ".join(sentences[shift:] + sentences[:shift])
        path = src / f"v{i}.txt"
        if not path.is_file():
            path.write_text(text, encoding="utf-8")
        lines.append(
            json.dumps({"id": f"v{i}", "title": f"video {i}", "transcript_path": str(path)})
        )
        total += len(text)
        i += 1
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest, [d for d, _ in talks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "vidrec-bench-scale"
    )
    args = parser.parse_args()

    from agent.settings import Settings
    from retrieval.library import Library
    from tests.fakes.index import register

    register()  # the hashing embedder, as the tests use it
    base = Settings()
    settings = Settings(
        data_dir=args.data_dir,
        models_cache=base.models_dir,
        embedding={"backend": "fake", "model": "hashing-256"},
        ingest={"metadata_chunk": False},
    )
    manifest, descriptions = _manifest(base.data.shared_dir / "ted", args.chunks, args.data_dir)
    library = Library(settings)
    start = time.perf_counter()
    report = library.ingest(manifest=manifest)
    print(
        f"index: {len(library.videos())} videos, {library.store.count()} chunks "
        f"({len(report.ingested)} ingested now, {len(report.unchanged)} unchanged) "
        f"in {time.perf_counter() - start:.0f} s"
    )
    best_chunk = library.searcher_with(
        settings.search.model_copy(update={"video_dense_weight": 0.0, "video_lexical_weight": 0.0})
    )
    queries = descriptions[: args.queries]
    for q in queries[:3]:  # warm both paths (BM25 loads, HNSW pages, SQLite cache)
        library.search(q)
        best_chunk.search(q)
    ours: list[float] = []
    old: list[float] = []
    for _ in range(args.repeat):
        for q in queries:
            t0 = time.perf_counter()
            library.search(q, k=10)
            t1 = time.perf_counter()
            best_chunk.search(q, k=10)
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            old.append(t2 - t1)
    ms = 1000.0
    p50, p95 = _pct(ours, 0.5) * ms, _pct(ours, 0.95) * ms
    b50, b95 = _pct(old, 0.5) * ms, _pct(old, 0.95) * ms
    print(f"{len(ours)} searches ({len(queries)} TED descriptions x {args.repeat}), k=10")
    print(f"whole-video + chunk search : p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")
    print(f"best-chunk search (before) : p50 {b50:7.2f} ms  p95 {b95:7.2f} ms")
    print(f"ratio ours/before          : p50 {p50 / b50:.2f}x  p95 {p95 / b95:.2f}x")


if __name__ == "__main__":
    main()

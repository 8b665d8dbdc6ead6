"""What writing a flush of videos together saves against writing them one at a time.

An ingest embeds a flush of videos' chunks in one call and then writes them (retrieval/ingest.py).
Written one at a time, every video paid its own pending mark, Chroma delete and upserts and SQL
transaction: a metadata-only catalogue (one short chunk per movie, as the ReDial and INSPIRED
evaluations index 9,891 MovieLens titles) spent most of a cold ingest there. This ingests the same
catalogue rows into two fresh libraries with the real embedder, Chroma and SQLite: the baseline
writes each video alone (the old path, kept as the fallback when a flush's write fails), the other
writes each flush together. Reports wall seconds, ms per video and the ratio, measured in one run
(the machine may be shared: compare within a run).

    python -m benchmarks.ingest_writes [--videos 600]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.settings import Settings
from retrieval.ingest import Ingestor
from retrieval.library import Library

GENRES = ["Drama", "Comedy", "Thriller", "Animation", "Documentary", "Romance", "Horror"]


def catalogue(folder: Path, n: int) -> Path:
    """``n`` MovieLens-like rows: a title, a year, genres (one short chunk each)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        genres = ", ".join(GENRES[j % len(GENRES)] for j in range(i % 3 + 1 + i % 2))
        year = 1950 + i % 70
        rows.append(
            {
                "id": f"ml:{i}",
                "title": f"Film number {i} ({year})",
                "description": f"Film number {i} ({year}). Genres: {genres}.",
                "tags": [g.lower() for g in genres.split(", ")],
            }
        )
    manifest = folder / "catalogue.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def one_at_a_time(self: Ingestor, buffer: list[Any], state: Any) -> None:
    """The baseline: the flush embedded in one call, then each video written alone."""
    from retrieval import ingest_stages as stages

    vectors = stages.embed(self._embedder(), [c.text for p in buffer for c in p.chunks])
    store, offset = self._store(), 0
    for prepared in buffer:
        n = len(prepared.chunks)
        state.buffered -= n
        self.commit(store, prepared, vectors[offset : offset + n], state)
        offset += n


def timed(root: Path, manifest: Path, name: str) -> float:
    library = Library(Settings(data_dir=root / name))
    library.embedder.encode_documents(["warm the model up"])
    library.store.count()
    start = time.perf_counter()
    report = library.ingest(manifest=manifest)
    wall = time.perf_counter() - start
    assert report.ok, report.failed[:3]
    library.close()
    return wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=600)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vidrec-ingest-writes-") as tmp:
        root = Path(tmp)
        manifest = catalogue(root / "in", args.videos)
        batched = Ingestor.flush
        Ingestor.flush = one_at_a_time  # type: ignore[method-assign]
        try:
            alone = timed(root, manifest, "alone")
        finally:
            Ingestor.flush = batched  # type: ignore[method-assign]
        together = timed(root, manifest, "together")
    n = args.videos
    print(f"{n} metadata-only videos, one short chunk each, real embedder / Chroma / SQLite")
    print(f"  one video at a time (old): {alone:7.1f} s  {1000 * alone / n:6.1f} ms a video")
    print(f"  a flush together (new):    {together:7.1f} s  {1000 * together / n:6.1f} ms a video")
    print(f"  new / old: {together / alone:.2f}x")


if __name__ == "__main__":
    main()

"""Torch intra-op threads for the sentence-transformers embedder: one query, and a batch of chunks.

The same embedder and model in one process, the thread count switched (``torch.set_num_threads``,
what ``embedding.threads`` sets) before every call, the counts interleaved in a shuffled order so
a burst of load from other processes falls on all of them alike. Printed per thread count: wall
p50 / p95 and this process's CPU time p50 / p95 of embedding one query (the
``benchmarks.scale`` queries, each made new so no cache answers it), and of ``--batch`` chunk
texts of the TED transcripts (what ingest embeds per call), then each count's p95 over the
first count's. CPU time above wall time, or growing with threads, is threads spinning while
they wait for a core.

    python -m benchmarks.embed_threads [--threads 1,2] [--repeat 3] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.scale_index import QUERIES, pct

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def interleaved(
    counts: Sequence[int], calls: Sequence[Callable[[int], object]], seed: int = 0
) -> dict[int, tuple[list[float], list[float]]]:
    """(wall s, CPU s) of every call under every thread count (its argument), counts shuffled
    per call."""
    import torch

    rng = random.Random(seed)
    out: dict[int, tuple[list[float], list[float]]] = {t: ([], []) for t in counts}
    order = list(counts)
    for call in calls:
        rng.shuffle(order)
        for threads in order:
            torch.set_num_threads(threads)
            t0, c0 = time.perf_counter(), time.process_time()
            call(threads)
            out[threads][1].append(time.process_time() - c0)
            out[threads][0].append(time.perf_counter() - t0)
    return out


def show(what: str, results: dict[int, tuple[list[float], list[float]]]) -> None:
    first = next(iter(results))
    base = pct(results[first][0], 0.95)
    for threads, (wall, cpu) in results.items():
        print(
            f"{what}, {threads} thread(s): wall p50 {pct(wall, 0.5) * 1000:.1f} "
            f"p95 {pct(wall, 0.95) * 1000:.1f} ms | CPU p50 {pct(cpu, 0.5) * 1000:.1f} "
            f"p95 {pct(cpu, 0.95) * 1000:.1f} ms | wall p95 / {first} thread(s): "
            f"{pct(wall, 0.95) / base:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="chunk texts per document call")
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=Path(tempfile.gettempdir()) / "vidrec-scale" / "base" / "vidrec.db",
        help="SQLite catalogue whose chunk texts are embedded (benchmarks.scale's base library)",
    )
    args = parser.parse_args()

    import torch

    from agent.settings import Settings
    from retrieval.catalogue import Catalogue
    from retrieval.embed.factory import create_embedder

    counts = [int(t) for t in args.threads.split(",")]
    print(f"torch's default: {torch.get_num_threads()} threads; {os.cpu_count()} CPUs")
    settings = Settings()
    embedding = settings.embedding.model_copy(update={"threads": None})
    embedder = create_embedder(embedding, settings.models_dir)
    queries = [
        (lambda t, q=f"{q} {r}": embedder.encode_queries([f"{q} {t}"]))  # new: not cached
        for r in range(args.repeat)
        for q in QUERIES
    ]
    for call in queries[:3]:  # warm-up
        call(0)
    show("one query", interleaved(counts, queries))
    catalogue = Catalogue(f"sqlite:///{args.catalogue}")
    texts: list[str] = []
    for video in catalogue.videos():
        texts += [c.text for c in catalogue.chunks(video.id)]
        if len(texts) >= args.batch * args.repeat:
            break
    catalogue.close()
    batches = [
        (lambda _, b=texts[i : i + args.batch]: embedder.encode_documents(b))
        for i in range(0, len(texts), args.batch)
    ]
    show(f"{args.batch} chunks", interleaved(counts, batches))


if __name__ == "__main__":
    main()

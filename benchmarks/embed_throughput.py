"""Embedding throughput: raw sentence-transformers ``encode`` vs vidrec's ingest embedding path.

Same chunks (real TED transcripts, chunked with the ingest's chunker), same model files, same run.
Three measurements, best of ``--repeat`` each:

* raw: ``SentenceTransformer.encode(all_chunks, batch_size, normalize_embeddings=True)``;
* ours: the ingest path, ``Embedder.encode_documents`` on buffers of ``ingest.embed_flush_chunks``
  chunks gathered across videos (what ``Ingestor.flush`` does);
* per-video: one ``encode_documents`` call per talk (what ingest would do without cross-video
  batching), to show what the buffering buys.

Usage: ``python -m benchmarks.embed_throughput [--talks 20] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from agent.settings import Settings
    from retrieval.chunking import chunk_segments
    from retrieval.demo import load_ted
    from retrieval.embed.factory import create_embedder
    from retrieval.embed.sentence_transformers import resolve_model_path
    from retrieval.transcripts import read_transcript

    settings = Settings()
    talks = load_ted(settings.data.shared_dir)[: args.talks]
    per_video: list[list[str]] = []
    for talk in talks:
        transcript = read_transcript(talk.transcript, talk.duration or None)
        per_video.append(
            [c.text for c in chunk_segments(talk.id, transcript.segments, settings.chunking)]
        )
    texts = [t for video in per_video for t in video]
    batch = settings.embedding.batch_size
    flush = settings.ingest.embed_flush_chunks

    from sentence_transformers import SentenceTransformer

    raw_model = SentenceTransformer(
        str(resolve_model_path(settings.embedding.model, settings.models_dir)),
        device="cpu",
        local_files_only=True,
    )
    ours = create_embedder(settings.embedding, settings.models_dir)
    raw_model.encode(texts[:batch], batch_size=batch)  # warm both
    ours.encode_documents(texts[:batch])
    import torch

    print(
        f"{len(texts)} chunks from {len(talks)} TED talks; batch_size={batch}, flush={flush}, "
        f"torch threads={torch.get_num_threads()}"
    )

    def raw() -> object:
        return raw_model.encode(
            texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False
        )

    def ingest_path() -> object:
        return [ours.encode_documents(texts[i : i + flush]) for i in range(0, len(texts), flush)]

    def one_call_per_video() -> object:
        return [ours.encode_documents(video) for video in per_video]

    t_raw = _best(raw, args.repeat)
    t_ours = _best(ingest_path, args.repeat)
    t_per_video = _best(one_call_per_video, args.repeat)
    n = len(texts)
    print(f"raw sentence-transformers encode : {n / t_raw:8.1f} chunks/s ({t_raw:.2f} s)")
    print(f"vidrec ingest embedding path     : {n / t_ours:8.1f} chunks/s ({t_ours:.2f} s)")
    print(
        f"  one call per video (no buffer) : {n / t_per_video:8.1f} chunks/s ({t_per_video:.2f} s)"
    )
    print(f"ratio ours/raw throughput        : {t_raw / t_ours:.3f}x")
    print(f"ratio buffered/per-video         : {t_per_video / t_ours:.3f}x")


if __name__ == "__main__":
    main()

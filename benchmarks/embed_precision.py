"""Embedding in float32 against bfloat16 (``embedding.precision``), measured in the same run.

Real TED transcripts chunked with the ingest's chunker are embedded by the product's embedder
(``create_embedder``) built twice from the same model files, once per precision; the document
batches alternate between the two so that a noisy machine burdens both alike. Then single
queries (the talks' descriptions, one thread, as a turn embeds them), and how close the vectors
are: the cosine of each chunk's bfloat16 vector to its float32 one, and how many talks' nearest
chunk for their own description stays the same.

Usage: ``python -m benchmarks.embed_precision [--talks 12] [--rounds 3] [--model PATH]``
(``--model``: another sentence-transformers folder, e.g. all-mpnet-base-v2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    import numpy as np

    from agent.settings import Settings
    from retrieval.chunking import chunk_segments
    from retrieval.demo import load_ted
    from retrieval.embed.factory import create_embedder
    from retrieval.embed.precision import CPU_BF16_FLAGS, cpu_flags
    from retrieval.transcripts import read_transcript

    settings = Settings()
    talks = load_ted(settings.data.shared_dir)[: max(args.talks, args.queries)]
    texts, owner = [], []
    for i, talk in enumerate(talks[: args.talks]):
        transcript = read_transcript(talk.transcript, talk.duration or None)
        for chunk in chunk_segments(talk.id, transcript.segments, settings.chunking):
            texts.append(chunk.text)
            owner.append(i)
    queries = [t.description for t in talks[: args.queries]]
    section = settings.embedding
    if args.model:
        section = section.model_copy(update={"model": args.model})
    models = {
        p: create_embedder(section.model_copy(update={"precision": p}), settings.models_dir)
        for p in ("float32", "bfloat16")
    }
    hw = sorted(cpu_flags() & CPU_BF16_FLAGS) or ["none"]
    print(
        f"{section.model}: {len(texts)} chunks from {args.talks} TED talks, batch "
        f"{section.batch_size}, {args.rounds} rounds alternating; CPU bfloat16 flags: {hw}"
    )
    for m in models.values():
        m.encode_documents(texts[: section.batch_size])  # warm
    doc_s: dict[str, list[float]] = {p: [] for p in models}
    vectors = {}
    for _ in range(args.rounds):
        for p, m in models.items():
            start = time.perf_counter()
            vectors[p] = m.encode_documents(texts)
            doc_s[p].append(time.perf_counter() - start)
    query_ms: dict[str, list[float]] = {p: [] for p in models}
    qvec: dict[str, list[np.ndarray]] = {p: [] for p in models}
    for q in queries:
        for p, m in models.items():
            start = time.perf_counter()
            qvec[p].append(m.encode_queries([q])[0])
            query_ms[p].append(1000 * (time.perf_counter() - start))

    def per_chunk(p: str) -> float:
        return 1000 * statistics.median(doc_s[p]) / len(texts)

    def p95(values: list[float]) -> float:
        return float(np.percentile(values, 95))

    for p in models:
        print(
            f"{p:9s} documents {per_chunk(p):6.1f} ms a chunk (median of rounds); queries p50 "
            f"{statistics.median(query_ms[p]):6.1f} ms, p95 {p95(query_ms[p]):6.1f} ms"
        )
    print(
        f"ratio float32 / bfloat16: documents {per_chunk('float32') / per_chunk('bfloat16'):.2f}x,"
        f" query p50 {statistics.median(query_ms['float32']) / statistics.median(query_ms['bfloat16']):.2f}x"
    )
    cos = (vectors["float32"] * vectors["bfloat16"]).sum(axis=1)
    qcos = (np.array(qvec["float32"]) * np.array(qvec["bfloat16"])).sum(axis=1)
    same = 0
    n_own = min(args.talks, args.queries)
    for i in range(n_own):
        best = {p: int(np.argmax(vectors[p] @ qvec[p][i])) for p in models}
        same += best["float32"] == best["bfloat16"]
    print(
        f"cosine bfloat16 to float32: chunks mean {cos.mean():.5f} min {cos.min():.5f}; queries "
        f"mean {qcos.mean():.5f} min {qcos.min():.5f}; same nearest chunk for {same} of {n_own} "
        "descriptions"
    )


if __name__ == "__main__":
    main()

"""Per-stage latency of one recommending turn, against a plain hybrid search as the baseline.

Runs the same request several times through ``Recommender.stream`` (the CPU default LLM unless
settings say otherwise) over a TED index (the one ``python -m evaluation.agent_hitrate`` builds,
or a small one built here), and prints, per stage (understand, retrieve, rank, rerank, reply,
explain), the median seconds, its share of the turn, and its ratio to ``Library.search`` for the
same text measured in the same run. Also the time to the first reply token and to the last item,
with and without the LLM rerank.

    python -m benchmarks.agent_latency [--repeats 3] [--query "..."] [--talks 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from agent.recommender import Recommender
from agent.settings import Settings
from evaluation.agent_hitrate import build_manifest, eval_settings, load_requests

STAGES = ("understand", "retrieve", "rank", "rerank", "reply", "explain")


def _turn(rec: Recommender, query: str, user: str, k: int) -> tuple[dict[str, float], float, float]:
    start = time.perf_counter()
    first = float("nan")
    timings: dict[str, float] = {}
    for event in rec.stream(query, user, k=k):
        if event.kind == "text" and first != first and event.text.strip():
            first = time.perf_counter() - start
        if event.kind == "done" and event.answer is not None:
            timings = dict(event.answer.timings)
        if event.kind == "error":
            raise SystemExit(f"turn failed: {event.text}")
    rec.users_store.forget(user)
    return timings, first, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent_latency")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--query", default="a short talk on meditation and mindfulness, 10 minutes max"
    )
    parser.add_argument("--talks", type=int, default=100, help="talks in the index if built here")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    base = Settings()
    data_dir = args.data_dir or base.data_dir / "eval" / "agent-ted"
    settings = eval_settings(base, data_dir)
    manifest = build_manifest(
        base.data.shared_dir, data_dir / "manifest", load_requests(), args.talks
    )
    rec = Recommender(settings)
    rec.ingest([], manifest=manifest)
    print(
        f"index {len(rec.library.videos())} talks; LLM {settings.llm.backend}/{settings.llm.model} "
        f"{settings.llm.threads} threads; query {args.query!r}; k={args.k}; {args.repeats} repeats"
    )
    rec.library.search(args.query, k=10)  # warm: embedder and BM25 loaded
    _turn(rec, args.query, "bench-warm", args.k)  # warm: the LLM loaded

    search_s = []
    for _ in range(max(5, args.repeats)):
        clock = time.perf_counter()
        rec.library.search(args.query, k=args.k)
        search_s.append(time.perf_counter() - clock)
    baseline = statistics.median(search_s)

    results = {}
    for rerank in (False, True):
        variant = Recommender(
            settings.model_copy(
                update={"agent": settings.agent.model_copy(update={"rerank": rerank})}
            ),
            library=rec.library,
            llm=rec.llm,
            users=rec.users_store,
        )
        runs = [
            _turn(variant, args.query, f"bench-{rerank}-{i}", args.k) for i in range(args.repeats)
        ]
        results[rerank] = runs

    print(f"\nbaseline Library.search: median {baseline * 1000:.1f} ms")
    for rerank, runs in results.items():
        total = statistics.median(t for _, _, t in runs)
        first = statistics.median(f for _, f, _ in runs)
        print(
            f"\nrerank={rerank}: first token {first:.2f}s ({first / baseline:.0f}x search), "
            f"full {args.k}-item answer {total:.2f}s ({total / baseline:.0f}x search)"
        )
        print(f"{'stage':<12}{'median s':>10}{'share':>8}{'x search':>10}")
        for stage in STAGES:
            values = [t.get(stage, 0.0) for t, _, _ in runs]
            med = statistics.median(values)
            print(f"{stage:<12}{med:>10.3f}{med / total:>8.0%}{med / baseline:>10.1f}")
    rec.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

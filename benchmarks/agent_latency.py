"""Latency of whole recommending turns on labelled requests, against plain search in the same run.

Streams full answers through ``Recommender.stream`` (the CPU default LLM unless settings say
otherwise, warmed by one turn first) for labelled requests: ``evaluation/ted_requests.jsonl`` and
the vague-length requests of ``evaluation/data/length_requests.jsonl``, interleaved, ``--limit``
of them. Per request it records the time to the first card (the first ``recommendation`` event:
a pick with its grounded reason) and to the whole answer (``done``: every reason final), and
prints p50 and p90 of both, their ratio to ``Library.search`` on the same texts measured in the
same run (the baseline), the median of every stage, how many turns the model read, and hit
rate@5 over the TED requests that ran. ``--answers PATH`` saves the answers for the reason check
(``python -m evaluation.agent_reasons``).

It also prints how many of the model's reason sentences passed the reason check (``reason``
events against the sentences asked for, by rank). ``--cache N`` also measures llama.cpp's prompt
cache on N of the reasons prompts.

    python -m benchmarks.agent_latency [--limit 12] [--answers PATH] [--cache N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.recommender import Recommender
from agent.types import Message
from evaluation.agent_hitrate import interleave, load_requests, open_ted
from evaluation.agent_reasons import answer_row
from evaluation.agent_turns import LENGTHS, conversation, load_labelled
from prompts.loader import load_prompt

STAGES = ("understand", "retrieve", "rank", "rerank", "cards", "explain", "chat")


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def _turn(
    rec: Recommender, messages: list[Message], user: str, k: int, replaced: list[int] | None = None
) -> tuple[Any, float, float, float]:
    """One streamed turn: (answer, first card s, whole answer s, first model reason s or nan);
    the rank of every card whose reason the model replaced goes to ``replaced``."""
    start = time.perf_counter()
    first = first_reason = float("nan")
    answer = None
    for event in rec.stream(messages, user, k=k):
        if event.kind == "recommendation" and first != first:
            first = time.perf_counter() - start
        elif event.kind == "reason" and event.recommendation:
            if first_reason != first_reason:
                first_reason = time.perf_counter() - start
            if replaced is not None:
                replaced.append(event.recommendation.rank)
        elif event.kind == "done":
            answer = event.answer
        elif event.kind == "error":
            raise SystemExit(f"turn failed: {event.text}")
    total = time.perf_counter() - start
    rec.users_store.forget(user)
    return answer, first, total, first_reason


def prefix_cache(rec: Recommender, rows: Sequence[dict[str, Any]]) -> None:
    """Prefill of the reasons prompt with and without llama.cpp's prompt cache (llamacpp only),
    over the prompts of earlier answers (each pass with its own request text, so only the fixed
    system prefix can come from the cache)."""
    inner = getattr(rec.llm, "inner", None)
    if getattr(inner, "backend", "") != "llamacpp":
        return
    server = inner.load()  # type: ignore[union-attr]
    prompt = load_prompt("explain")
    for cache in (False, True):
        used, read, ms, prompts = 0, 0, 0.0, 0
        for row in rows:
            # a request text of its own per pass: only the fixed system prefix can be reused
            request_text = f"{' '.join(row['turns'])} (pass {int(cache)})"
            for pick in row["picks"]:  # one reasons request per card
                messages = prompt.render(
                    request=request_text,
                    title=pick["video_id"],
                    speaker="",
                    evidence=pick["reason"],
                )
                request = {
                    "messages": [{"role": m.role, "content": m.content} for m in messages],
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "cache_prompt": cache,
                }
                timings = server.handle_chat_completions(request).get("timings", {})
                used += timings.get("cache_n", 0)
                read += timings.get("prompt_n", 0)
                ms += timings.get("prompt_ms", 0.0)
                prompts += 1
        print(
            f"reasons prompt, cache_prompt={cache}: {read} tokens read, {used} reused from "
            f"the cache, prefill {ms / max(1, prompts):.0f} ms per card's prompt"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent_latency")
    parser.add_argument("--limit", type=int, default=12, help="labelled requests to stream")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--talks", type=int, default=100, help="talks in the index if built here")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--answers", type=Path, default=None, help="save the answers (JSON)")
    parser.add_argument(
        "--cache", type=int, default=0, help="measure the prompt cache on N answers' prompts"
    )
    args = parser.parse_args(argv)

    rec, settings = open_ted(args.data_dir, args.talks)
    ted = load_requests()
    # (id, turns, targets): TED requests and vague-length requests, alternating
    labelled: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    for a, b in zip(interleave(ted), load_labelled(LENGTHS), strict=False):
        labelled += [(a.id, a.turns, a.targets), (b.id, b.turns, ())]
    labelled = labelled[: args.limit]
    cfg = settings.agent
    print(
        f"index {len(rec.library.videos())} talks; LLM {settings.llm.backend}/{settings.llm.model} "
        f"{settings.llm.threads} threads; understand={cfg.understand} explain={cfg.explain} "
        f"rerank={cfg.rerank}; {len(labelled)} requests; k={args.k}",
        flush=True,
    )
    rec.library.search("warm up", k=10)  # embedder and BM25 loaded
    _turn(rec, conversation(["a talk about the ocean"]), "bench-warm", args.k)  # LLM loaded

    search_s = []
    for _, turns, _ in labelled:
        clock = time.perf_counter()
        rec.library.search(turns[-1], k=args.k)
        search_s.append(time.perf_counter() - clock)
    baseline = statistics.median(search_s)

    firsts, totals, rows, hits = [], [], [], []
    replaced: list[int] = []  # ranks whose reason the model's sentence replaced
    reasons_s: list[float] = []  # per turn with one: time to the first model reason
    asked = [0] * args.k  # model sentences asked for, by rank
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for request_id, turns, targets in labelled:
        answer, first, total, first_reason = _turn(
            rec, conversation(turns), f"bench-{request_id}", args.k, replaced
        )
        if first_reason == first_reason:
            reasons_s.append(first_reason)
        if cfg.explain:
            for rank in range(min(cfg.explain_top, len(answer.recommendations))):
                asked[rank] += 1
        firsts.append(first)
        totals.append(total)
        rows.append(answer_row(request_id, turns, answer, first, total))
        for stage in STAGES:
            stages[stage].append(answer.timings.get(stage, 0.0))
        if targets:
            hits.append(bool({r.video.id for r in answer.recommendations} & set(targets)))
        print(
            f"{request_id}: first card {first:.2f}s, whole answer {total:.2f}s, "
            f"understood by {answer.understanding.source}",
            flush=True,
        )

    print(
        f"\nbaseline Library.search: median {baseline * 1000:.1f} ms, p90 {p90(search_s) * 1000:.1f} ms"
    )
    print(f"{'':<28}{'p50 s':>8}{'p90 s':>8}{'p50 x search':>14}")
    for label, values in (("first card (with a reason)", firsts), ("whole answer", totals)):
        med = statistics.median(values)
        print(f"{label:<28}{med:>8.2f}{p90(values):>8.2f}{med / baseline:>14.0f}")
    if reasons_s:
        med = statistics.median(reasons_s)
        print(
            f"{'first model reason':<28}{med:>8.2f}{p90(reasons_s):>8.2f}{med / baseline:>14.0f}"
            f"  ({len(reasons_s)} turns with one)"
        )
    print(f"\n{'stage':<12}{'median s':>10}{'p90 s':>8}")
    for stage, values in stages.items():
        print(f"{stage:<12}{statistics.median(values):>10.3f}{p90(values):>8.3f}")
    if sum(asked):
        by_rank = ", ".join(
            f"#{r + 1} {replaced.count(r + 1)}/{n}" for r, n in enumerate(asked) if n
        )
        print(
            f"\nmodel sentences that passed the reason check: {len(replaced)} of {sum(asked)} "
            f"asked ({len(replaced) / sum(asked):.0%}; by rank {by_rank})"
        )
    model = sum(r["source"] == "model" for r in rows)
    print(f"\nturns read by the model: {model}/{len(rows)}")
    if hits:
        print(f"hit rate@5 on the {len(hits)} TED requests run: {statistics.fmean(hits):.3f}")
    if args.cache:
        prefix_cache(rec, rows[: args.cache])
    if args.answers:
        args.answers.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"answers: {args.answers}")
    rec.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

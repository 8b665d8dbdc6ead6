"""LLM latency: time to first token and generation speed of the CPU default, against baselines
measured in the same run.

Four ways to run the same streamed chat request on the same loaded model (the packaged Qwen2.5
GGUF; one model load serves all four):

* ``raw xllamacpp``: ``Server.handle_chat_completions`` with a callback, the floor;
* ``llamacpp backend``: vidrec's ``LlamaCppLLM.stream`` (validation, thread + queue, logging);
* ``HTTP, openai client``: vidrec's ``OpenAICompatLLM.stream`` against llama.cpp's own server on
  127.0.0.1 (what the ``vllm``/``openai`` backends add: JSON over HTTP, SSE parsing);
* ``HTTP, raw httpx``: the same SSE request with bare ``httpx``, the HTTP floor.

Each request carries a fresh nonce so no run reuses another's prompt cache beyond the shared chat
template prefix; variants are interleaved and the median of ``--repeats`` runs is reported.

    python -m benchmarks.llm_latency [--max-tokens 48] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from agent.llm.llamacpp import LlamaCppLLM, resolve_gguf
from agent.llm.openai_compat import OpenAICompatLLM
from agent.settings import Settings
from agent.types import Message

SYSTEM = "You are a helpful assistant that recommends videos."
QUESTION = "In two sentences, why might someone enjoy a talk about the deep ocean?"


@dataclass
class Run:
    first_token_s: float
    total_s: float
    pieces: int

    @property
    def tokens_per_s(self) -> float:
        decode = self.total_s - self.first_token_s
        return (self.pieces - 1) / decode if decode > 0 and self.pieces > 1 else 0.0


def timed(pieces: Iterator[str]) -> Run:
    start = time.perf_counter()
    first = 0.0
    count = 0
    for piece in pieces:
        if not piece:
            continue
        if count == 0:
            first = time.perf_counter() - start
        count += 1
    return Run(first, time.perf_counter() - start, count)


def messages(nonce: int) -> list[Message]:
    return [Message("system", SYSTEM), Message("user", f"(request {nonce}) {QUESTION}")]


def raw_xllamacpp(llm: LlamaCppLLM, max_tokens: int) -> Callable[[int], Iterator[str]]:
    """Stream straight from ``xllamacpp.Server`` (callback collects chunks; timed on arrival)."""
    server = llm.load()

    def run(nonce: int) -> Iterator[str]:
        import queue
        import threading

        chunks: queue.Queue[str | None] = queue.Queue()
        request = {
            "messages": [{"role": m.role, "content": m.content} for m in messages(nonce)],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }

        def on_chunk(chunk: dict[str, Any]) -> bool:
            for choice in chunk.get("choices") or ():
                chunks.put((choice.get("delta") or {}).get("content") or "")
            return False

        def work() -> None:
            server.handle_chat_completions(request, on_chunk)
            chunks.put(None)

        threading.Thread(target=work, daemon=True).start()
        while (item := chunks.get()) is not None:
            yield item

    return run


def raw_http(base_url: str, model: str, max_tokens: int) -> Callable[[int], Iterator[str]]:
    client = httpx.Client(base_url=base_url, timeout=600)

    def run(nonce: int) -> Iterator[str]:
        body = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages(nonce)],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }
        with client.stream("POST", "/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices") or ():
                    yield (choice.get("delta") or {}).get("content") or ""

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: llm.threads")
    args = parser.parse_args(argv)

    settings = Settings()
    path = resolve_gguf(settings.llm.model, settings.models_dir)
    llm = LlamaCppLLM(
        path,
        model=settings.llm.model,
        n_ctx=2048,
        threads=args.threads or settings.llm.threads,
        max_tokens=args.max_tokens,
    )
    llm.load()
    base_url = llm.listening_address + "/v1"
    client = OpenAICompatLLM(
        base_url, llm.model, timeout_s=600, max_retries=0, max_tokens=args.max_tokens
    )
    variants: dict[str, Callable[[int], Iterator[str]]] = {
        "raw xllamacpp": raw_xllamacpp(llm, args.max_tokens),
        "llamacpp backend": lambda n: llm.stream(messages(n)),
        "HTTP, raw httpx": raw_http(base_url, llm.model, args.max_tokens),
        "HTTP, openai client": lambda n: client.stream(messages(n)),
    }
    print(
        f"model {path.name}, threads {llm.threads}, load {llm.load_s:.2f}s, "
        f"max_tokens {args.max_tokens}, repeats {args.repeats}"
    )
    timed(variants["raw xllamacpp"](-1))  # warm-up: first-call costs are not what is compared
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    nonce = 0
    for _ in range(args.repeats):
        for name, run in variants.items():  # interleaved, so drifting machine load hits all alike
            nonce += 1
            result = timed(run(nonce))
            runs[name].append(result)
            print(
                f"  run {nonce:>2} {name:<22} first token {result.first_token_s:.3f}s, "
                f"{result.tokens_per_s:.1f} tokens/s, {result.pieces} pieces",
                flush=True,
            )

    med: dict[str, tuple[float, float, float]] = {}
    print(f"\n{'variant':<22}{'first token':>13}{'tokens/s':>10}{'total':>9}{'pieces':>8}")
    for name, results in runs.items():
        ttft = statistics.median(r.first_token_s for r in results)
        tps = statistics.median(r.tokens_per_s for r in results)
        total = statistics.median(r.total_s for r in results)
        pieces = statistics.median(r.pieces for r in results)
        med[name] = (ttft, tps, total)
        print(f"{name:<22}{ttft:>12.3f}s{tps:>10.1f}{total:>8.2f}s{pieces:>8.0f}")

    def ratio(a: str, b: str) -> str:
        (ta, sa, _), (tb, sb, _) = med[a], med[b]
        return f"first token x{ta / tb:.2f}, tokens/s x{sa / sb:.2f}"

    print("\nratios (median; >1 first token = slower, <1 tokens/s = slower)")
    print(f"  llamacpp backend / raw xllamacpp:     {ratio('llamacpp backend', 'raw xllamacpp')}")
    print(
        f"  HTTP openai client / llamacpp backend: {ratio('HTTP, openai client', 'llamacpp backend')}"
    )
    print(
        f"  HTTP openai client / raw httpx:        {ratio('HTTP, openai client', 'HTTP, raw httpx')}"
    )
    client.close()
    llm.close()


if __name__ == "__main__":
    main()

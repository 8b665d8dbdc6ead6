"""Bounded load test of the HTTP API: N concurrent clients for T seconds against 127.0.0.1.

    python -m benchmarks.api_load --clients 32 --seconds 60 [--backend fake|llamacpp]
                                  [--endpoint recommend|chat|search] [--max-requests N]

It builds a small library in a temp data dir (the agent tests' tiny talk library, fake or real
embedder), creates an API key, starts ``vidrec serve`` as a separate process (so the load generator
does not share the server's GIL), waits for ``/readyz`` and then runs, in the same run:

1. **baseline A**: ``GET /healthz`` with the same number of clients (the HTTP stack's floor);
2. **baseline B**: the ``Recommender`` facade called in-process, sequentially, on the same library
   (what one request costs without HTTP, auth, JSON or queueing);
3. **load**: every client loops ``POST /v1/recommend`` (or the chat / search route) with its own user
   id until the time is up or ``--max-requests`` were sent; in-flight requests may finish.

It prints throughput, p50/p95/p99 latency and errors by status for each phase, and the ratios of the
load phase to the baselines. ``--backend llamacpp`` is the real CPU default (llama.cpp Qwen2.5-0.5B,
MiniLM embedder); ``fake`` is the deterministic fake LLM and embedder from ``tests/fakes``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.api_support import FAKE_CLI, free_port

REPO = Path(__file__).resolve().parents[1]
QUERIES = (
    "something about the deep ocean",
    "a short talk on teaching children",
    "space travel to mars",
    "how to cook pasta",
    "baking bread at home",
    "climate change and what to do",
    "creativity in schools",
    "cooking with kids",
)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        """Answers with a 2xx status (a deletion answers 204)."""
        return sum(n for s, n in self.statuses.items() if s.startswith("2"))

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "throughput_rps": round(self.throughput, 3),
            "p50_ms": round(self.pct(50) * 1000, 1),
            "p95_ms": round(self.pct(95) * 1000, 1),
            "p99_ms": round(self.pct(99) * 1000, 1),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1)
            if self.latencies
            else None,
        }


def _env(
    data_dir: Path, backend: str, models_cache: Path, max_concurrency: int | None
) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "VIDREC_DATA_DIR": str(data_dir),
        "VIDREC_MODELS_CACHE": str(models_cache),
        "VIDREC_API__RATE_LIMIT_PER_MINUTE": "100000000",  # limiter runs, never refuses
        "VIDREC_API__EXPENSIVE_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    if max_concurrency is not None:
        env["VIDREC_API__MAX_CONCURRENCY"] = str(max_concurrency)
    if backend == "fake":
        env.update(
            VIDREC_LLM__BACKEND="fake", VIDREC_EMBEDDING__BACKEND="fake", VIDREC_ASR__BACKEND="fake"
        )
    return env


def _settings(env: dict[str, str]) -> Any:
    from agent.settings import Settings

    keys = {k: v for k, v in env.items() if k.startswith("VIDREC_")}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        return Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare(env: dict[str, str], backend: str, calls: int) -> tuple[str, Phase]:
    """Index the tiny library, create a key, and time the facade in-process (baseline B)."""
    if backend == "fake":
        from tests.conftest import pytest_configure

        pytest_configure(None)  # type: ignore[arg-type]
    from agent.recommender import Recommender
    from api.auth import KeyStore
    from tests.agent_data import write_library

    settings = _settings(env)
    settings.ensure_dirs()
    rec = Recommender(settings)
    manifest = write_library(settings.data_dir / "library")
    t0 = time.perf_counter()
    report = rec.ingest([], manifest=manifest)
    print(
        f"indexed {len(report.ingested)} talks in {time.perf_counter() - t0:.1f} s", file=sys.stderr
    )
    phase = Phase("in-process facade (sequential)")
    rec.recommend(QUERIES[0], "warmup", k=5)  # load models outside the timing
    start = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        rec.recommend(QUERIES[i % len(QUERIES)], f"inproc{i % 4}", k=5)
        phase.latencies.append(time.perf_counter() - t)
        phase.statuses["200"] += 1
    phase.seconds = time.perf_counter() - start
    rec.close()
    store = KeyStore(settings.sql_url)
    key = store.create([], admin=True, label="api_load benchmark").secret
    store.close()
    return key, phase


def start_server(env: dict[str, str], backend: str, port: int) -> subprocess.Popen[bytes]:
    launch = ["-c", FAKE_CLI] if backend == "fake" else ["-m", "ui.cli"]
    return subprocess.Popen(
        [sys.executable, *launch, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=REPO,
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout} s")


def _request(
    endpoint: str, client_no: int, rng: random.Random
) -> tuple[str, str, dict[str, Any] | None]:
    query = rng.choice(QUERIES)
    user = f"bench{client_no}"
    if endpoint == "health":
        return "GET", "/healthz", None
    if endpoint == "search":
        return "POST", "/v1/search", {"query": query, "k": 5}
    if endpoint == "chat":
        return (
            "POST",
            "/v1/chat/completions",
            {
                "model": "vidrec",
                "user": user,
                "messages": [{"role": "user", "content": query}],
            },
        )
    return "POST", "/v1/recommend", {"user_id": user, "query": query, "k": 5}


async def run_phase(
    name: str,
    base: str,
    key: str,
    endpoint: str,
    clients: int,
    seconds: float,
    max_requests: int,
    timeout: float,
) -> Phase:
    phase = Phase(name)
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}"}

    async def client(no: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        rng = random.Random(no)
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            method, path, body = _request(endpoint, no, rng)
            t = time.perf_counter()
            try:
                r = await http.request(method, path, json=body, headers=headers)
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            phase.latencies.append(time.perf_counter() - t) if status == "200" else None
            phase.statuses[status] += 1

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    phase.seconds = time.perf_counter() - start
    return phase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--backend", choices=("fake", "llamacpp"), default="fake")
    parser.add_argument("--endpoint", choices=("recommend", "chat", "search"), default="recommend")
    parser.add_argument("--max-requests", type=int, default=100_000, help="bound on requests sent")
    parser.add_argument(
        "--baseline-seconds", type=float, default=None, help="default: seconds/4, 3..15"
    )
    parser.add_argument(
        "--inprocess-calls", type=int, default=None, help="default: 20 fake, 5 real"
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="server api.max_concurrency (default: auto)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    # A kill (e.g. `timeout`) still stops the server and removes the temp data dir.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from agent.settings import Settings

    models_cache = Settings().models_dir
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    calls = args.inprocess_calls or (20 if args.backend == "fake" else 5)
    baseline_s = args.baseline_seconds or min(15.0, max(3.0, args.seconds / 4))

    with tempfile.TemporaryDirectory(prefix="vidrec-bench-") as tmp:
        env = _env(Path(tmp) / "data", args.backend, models_cache, args.max_concurrency)
        key, inproc = prepare(env, args.backend, calls)
        proc = start_server(env, args.backend, port)
        try:
            ready_s = wait_ready(base, proc, timeout=600)
            print(f"server ready in {ready_s:.1f} s on {base}", file=sys.stderr)
            health = asyncio.run(
                run_phase(
                    "GET /healthz",
                    base,
                    key,
                    "health",
                    args.clients,
                    baseline_s,
                    args.max_requests,
                    args.timeout,
                )
            )
            load = asyncio.run(
                run_phase(
                    f"{args.endpoint} x{args.clients}",
                    base,
                    key,
                    args.endpoint,
                    args.clients,
                    args.seconds,
                    args.max_requests,
                    args.timeout,
                )
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    phases = [health, inproc, load]
    print(
        f"\nbackend={args.backend} clients={args.clients} seconds={args.seconds} "
        f"endpoint={args.endpoint} server max_concurrency={args.max_concurrency or 'auto'}"
    )
    print(
        f"{'phase':34} {'ok':>6} {'err':>5} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    )
    for p in phases:
        s = p.summary()
        print(
            f"{p.name:34} {s['ok']:>6} {s['errors']:>5} {s['throughput_rps']:>9.2f} "
            f"{s['p50_ms']:>9.1f} {s['p95_ms']:>9.1f} {s['p99_ms']:>9.1f}"
        )
    ratios = {
        "load_rps / healthz_rps": load.throughput / health.throughput
        if health.throughput
        else None,
        "load_rps / inprocess_rps": load.throughput / inproc.throughput
        if inproc.throughput
        else None,
        "load_p50 / inprocess_p50": load.pct(50) / inproc.pct(50) if inproc.latencies else None,
    }
    for name, value in ratios.items():
        print(f"ratio {name:28} {value:.3f}" if value is not None else f"ratio {name}: n/a")
    if load.errors:
        print(f"errors: {dict((s, n) for s, n in load.statuses.items() if s[:1] != '2')}")
    result = {
        "backend": args.backend,
        "clients": args.clients,
        "seconds": args.seconds,
        "endpoint": args.endpoint,
        "phases": [p.summary() for p in phases],
        "ratios": ratios,
    }
    print(json.dumps(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    return 0 if not load.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())

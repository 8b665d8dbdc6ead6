"""Soak test of the HTTP API: 32 clients mixing recommend, feedback, search and user deletion.

    python -m benchmarks.soak [--clients 32] [--seconds 60 | --ten-minutes]

Fake models (the deterministic LLM and embedder of ``tests/fakes``), a temp data dir, the real
``vidrec serve`` in its own process (``benchmarks.api_load`` builds the library, the key and the
server). Each client owns its users: it sends ``like`` feedback, recommendation turns and
searches, and now and then deletes its current user and moves on to a new one, remembering how many
feedback writes each surviving user got an answer 200 for.

In the same run it measures a ``GET /healthz`` baseline, and at the end it checks that

* no answer was a 5xx (or a transport error),
* every acknowledged feedback write of every surviving user is in the user's export, no
  deleted user can be exported, and after shutdown no deleted user's id is in the database bytes,
* the server's memory stayed flat: resident set size (RSS) at the start and at the end, and
  their ratio.

It prints throughput and latency per request kind, the ratios to the baseline and the RSS ratio,
and exits 1 when a check fails. The default duration is short; ``--ten-minutes`` is the soak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api_load import QUERIES, Phase, _env, prepare, run_phase, start_server, wait_ready
from tests.api_support import free_port, stop_server

VIDEOS = ("ocean", "creativity", "mars", "pasta", "bread", "climate")
KINDS = ("feedback", "recommend", "search", "delete")
WEIGHTS = (0.4, 0.3, 0.25, 0.05)


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Soak:
    phases: dict[str, Phase] = field(default_factory=dict)
    acknowledged: Counter[str] = field(default_factory=Counter)  # surviving user -> likes
    deleted: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    rss_mib: list[tuple[int, float]] = field(default_factory=list)  # (second, server RSS)

    def phase(self, kind: str) -> Phase:
        return self.phases.setdefault(kind, Phase(kind))


async def _client(no: int, http: httpx.AsyncClient, soak: Soak, deadline: float) -> None:
    rng = random.Random(1000 + no)
    generation = 0
    user = f"soak{no:03d}u{generation:05d}"  # fixed width: no id inside another
    while time.perf_counter() < deadline:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "feedback":
            like = {"user_id": user, "video_id": rng.choice(VIDEOS), "kind": "like"}
            request: tuple[str, str, dict[str, Any] | None] = ("POST", "/v1/feedback", like)
        elif kind == "recommend":
            request = ("POST", "/v1/recommend", {"user_id": user, "query": rng.choice(QUERIES)})
        elif kind == "search":
            request = ("POST", "/v1/search", {"query": rng.choice(QUERIES), "k": 5})
        else:
            request = ("DELETE", f"/v1/users/{user}", None)
        method, path, body = request
        t = time.perf_counter()
        try:
            r = await http.request(method, path, json=body)
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        phase = soak.phase(kind)
        phase.statuses[status] += 1
        if status.startswith("2"):
            phase.latencies.append(time.perf_counter() - t)
        if kind == "feedback" and status == "200":
            soak.acknowledged[user] += 1
        if kind == "delete" and status == "204":
            soak.acknowledged.pop(user, None)
            soak.deleted.add(user)
            generation += 1
            user = f"soak{no:03d}u{generation:05d}"  # fixed width: no id inside another


async def _sample_rss(pid: int, soak: Soak, deadline: float, every: float = 30.0) -> None:
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        soak.rss_mib.append((round(time.perf_counter() - start), rss_kb(pid) / 1024))
        await asyncio.sleep(min(every, max(0.0, deadline - time.perf_counter())))


async def _mixed(
    base: str, key: str, clients: int, seconds: float, timeout: float, pid: int
) -> Soak:
    soak = Soak()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=timeout, headers=headers
    ) as http:
        start = time.perf_counter()
        await asyncio.gather(
            _sample_rss(pid, soak, deadline),
            *(_client(i, http, soak, deadline) for i in range(clients)),
        )
        elapsed = time.perf_counter() - start
    for phase in soak.phases.values():
        phase.seconds = elapsed
    return soak


def _verify(base: str, key: str, soak: Soak) -> None:
    """Every acknowledged like is in the export; deleted users are gone."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for user, likes in soak.acknowledged.items():
            r = http.get(f"/v1/users/{user}")
            if r.status_code != 200:
                soak.failures.append(f"export of {user}: {r.status_code}")
                continue
            stored = sum(1 for e in r.json().get("events", []) if e.get("kind") == "like")
            if stored != likes:
                soak.failures.append(f"{user}: {likes} likes acknowledged, {stored} stored")
        for user in sorted(soak.deleted):
            r = http.get(f"/v1/users/{user}")
            if r.status_code != 404 and r.json().get("events"):
                soak.failures.append(f"deleted user {user} still has events")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ten-minutes", action="store_true", help="the soak: 600 s")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    seconds = 600.0 if args.ten_minutes else args.seconds
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from agent.settings import Settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="vidrec-soak-") as tmp:
        env = _env(Path(tmp) / "data", "fake", Settings().models_dir, None)
        key, _ = prepare(env, "fake", 1)
        proc = start_server(env, "fake", port)
        try:
            wait_ready(base, proc, timeout=600)
            health = asyncio.run(
                run_phase(
                    "GET /healthz", base, key, "health", args.clients, args.baseline_seconds,
                    10**9, args.timeout,
                )
            )  # fmt: skip
            rss_start = rss_kb(proc.pid)
            soak = asyncio.run(_mixed(base, key, args.clients, seconds, args.timeout, proc.pid))
            rss_end = rss_kb(proc.pid)
            _verify(base, key, soak)
        finally:
            stop_server(proc, timeout=30)
        # after a clean shutdown: no deleted user's id left in the database bytes
        db = Path(tmp) / "data" / "vidrec.db"
        raw = b"".join(p.read_bytes() for p in (db, db.with_name("vidrec.db-wal")) if p.exists())
        lingering = [u for u in sorted(soak.deleted) if u.encode() in raw]
        soak.failures += [f"deleted user {u} still in the database bytes" for u in lingering]

    server_errors = {
        f"{kind} {status}": n
        for kind, phase in soak.phases.items()
        for status, n in phase.statuses.items()
        if not status[:1].isdigit() or status.startswith("5")
    }
    total_ok = sum(p.ok for p in soak.phases.values())
    mixed_rps = total_ok / max(1e-9, next(iter(soak.phases.values())).seconds)
    print(f"\nsoak: {args.clients} clients, {seconds:.0f} s, fake models")
    print(f"{'phase':20} {'ok':>7} {'other':>7} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9}")
    for phase in [health, *soak.phases.values()]:
        s = phase.summary()
        print(
            f"{phase.name:20} {s['ok']:>7} {s['errors']:>7} "
            f"{s['throughput_rps']:>9.1f} {s['p50_ms']:>9.1f} "
            f"{s['p95_ms']:>9.1f}"
        )
    ratio = mixed_rps / health.throughput if health.throughput else float("nan")
    print(f"ratio mixed_rps / healthz_rps        {ratio:.3f}")
    print(f"server RSS start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB, ratio "
          f"{rss_end / rss_start if rss_start else float('nan'):.3f}")  # fmt: skip
    print("server RSS over time (s: MiB): "
          + ", ".join(f"{t}: {m:.0f}" for t, m in soak.rss_mib))  # fmt: skip
    print(f"users: {len(soak.acknowledged)} surviving, {len(soak.deleted)} deleted; "
          f"{sum(soak.acknowledged.values())} acknowledged likes checked")  # fmt: skip
    for status in server_errors:
        print(f"SERVER ERROR {status}: {server_errors[status]}")
    for failure in soak.failures:
        print(f"LOST {failure}")
    result: dict[str, Any] = {
        "clients": args.clients,
        "seconds": seconds,
        "phases": [p.summary() for p in [health, *soak.phases.values()]],
        "mixed_over_healthz": ratio,
        "rss_start_kb": rss_start,
        "rss_end_kb": rss_end,
        "rss_mib_over_time": soak.rss_mib,
        "server_errors": server_errors,
        "lost": soak.failures,
    }
    print(json.dumps(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    return 1 if server_errors or soak.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

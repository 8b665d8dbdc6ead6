"""Scale curves: search latency, BM25 rebuild/reload, memory and disk against index size.

The indexes: real TED chunks replicated with perturbed vectors (``benchmarks.scale_index`` says
how). Per size it reports p50/p95 of every search stage alone and of the whole searches now and
before the speed work, in the same run (``benchmarks.scale_search`` says what "before" is): the
raw Chroma query (precomputed vector, ``n_results`` = the search's chunk candidates), the
library's dense search from the same vector, BM25, hybrid ``Library.search`` (cold: the query is
embedded; and with its vector cached), dense and hybrid with filters; the BM25 rebuild time and the
time to load a build another process saved (what a worker pays when the catalogue version moves);
process RSS and the BM25 score matrix's size; disk per chunk. With ``--server`` the same
collection is copied to a ``chroma run`` server and the searches are timed again through
``HttpClient``.

Usage: ``python -m benchmarks.scale [--sizes 10000,100000] [--server] [--out docs/scale]``
(writes ``scale.json``, ``scale.md`` and ``scale.png`` under ``--out``). ``--build-only`` builds
the indexes under ``--work`` and times nothing; ``--reuse`` times the indexes a previous run built
there and resumes one a killed run left unfinished (a 1M-chunk index takes an hour or more to
build on a shared CPU; ``benchmarks.scale_index.build_index`` says how a resume is exact).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scale_index import QUERIES, Base, build_index, library_settings, load_base
from benchmarks.scale_search import measure_search

GOALS_MS = {100_000: 50.0, 1_000_000: 150.0}  # hybrid p95 goals of the issue
RATIOS = [  # (a, b): a's time over b's, each row of the report
    ("dense", "raw chroma"),
    ("dense", "raw chroma, ids and distances only"),
    ("dense", "dense (before)"),
    ("hybrid", "hybrid (before)"),
    ("hybrid", "hybrid best chunk (before)"),
    ("hybrid, query vector cached", "hybrid (before)"),
    ("hybrid+filters", "hybrid+filters (before)"),
    ("dense+filters", "dense+filters (before)"),
    ("stage: bm25 chunks", "stage: bm25 chunks (before)"),
    ("stage: bm25 videos", "stage: bm25 videos (before)"),
    ("stage: bm25 chunks+filters", "stage: bm25 chunks+filters (before)"),
]


@dataclass
class SizeResult:
    chunks: int
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    bm25_rebuild_s: float = 0.0
    bm25_load_s: float = 0.0
    bm25_rss_mb: float = 0.0
    rss_mb: float = 0.0
    build_s: float = 0.0
    disk_bytes_per_chunk: dict[str, float] = field(default_factory=dict)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure_bm25(library: Any, work: Path) -> tuple[float, float, float]:
    """(rebuild s, load s, MB of the loaded score matrix) on fresh ``LexicalIndex`` objects."""
    from retrieval.lexical import LexicalIndex

    folder = work / "bm25-bench"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    LexicalIndex(library.catalogue, folder).ensure_fresh()
    rebuild = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = LexicalIndex(library.catalogue, folder)
    loaded.ensure_fresh()
    load = time.perf_counter() - t0
    assert loaded.loads == 1 and loaded.rebuilds == 0
    scores = getattr(loaded._retriever, "scores", {}) or {}
    arrays = sum(int(getattr(v, "nbytes", 0)) for v in scores.values())
    return rebuild, load, (arrays + loaded._video_ids.nbytes) / 2**20


@contextmanager
def chroma_run(path: Path) -> Iterator[str]:
    """``chroma run`` on ``path`` (a copy of the embedded collection), for ``--server``."""
    import socket

    import chromadb

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    log = (path.parent / "chroma-server.log").open("wb")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def run_size(base: Base, n: int, args: argparse.Namespace, work: Path) -> SizeResult:
    from retrieval.library import Library

    result = SizeResult(chunks=n)
    data_dir = work / f"n{n}"
    built = data_dir / "built.json"
    if args.reuse and built.is_file():  # an index a previous run (e.g. --build-only) finished
        library = Library(library_settings(data_dir))
        result.build_s = float(json.loads(built.read_text())["build_s"])
    else:
        library, result.build_s = build_or_resume(base, n, data_dir, args)
    result.chunks = library.store.count()
    if args.build_only:
        print(f"built {result.chunks} chunks in {result.build_s:.0f} s at {data_dir}", flush=True)
        library.close()
        return result
    vectors = library.embedder.encode_queries(QUERIES)
    legacy = n <= args.before_max
    result.latency_ms = measure_search(library, vectors, args.repeat, legacy=legacy)
    result.bm25_rebuild_s, result.bm25_load_s, result.bm25_rss_mb = measure_bm25(library, work)
    result.rss_mb = _rss_mb()
    sql_file = Path(library.catalogue.engine.url.database or "")
    disk = {"chroma": _du(library.config.chroma_dir), "sqlite": _du(sql_file)}
    disk["bm25"] = _du(data_dir / "bm25")
    result.disk_bytes_per_chunk = {k: v / result.chunks for k, v in disk.items()}
    library.close()
    if args.server:
        copy = work / f"n{n}-server"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(library.config.chroma_dir, copy)
        with chroma_run(copy) as url:
            remote = Library(library_settings(data_dir, url))
            server = measure_search(remote, vectors, args.repeat, "server ", legacy)
            result.latency_ms.update(server)
            remote.close()
        shutil.rmtree(copy, ignore_errors=True)
    return result


def build_or_resume(
    base: Base, n: int, data_dir: Path, args: argparse.Namespace
) -> tuple[Any, float]:
    """Build the index of ``n`` chunks in ``data_dir``; with ``--reuse`` an unfinished build
    there (a killed process) is resumed where it stopped. Returns the library and the build
    seconds over every run that worked on it (``progress.json`` keeps the earlier runs')."""
    from retrieval.library import Library

    progress = data_dir / "progress.json"
    if not args.reuse:
        shutil.rmtree(data_dir, ignore_errors=True)
    earlier = (
        json.loads(progress.read_text()) if progress.is_file() else {"build_s": 0.0, "runs": 0}
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    library = Library(library_settings(data_dir))
    runs = earlier["runs"] + 1

    def save_progress() -> None:  # after every flush: a killed run's time counts too
        took = earlier["build_s"] + time.perf_counter() - t0
        progress.write_text(json.dumps({"build_s": took, "runs": runs}))

    fresh = build_index(base, n, library, args.sigma, args.seed, on_flush=save_progress)
    library.lexical.ensure_fresh()  # both BM25 indexes built and saved with the index
    library.video_lexical.ensure_fresh()
    took = earlier["build_s"] + time.perf_counter() - t0
    print(f"n={n}: {fresh} replicas written by this run (the rest were there)", flush=True)
    (data_dir / "built.json").write_text(
        json.dumps({"build_s": took, "sigma": args.sigma, "runs": runs})
    )
    return library, took


def report(results: list[SizeResult], args: argparse.Namespace) -> str:
    stages = list(dict.fromkeys(s for r in results for s in r.latency_ms))
    lines = [
        "# Scale curves (benchmarks/scale.py)",
        "",
        f"`python -m benchmarks.scale --sizes {args.sizes} --talks {args.talks} "
        f"--repeat {args.repeat}{' --server' if args.server else ''}`: {len(QUERIES)} queries x "
        f"{args.repeat}; base of {args.talks} TED talks replicated with noise sigma={args.sigma}. "
        "Machine: shared 2 CPU cores (other jobs were running), so compare ratios within a run.",
        "",
        "Each cell: wall-clock p50 / p95 ms, then (CPU time p50 / p95 ms of this process: close to"
        " what a free core takes; the wall clock includes waiting for one).",
        "",
        "| stage | " + " | ".join(f"{r.chunks:,} chunks" for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for stage in stages:
        cells = [
            "{p50:.1f} / {p95:.1f} ({c50:.1f} / {c95:.1f})".format(
                p50=r.latency_ms[stage]["p50"],
                p95=r.latency_ms[stage]["p95"],
                c50=r.latency_ms[stage].get("cpu p50", float("nan")),
                c95=r.latency_ms[stage].get("cpu p95", float("nan")),
            )
            if stage in r.latency_ms
            else "-"
            for r in results
        ]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines += ["", "| per size | " + " | ".join(f"{r.chunks:,}" for r in results) + " |"]
    lines.append("|---|" + "---|" * len(results))
    rows: list[tuple[str, Callable[[SizeResult], str]]] = [
        (f"{a} / {b} {q}", _ratios(a, b, q))
        for a, b in RATIOS
        if a in stages and b in stages
        for q in ("p50", "p95", "cpu p50", "cpu p95")
    ]
    rows += [
        ("hybrid p95 goal (cold: query embedded)", lambda r: _goal(r, "hybrid", "p95")),
        (
            "hybrid p95 goal (query vector cached)",
            lambda r: _goal(r, "hybrid, query vector cached", "p95"),
        ),
        ("hybrid CPU p95 against the goal (cold)", lambda r: _goal(r, "hybrid", "cpu p95")),
        (
            "hybrid CPU p95 against the goal (cached)",
            lambda r: _goal(r, "hybrid, query vector cached", "cpu p95"),
        ),
        ("BM25 rebuild s", lambda r: f"{r.bm25_rebuild_s:.2f}"),
        ("BM25 load (reload) s", lambda r: f"{r.bm25_load_s:.2f}"),
        ("BM25 score matrix MB", lambda r: f"{r.bm25_rss_mb:.1f}"),
        ("process RSS MB", lambda r: f"{r.rss_mb:.0f}"),
        ("build s", lambda r: f"{r.build_s:.0f}"),
    ]
    rows += [(f"disk B/chunk {k}", _disk(k)) for k in results[0].disk_bytes_per_chunk]
    lines += [f"| {name} | " + " | ".join(fn(r) for r in results) + " |" for name, fn in rows]
    return "\n".join(lines) + "\n"


def _disk(part: str) -> Callable[[SizeResult], str]:
    return lambda r: f"{r.disk_bytes_per_chunk[part]:.0f}"


def _ratios(a: str, b: str, q: str) -> Callable[[SizeResult], str]:
    def cell(r: SizeResult) -> str:
        if a not in r.latency_ms or b not in r.latency_ms:
            return "-"
        return f"{r.latency_ms[a][q] / r.latency_ms[b][q]:.2f}x"

    return cell


def _goal(r: SizeResult, stage: str, q: str) -> str:
    # an index of "100k" holds whole replicated videos, so a few chunks more than asked
    goal = next((ms for n, ms in GOALS_MS.items() if abs(r.chunks - n) <= 0.05 * n), None)
    got = r.latency_ms[stage][q]
    return f"{got:.0f} ms (goal {goal:.0f}: {'met' if got <= goal else 'missed'})" if goal else "-"


def plot(results: list[SizeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    colours = plt.get_cmap("tab20")
    stages = [  # the whole searches (and the query embedding, the stage that dominated)
        s
        for s in dict.fromkeys(s for r in results for s in r.latency_ms)
        if not s.startswith("stage: ") or s == "stage: query embedding"
    ]
    embedded = [s for s in stages if not s.startswith("server ")]
    for stage in stages:
        local = stage.removeprefix("server ")
        points = [(r.chunks, r.latency_ms[stage]["p95"]) for r in results if stage in r.latency_ms]
        ax.plot(
            [x for x, _ in points],
            [y for _, y in points],
            marker="o",
            linestyle="--" if stage.startswith("server ") else ":" if "before" in stage else "-",
            color=colours(embedded.index(local) % 20 if local in embedded else 0),
            label=stage,
        )
    ax.plot(list(GOALS_MS), list(GOALS_MS.values()), "r*", markersize=12, label="hybrid p95 goal")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_title("vidrec search latency against index size (p95)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--talks", type=int, default=100, help="real TED talks in the base set")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sigma", type=float, default=0.35)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", action="store_true", help="also time a `chroma run` copy")
    parser.add_argument(
        "--before-max",
        type=int,
        default=100_000,
        help="time the searches before the speed work only up to this many chunks",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="time an index an earlier run built in --work"
    )
    parser.add_argument("--build-only", action="store_true", help="build the indexes, time nothing")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vidrec-scale")
    parser.add_argument("--out", type=Path, default=Path("docs/scale"))
    parser.add_argument(
        "--from-json", type=Path, help="only re-render scale.md and scale.png from a scale.json"
    )
    args = parser.parse_args()
    if args.from_json:
        saved = [SizeResult(**row) for row in json.loads(args.from_json.read_text())]
        write_outputs(saved, args)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    base = load_base(args.talks, args.work)
    n_base = sum(len(c) for c in base.chunks.values())
    print(f"base: {len(base.videos)} videos, {n_base} chunks", flush=True)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        results.append(run_size(base, n, args, args.work))
        if not args.build_only:  # written after every size: a later size failing loses nothing
            print(report(results, args), flush=True)
            write_outputs(results, args)


def write_outputs(results: list[SizeResult], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=2, default=str)
    )
    (args.out / "scale.md").write_text(report(results, args))
    plot(results, args.out / "scale.png")
    print(f"wrote {args.out}/scale.md, scale.json, scale.png")


if __name__ == "__main__":
    main()

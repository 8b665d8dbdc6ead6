"""What a worker pays when another process writes a new catalogue or collaborative-model version.

Each API worker keeps its own BM25 indexes and collaborative model in memory and reloads them when
another process moved the version (docs/scaling.md, "Reloading without a restart"). This measures
that, with a real second process doing the writes:

- **BM25.** A copy of the SQLite catalogue and the saved BM25 builds of a ``benchmarks.scale``
  index (``--index``, default the 100k-chunk one) is opened by this process, the worker: a chunk
  index and a whole-video index, loaded. Per round a writer process (this module with
  ``--write-bm25``) commits one more video (a copy of a catalogued one under a new id, as ingest
  commits it) and then brings both indexes up to date, which rebuilds and saves them (what
  ``Library.ingest`` does after an ingest). The worker's first search of each index afterwards
  notices the new version and loads the writer's build; timed against the same searches with
  nothing changed, and against the writer's rebuild (what a worker would pay if no build were
  saved).
- **Collaborative model.** A model is fitted on MovieLens ratings (``--movielens``, each user
  copied ``--copies`` times under new ids for a larger model) and saved; the worker's
  ``agent.collab.service.Collaborative`` loads it. Per round a writer process (``--write-collab``)
  saves the newest version again as the next version (the write ``vidrec train`` ends with); the
  worker's next ``model`` access loads it. Timed against an access with nothing changed, and
  against a server's service (``background``), whose access goes on with the loaded version while
  a thread loads the new one (then: how long until the new one is in use).

Wall-clock and CPU times of this process. The machine may be shared: compare within one run.

    python -m benchmarks.reload [--index /tmp/vidrec-scale/n100000] [--rounds 3] [--copies 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.scale_index import QUERIES, pct


def clock(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    wall, cpu = [s[0] for s in samples], [s[1] for s in samples]
    return {
        "n": len(samples),
        "p50": pct(wall, 0.5),
        "p95": pct(wall, 0.95),
        "cpu p50": pct(cpu, 0.5),
        "cpu p95": pct(cpu, 0.95),
    }


def _indexes(data: Path) -> tuple[Any, Any, Any]:
    from agent.settings import Settings
    from retrieval.catalogue import Catalogue
    from retrieval.lexical import LexicalIndex, video_index

    catalogue = Catalogue(f"sqlite:///{data / 'vidrec.db'}")
    chunks = LexicalIndex(catalogue, data / "bm25")
    videos = video_index(catalogue, data / "bm25-videos", Settings().search)  # as the product
    return catalogue, chunks, videos


def write_bm25(data: Path, round_no: int) -> dict[str, float]:
    """The writer: one more video committed, then both BM25 indexes rebuilt and saved."""
    catalogue, chunks, videos = _indexes(data)
    source = catalogue.videos()[0]
    vid = f"{source.id}~reload{round_no}"
    rows = [replace(c, id=f"{vid}:{c.index}", video_id=vid) for c in catalogue.chunks(source.id)]
    t0 = time.perf_counter()
    catalogue.commit_video(replace(source, id=vid), rows, vid)
    commit = time.perf_counter() - t0
    t0 = time.perf_counter()
    chunks.ensure_fresh()
    rebuild_chunks = time.perf_counter() - t0
    t0 = time.perf_counter()
    videos.ensure_fresh()
    rebuild_videos = time.perf_counter() - t0
    assert chunks.rebuilds == 1 and videos.rebuilds == 1
    return {
        "commit_ms": commit * 1000,
        "rebuild_chunks_s": rebuild_chunks,
        "rebuild_videos_s": rebuild_videos,
        "version": catalogue.version(),
    }


def bm25(index: Path, rounds: int, work: Path) -> dict[str, Any]:
    from agent.settings import Settings

    data = work / "bm25-copy"
    data.mkdir(parents=True)
    shutil.copy2(index / "vidrec.db", data / "vidrec.db")
    for name in ("bm25", "bm25-videos"):  # only the newest build: the one this catalogue is at
        builds = sorted((index / name).glob("v*"))
        if builds:
            shutil.copytree(builds[-1], data / name / builds[-1].name)
    catalogue, chunks, videos = _indexes(data)
    version = catalogue.version()
    start = [clock(chunks.ensure_fresh), clock(videos.ensure_fresh)]
    assert chunks.loads == 1 and videos.loads == 1, "the scale index has no saved BM25 builds"
    n_chunks = len(chunks._chunk_ids)
    search_settings = Settings().search  # as many candidates as the searcher asks for
    n, nv = search_settings.chunk_candidates, search_settings.video_candidates

    def search(q: str) -> Callable[[], Any]:
        return lambda: (chunks.search(q, n), videos.search(q, nv))

    steady = [clock(search(q)) for q in QUERIES for _ in range(2)]
    unchanged = [clock(lambda: (chunks.ensure_fresh(), videos.ensure_fresh())) for _ in range(200)]
    first, writer = [], []
    for r in range(rounds):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.reload",
                "--write-bm25",
                str(data),
                "--round",
                str(r),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        writer.append(json.loads(out.stdout.strip().splitlines()[-1]))
        loads = chunks.loads + videos.loads
        first.append(clock(search(QUERIES[r % len(QUERIES)])))
        assert chunks.loads + videos.loads == loads + 2, "the worker did not load the new build"
        assert chunks.rebuilds == 0 and videos.rebuilds == 0, "the worker rebuilt"
    catalogue.close()
    return {
        "chunks": n_chunks,
        "catalogue version at start": version,
        "cold start load ms": {"chunks": start[0][0], "videos": start[1][0]},
        "search, nothing changed": summary(steady),
        "version check, nothing changed": summary(unchanged),
        "first search after another process's write (loads its build)": summary(first),
        "writer: rebuild chunks s": sum(w["rebuild_chunks_s"] for w in writer) / len(writer),
        "writer: rebuild videos s": sum(w["rebuild_videos_s"] for w in writer) / len(writer),
    }


def _collab(data: Path, background: bool = False) -> Any:
    from agent.collab.service import Collaborative
    from agent.settings import Settings

    return Collaborative(data, Settings().agent.collab, background=background)


def write_collab(data: Path) -> dict[str, float]:
    """The writer: the newest model saved again as the next version, as `vidrec train` saves."""
    from agent.collab.store import ModelStore, load_model, model_root

    store = ModelStore(model_root(data))
    latest = store.latest()
    assert latest is not None
    model = load_model(latest)
    t0 = time.perf_counter()
    saved = store.save(model)
    return {"save_s": time.perf_counter() - t0, "version": int(saved.name[1:])}


def collab(movielens: Path, copies: int, rounds: int, work: Path) -> dict[str, Any]:
    from agent.collab.model import CollabModel
    from agent.collab.store import ModelStore, model_root
    from agent.interactions import read_movielens_ratings
    from agent.settings import Settings

    data = work / "collab-data"
    events, _ = read_movielens_ratings(movielens)
    events = [replace(e, user_id=f"{e.user_id}~{k}") for k in range(copies) for e in events]
    t0 = time.perf_counter()
    model = CollabModel.fit_events(events, Settings().agent.collab)
    fit_s = time.perf_counter() - t0
    folder = ModelStore(model_root(data)).save(model)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    service, beside = _collab(data), _collab(data, background=True)  # beside: a server's
    start = clock(lambda: (service.model, beside.model))
    unchanged = [clock(lambda: service.model) for _ in range(200)]
    first, first_beside, swapped = [], [], []
    for _ in range(rounds):
        before, before_beside = service.model, beside.model
        subprocess.run(
            [sys.executable, "-m", "benchmarks.reload", "--write-collab", str(data)],
            check=True,
            capture_output=True,
        )
        first.append(clock(lambda: service.model))
        assert service.model is not before, "the worker did not load the new version"
        began = time.perf_counter()
        first_beside.append(clock(lambda: beside.model))
        while beside.model is before_beside:  # loading in its thread
            assert time.perf_counter() - began < 60, "the new version never came into use"
            time.sleep(0.001)
        swapped.append((time.perf_counter() - began) * 1000)
    return {
        "users": model.meta.n_users,
        "videos": model.meta.n_items,
        "events": model.meta.n_events,
        "fit s (the trainer's cost)": fit_s,
        "version on disk MB": size / 2**20,
        "cold start load ms": start[0],
        "model access, nothing changed": summary(unchanged),
        "first access after another process's save (loads it)": summary(first),
        "the same, loading in the background (a server's)": summary(first_beside),
        "background: ms until the new version is in use": pct(swapped, 0.5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index", type=Path, default=Path(tempfile.gettempdir()) / "vidrec-scale/n100000"
    )
    parser.add_argument(
        "--movielens", type=Path, help="default: <shared_dir>/movielens/ml-latest-small"
    )
    parser.add_argument("--copies", type=int, default=1, help="copies of each MovieLens user")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--write-bm25", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-collab", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_bm25:  # the writer process of a BM25 round
        print(json.dumps(write_bm25(args.write_bm25, args.round)))
        return
    if args.write_collab:
        print(json.dumps(write_collab(args.write_collab)))
        return
    from agent.settings import Settings

    movielens = args.movielens or Settings().data.shared_dir / "movielens" / "ml-latest-small"
    with tempfile.TemporaryDirectory(prefix="vidrec-reload-") as tmp:
        results = {
            "bm25": bm25(args.index, args.rounds, Path(tmp)),
            "collab": collab(movielens, args.copies, args.rounds, Path(tmp)),
        }
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

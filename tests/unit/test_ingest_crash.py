"""kill -9 at random moments of a real ``vidrec ingest`` (fake models, real SQLite, Chroma and
BM25), 20 times: after every kill what is served is consistent, and the next run completes with
every video present and the stores in exact agreement. Slow: run with ``-m slow``."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.library import Library
from tests.api_support import FAKE_CLI, fake_cli_env
from tests.consistency import store_problems
from tests.fakes.asr import write_tone

pytestmark = pytest.mark.slow

KILLS = 20
VIDEOS = 60


def _inputs(root: Path, round_: int) -> tuple[Path, Path]:
    """Every round changes every transcript, so every run has all of them to rewrite."""
    folder = root / "in"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(VIDEOS):
        (folder / f"t{i}.md").write_text(
            f"Talk number {i} of round{round_} is about topic{i}. "
            + "It goes on for a while. " * (10 + i % 30)
        )
        rows.append({"id": f"talk{i}", "title": f"Talk {i}", "transcript_path": f"t{i}.md"})
    manifest = folder / "library.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    media = root / "media"
    for name in ("river_sounds", "city_noise", "forest_walk"):
        write_tone(media / f"{name}.wav", 2.0 + round_ / 10)
    return manifest, media


def _start(data: Path, models: Path, manifest: Path, media: Path) -> subprocess.Popen[bytes]:
    env = {**fake_cli_env(data, models), "VIDREC_INGEST__EMBED_FLUSH_CHUNKS": "3"}
    return subprocess.Popen(
        [sys.executable, "-c", FAKE_CLI, "ingest", "--manifest", str(manifest), str(media)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _library(data: Path, models: Path) -> Library:
    settings = Settings(
        data_dir=data, models_cache=models, asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    return Library(settings)


def _timed_run(data: Path, models: Path, manifest: Path, media: Path) -> tuple[float, float]:
    """Seconds until the ingest took its lock (start-up done), and until it finished."""
    began = time.monotonic()
    child = _start(data, models, manifest, media)
    started = None
    while child.poll() is None:
        if started is None and (data / "ingest.lock").exists():
            started = time.monotonic() - began
        time.sleep(0.01)
    assert child.returncode == 0
    return started or 0.0, time.monotonic() - began


def test_random_kills_leave_consistent_stores(tmp_path: Path, models_cache: Path) -> None:
    manifest, media = _inputs(tmp_path, 0)
    startup, full_run = _timed_run(tmp_path / "baseline", models_cache, manifest, media)
    total = VIDEOS + 3

    data = tmp_path / "data"
    rng = random.Random(15)
    mid_write = 0
    for round_ in range(1, KILLS + 1):
        manifest, media = _inputs(tmp_path, round_)
        child = _start(data, models_cache, manifest, media)
        time.sleep(rng.uniform(startup, full_run))
        child.send_signal(signal.SIGKILL)
        child.wait()
        lib = _library(data, models_cache)
        try:
            assert store_problems(lib, strict=False) == []
            _, rows = lib.catalogue.all_chunks()
            new = {vid for _, vid, text in rows if f"round{round_} " in text}
            pending = any(s.status != "done" for s in lib.catalogue.sources().values())
            mid_write += int(pending or 0 < len(new) < VIDEOS)
        finally:
            lib.close()
    assert mid_write >= 5, f"only {mid_write} of {KILLS} kills landed during the writes"

    final = _start(data, models_cache, manifest, media)
    assert final.wait(timeout=600) == 0
    lib = _library(data, models_cache)
    try:
        assert store_problems(lib) == []
        assert len(lib.videos()) == total
    finally:
        lib.close()

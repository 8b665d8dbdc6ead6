"""``vidrec ingest --ray`` on a local Ray cluster, with real Whisper and the real embedder (``-m slow``).

The cluster is ``ray start --head`` plus one worker node on 127.0.0.1 (one CPU each, stopped at the
end). The clips are espeak-ng speech on six distinct topics. Shown: every clip is searchable after
the Ray ingest; a second run changes nothing; a driver killed with ``kill -9`` part-way leaves a
library the next run completes, with every chunk once in SQL, Chroma and BM25.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.library import Library
from tests import services

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

CLIPS = {
    "volcano": "Volcanoes erupt when molten rock called magma rises to the surface.",
    "honeybees": "Honeybees dance to tell the other bees in the hive where the flowers are.",
    "chess": "The grandmaster sacrificed her queen to win the chess game in twelve moves.",
    "sourdough": "To bake sourdough bread you need flour, water, salt and a lively starter.",
    "glaciers": "Glaciers carve deep valleys as the ice slowly flows down the mountains.",
    "violin": "A violin has four strings and is played with a bow made of horse hair.",
}
QUERIES = {
    "volcano": "magma eruption",
    "honeybees": "bees in the hive",
    "chess": "chess game queen",
    "sourdough": "baking bread with flour",
    "glaciers": "ice flowing down mountains",
    "violin": "string instrument played with a bow",
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("clips")
    for name, text in CLIPS.items():
        subprocess.run(["espeak-ng", "-w", str(folder / f"{name}.wav"), text], check=True)
    return folder


def _env(data_dir: Path, models_cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VIDREC_DATA_DIR": str(data_dir),
        "VIDREC_MODELS_CACHE": str(models_cache),
        "VIDREC_ASR__THREADS": "1",
        "VIDREC_EMBEDDING__THREADS": "1",
        # two actors and the decode tasks share the two one-CPU nodes
        "VIDREC_INGEST__RAY__ACTOR_CPUS": "0.5",
        "VIDREC_INGEST__RAY__DECODE_CPUS": "0.25",
        "VIDREC_INGEST__RAY__EMBED_BATCH_VIDEOS": "1",  # one write per video as it arrives
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ray")
    with services.ray_cluster(_env(root / "unused", models_cache), root) as address:
        yield address


def _ingest(env: dict[str, str], address: str, *inputs: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ui.cli", "ingest", *map(str, inputs), "--ray", address]
    return subprocess.Popen(
        ["nice", "-n", "10", *command],
        cwd=REPO,
        env={**env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finished(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out
    return out


def _settings(data_dir: Path, models_cache: Path) -> Settings:
    return Settings(data_dir=data_dir, models_cache=models_cache)


def _assert_consistent(lib: Library) -> None:
    """Every chunk once, the same ids in SQL, Chroma and BM25, nothing left pending."""
    sql_ids = sorted(c.id for v in lib.videos() for c in lib.chunks(v.id))
    chroma_ids = lib.store.chunk_ids()
    assert len(chroma_ids) == len(set(chroma_ids)) == lib.store.count()
    assert chroma_ids == sql_ids
    lib.lexical.ensure_fresh()
    assert sorted(lib.lexical._chunk_ids) == sql_ids
    assert {s.status for s in lib.catalogue.sources().values()} == {"done"}


def test_ray_ingest_is_searchable_and_idempotent(
    cluster: str, clips: Path, tmp_path: Path, models_cache: Path
) -> None:
    data = tmp_path / "data"
    env = _env(data, models_cache)
    out = _finished(_ingest(env, cluster, clips))
    assert "ingested 6, unchanged 0, failed 0" in out, out

    lib = Library(_settings(data, models_cache))
    assert sorted(v.id for v in lib.videos()) == sorted(CLIPS)
    assert {v.transcript_source for v in lib.videos()} == {"asr"}
    for name, query in QUERIES.items():
        top = lib.search(query, k=1)
        assert top and top[0].video.id == name, (query, [h.video.id for h in top])
    _assert_consistent(lib)

    again = _finished(_ingest(env, cluster, clips))
    assert "ingested 0, unchanged 6, failed 0" in again, again


def _done(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT count(*) FROM sources WHERE status = 'done'").fetchone()
    except sqlite3.Error:
        return 0  # not created yet
    return int(row[0])


def test_a_killed_ray_ingest_resumes(
    cluster: str, clips: Path, tmp_path: Path, models_cache: Path
) -> None:
    data = tmp_path / "data"
    env = _env(data, models_cache)
    proc = _ingest(env, cluster, clips)
    deadline = time.monotonic() + 900
    while _done(data / "vidrec.db") < 2:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # the driver: the lock, the writes, its Ray job
    proc.communicate()
    written = _done(data / "vidrec.db")
    assert 2 <= written < len(CLIPS), "the run finished before it was killed"

    out = _finished(_ingest(env, cluster, clips))
    assert f"ingested {len(CLIPS) - written}, unchanged {written}, failed 0" in out, out
    lib = Library(_settings(data, models_cache))
    assert sorted(v.id for v in lib.videos()) == sorted(CLIPS)
    _assert_consistent(lib)
    for name, query in QUERIES.items():
        top = lib.search(query, k=1)
        assert top and top[0].video.id == name, (query, [h.video.id for h in top])

"""kill -9 in the middle of an ingest, then resume: every video present, no duplicates.

The ingest runs in a child process (real SQLite, real Chroma, fake embedder/transcriber). The
test controls the kill through the child's environment: ``KILL_AT=<hook>:<n>`` makes the child
SIGKILL itself on the n-th call of that write step, i.e. at the worst moments of the write order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.library import Library
from tests.fakes.asr import write_tone
from tests.fakes.index import TALK_ROWS, write_talks

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from tests.fakes import asr, index
    asr.register(); index.register()
    from agent.settings import Settings
    from retrieval.catalogue import Catalogue
    from retrieval.library import Library
    from retrieval.store.chroma import ChromaStore

    hook, _, nth = os.environ["KILL_AT"].partition(":")
    owner, name = {
        "pending": (Catalogue, "mark_pending_many"),
        "delete": (ChromaStore, "delete_videos"),
        "upsert": (ChromaStore, "upsert"),
        "commit": (Catalogue, "commit_videos"),
    }[hook]
    real = getattr(owner, name)
    calls = {"n": 0}

    def killer(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == int(nth):
            if hook == "commit":
                # the SQL write is about to happen: die with the vectors already stored
                os.kill(os.getpid(), signal.SIGKILL)
            real(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *args, **kwargs)

    setattr(owner, name, killer)
    settings = Settings(data_dir=Path(sys.argv[1]), asr={"backend": "fake"},
                        embedding={"backend": "fake"},
                        ingest={"embed_flush_chunks": 1})
    Library(settings).ingest([sys.argv[2]], manifest=sys.argv[3])
    print("finished without being killed")
    """
)


def _inputs(root: Path) -> tuple[Path, Path]:
    rows = [dict(r) for r in TALK_ROWS] + [
        {"id": f"movie{i}", "title": f"Movie {i}", "description": f"plot number {i}"}
        for i in range(4)
    ]
    manifest = write_talks(root / "in", rows)
    media = root / "media"
    for name in ("first_clip", "second_clip"):
        write_tone(media / f"{name}.wav", 1.0)
    return media, manifest


@pytest.mark.parametrize("kill_at", ["delete:2", "upsert:5", "commit:3"])
def test_kill_9_mid_ingest_then_resume(tmp_path: Path, kill_at: str) -> None:
    media, manifest = _inputs(tmp_path)
    data = tmp_path / "data"
    env = {**os.environ, "KILL_AT": kill_at, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), str(media), str(manifest)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    settings = Settings(
        data_dir=data,
        asr={"backend": "fake"},
        embedding={"backend": "fake"},
    )
    lib = Library(settings)
    report = lib.ingest([media], manifest)
    assert report.ok, report.failed
    expected = sorted(
        [str(r["id"]) for r in TALK_ROWS]
        + [f"movie{i}" for i in range(4)]
        + ["first_clip", "second_clip"]
    )
    assert sorted(v.id for v in lib.videos()) == expected
    assert sorted(report.ingested + report.unchanged) == expected
    assert report.ingested  # the interrupted video(s) were redone

    sql_ids = sorted(c.id for v in lib.videos() for c in lib.chunks(v.id))
    chroma_ids = lib.store.chunk_ids()
    assert len(chroma_ids) == len(set(chroma_ids)) == lib.store.count()
    assert chroma_ids == sql_ids  # no duplicates, nothing stale, nothing missing
    lib.lexical.ensure_fresh()
    assert sorted(lib.lexical._chunk_ids) == sql_ids
    assert {s.status for s in lib.catalogue.sources().values()} == {"done"}

    # and a third run has nothing left to do
    again = Library(settings).ingest([media], manifest)
    assert again.ingested == [] and sorted(again.unchanged) == expected

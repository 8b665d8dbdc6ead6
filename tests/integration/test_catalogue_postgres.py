"""The SQL catalogue on a real PostgreSQL server (a throwaway cluster on 127.0.0.1).

Skips with the reason when PostgreSQL's server binaries or the psycopg driver are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from retrieval.catalogue import Catalogue
from retrieval.types import Chunk, SearchFilters, Video

pytestmark = pytest.mark.integration


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip(
        "psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')"
    )
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix: list[str] = []
    # a folder of its own under /tmp: pytest's temp folders are private to root
    root = Path(tempfile.mkdtemp(prefix="vidrec-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and `runuser` is missing to start PostgreSQL")
        try:
            shutil.chown(root, user="postgres")
        except (LookupError, PermissionError) as exc:
            pytest.skip(f"cannot hand a data folder to the postgres user ({exc})")
        prefix = [runuser, "-u", "postgres", "--"]
    data = root / "cluster"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    opts = f"-p {port} -h 127.0.0.1 -k {root}"
    start = subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        pytest.skip(f"pg_ctl start failed: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )


def test_catalogue_round_trip_on_postgresql(pg_url: str) -> None:
    cat = Catalogue(pg_url)
    video = Video(
        "pg-1",
        "On Postgres",
        tags=("Databases", "sql"),
        duration=600.0,
        published=date(2020, 5, 17),
        language="en",
        extra={"k": "v"},
    )
    chunks = [Chunk(f"pg-1:{i}", "pg-1", i, i * 10.0, i * 10.0 + 5, f"text {i}") for i in range(3)]
    v0 = cat.version()
    cat.mark_pending("pg-1", "h1", "test")
    cat.commit_video(video, chunks, "h1")
    cat.commit_video(video, chunks[:2], "h2")  # shrinks: no stale chunk
    assert cat.get_video("pg-1") == video
    assert [c.id for c in cat.chunks("pg-1")] == ["pg-1:0", "pg-1:1"]
    assert cat.version() == v0 + 2
    assert cat.matching_video_ids(SearchFilters(tags_any=("databases",), max_duration=900)) == {
        "pg-1"
    }
    assert cat.matching_video_ids(SearchFilters(published_after=date(2021, 1, 1))) == set()
    assert cat.delete_video("pg-1") and cat.get_video("pg-1") is None
    # a second Catalogue on the same database sees the same state (create_all is idempotent)
    assert Catalogue(pg_url).version() == cat.version()
    cat.close()

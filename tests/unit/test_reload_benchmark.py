"""``benchmarks.reload`` on a tiny library and MovieLens fixture: a second process's write is
noticed and loaded by the worker (the benchmark asserts it), and every timing is reported (the
numbers mean nothing here; speed is never asserted in tests)."""

from __future__ import annotations

from pathlib import Path

from agent.settings import Settings
from benchmarks.reload import bm25, collab
from retrieval.catalogue import Catalogue
from retrieval.library import Library
from tests.fakes.index import write_talks

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eval" / "movielens"


def test_bm25_reload_loads_the_writers_build(tmp_path: Path) -> None:
    data = tmp_path / "index"
    settings = Settings(data_dir=data, asr={"backend": "fake"}, embedding={"backend": "fake"})
    library = Library(settings)
    assert library.ingest(manifest=write_talks(tmp_path / "in")).ok  # saves both BM25 builds
    version = library.catalogue.version()
    library.close()
    out = bm25(data, rounds=2, work=tmp_path / "work")
    assert out["first search after another process's write (loads its build)"]["n"] == 2
    assert out["writer: rebuild chunks s"] > 0
    assert out["chunks"] > 0
    assert out["catalogue version at start"] == version
    reopened = Catalogue(f"sqlite:///{data / 'vidrec.db'}")
    assert reopened.version() == version  # the writes went to the copy, not the index
    reopened.close()


def test_collab_reload_loads_the_writers_version(tmp_path: Path) -> None:
    out = collab(FIXTURE, copies=2, rounds=2, work=tmp_path)
    assert out["first access after another process's save (loads it)"]["n"] == 2
    assert out["the same, loading in the background (a server's)"]["n"] == 2
    single = collab(FIXTURE, copies=1, rounds=1, work=tmp_path / "one")
    assert out["users"] == 2 * single["users"] and out["videos"] == single["videos"]

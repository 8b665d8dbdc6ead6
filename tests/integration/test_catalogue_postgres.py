"""The SQL catalogue on a real PostgreSQL server (a throwaway cluster on 127.0.0.1).

The cluster comes from ``tests/integration/conftest.py``: skipped with the reason where PostgreSQL's
binaries or psycopg are missing, a failure in CI (``scripts/setup.sh`` installs them).
"""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.catalogue import Catalogue
from retrieval.types import Chunk, SearchFilters, Video

pytestmark = pytest.mark.integration


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
    # a second Catalogue on the same database sees the same state (migrations run once)
    assert Catalogue(pg_url).version() == cat.version()
    cat.close()

"""The SQL catalogue: round trips, chunk replacement, source state, version, filters."""

from __future__ import annotations

from datetime import date

import pytest

from retrieval.catalogue import Catalogue
from retrieval.types import Chunk, SearchFilters, Video


def _chunks(video_id: str, n: int, word: str = "text") -> list[Chunk]:
    return [
        Chunk(f"{video_id}:{i}", video_id, i, i * 10.0, i * 10.0 + 12.0, f"{word} {i}")
        for i in range(n)
    ]


@pytest.fixture
def catalogue(sql_url: str) -> Catalogue:
    return Catalogue(sql_url)


VIDEOS = [
    Video(
        "a",
        "Alpha",
        description="first",
        tags=("Food", "fun"),
        duration=300.0,
        published=date(2015, 3, 1),
        language="en",
        synthetic_audio=True,
        transcript_source="asr",
        extra={"event": "TED2015"},
    ),
    Video(
        "b", "Beta", tags=("science",), duration=900.0, published=date(2019, 6, 1), language="EN"
    ),
    Video("c", "Gamma", tags=("science", "climate"), duration=1200.0, language="fr"),
    Video("d", "Delta"),
]


def test_video_round_trip_keeps_every_field(catalogue: Catalogue) -> None:
    catalogue.commit_video(VIDEOS[0], _chunks("a", 3), "h1")
    got = catalogue.get_video("a")
    assert got == VIDEOS[0]
    assert got is not None and got.extra == {"event": "TED2015"} and got.tags == ("Food", "fun")
    assert catalogue.get_video("missing") is None
    assert [c.id for c in catalogue.chunks("a")] == ["a:0", "a:1", "a:2"]
    assert catalogue.chunk("a:1") == _chunks("a", 3)[1]


def test_commit_replaces_chunks_and_bumps_version(catalogue: Catalogue) -> None:
    v0 = catalogue.version()
    catalogue.commit_video(VIDEOS[0], _chunks("a", 5, "old"), "h1")
    catalogue.commit_video(VIDEOS[0], _chunks("a", 2, "new"), "h2")
    assert catalogue.version() == v0 + 2
    chunks = catalogue.chunks("a")
    assert [c.text for c in chunks] == ["new 0", "new 1"]  # no stale a:2..a:4
    version, rows = catalogue.all_chunks()
    assert version == catalogue.version() and [r[0] for r in rows] == ["a:0", "a:1"]
    src = catalogue.source("a")
    assert src is not None and (src.content_hash, src.status) == ("h2", "done")


def test_pending_then_done_then_delete(catalogue: Catalogue) -> None:
    catalogue.mark_pending("a", "h1", "/x/a.mp4")
    src = catalogue.source("a")
    assert src is not None and (src.status, src.origin) == ("pending", "/x/a.mp4")
    assert catalogue.get_video("a") is None  # pending writes nothing visible
    catalogue.commit_video(VIDEOS[0], _chunks("a", 2), "h1")
    assert catalogue.sources()["a"].status == "done"
    before = catalogue.version()
    assert catalogue.delete_video("a") is True
    assert catalogue.version() == before + 1
    assert catalogue.get_video("a") is None and catalogue.chunks("a") == []
    assert catalogue.source("a") is None
    assert catalogue.delete_video("a") is False
    assert catalogue.version() == before + 1  # nothing deleted, nothing bumped


def test_matching_video_ids_applies_every_filter(catalogue: Catalogue) -> None:
    for v in VIDEOS:
        catalogue.commit_video(v, _chunks(v.id, 1), "h")

    def match(**kw: object) -> set[str]:
        return catalogue.matching_video_ids(SearchFilters(**kw))  # type: ignore[arg-type]

    assert match() == {"a", "b", "c", "d"}
    assert match(max_duration=900) == {"a", "b"}  # unknown duration never passes a bound
    assert match(min_duration=900) == {"b", "c"}
    assert match(published_after=date(2016, 1, 1)) == {"b"}
    assert match(published_before=date(2016, 1, 1)) == {"a"}
    assert match(languages=("en",)) == {"a", "b"}  # case-insensitive
    assert match(tags_any=("food", "CLIMATE")) == {"a", "c"}
    assert match(tags_none=("science",)) == {"a", "d"}
    assert match(exclude_ids=frozenset({"a", "d"})) == {"b", "c"}
    assert match(tags_any=("science",), languages=("fr",)) == {"c"}
    assert catalogue.chunk_counts() == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert [v.id for v in catalogue.videos()] == ["a", "b", "c", "d"]
    assert set(catalogue.videos_by_ids(["b", "zz"])) == {"b"}

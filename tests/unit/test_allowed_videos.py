"""``retrieval.allowed.AllowedVideos``: a filtered search reads the allowed ids from SQL once per
(filters, catalogue version), whatever ids the user excludes, and again after the catalogue
changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.allowed import AllowedVideos
from retrieval.library import Library
from retrieval.types import SearchFilters
from tests.fakes.index import write_talks
from tests.spies import record_calls


@pytest.fixture
def library(tmp_path: Path) -> Library:
    settings = Settings(
        data_dir=tmp_path / "data", asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    lib = Library(settings)
    assert lib.ingest(manifest=write_talks(tmp_path / "in")).ok
    return lib


def test_one_read_per_filters_and_version_and_exclusions_taken_away(library: Library) -> None:
    catalogue = library.catalogue
    kept = AllowedVideos(catalogue)
    recent = SearchFilters(published_after=date(2016, 1, 1))
    version = catalogue.version()
    allowed, total = kept.get(recent, version)
    assert allowed == catalogue.matching_video_ids(recent) and allowed
    assert total == catalogue.video_count() > len(allowed)
    one = next(iter(allowed))
    mine = replace(recent, exclude_ids=frozenset({one}))
    again, _ = kept.get(mine, version)
    assert again == catalogue.matching_video_ids(mine) == allowed - {one}
    assert kept.get(recent, version)[0] == allowed  # the exclusion did not stick
    assert kept.reads == 1
    kept.get(SearchFilters(max_duration=1000.0), version)
    assert kept.reads == 2


def test_a_catalogue_change_is_read_again(library: Library) -> None:
    catalogue = library.catalogue
    kept = AllowedVideos(catalogue)
    recent = SearchFilters(published_after=date(2016, 1, 1))
    before, _ = kept.get(recent, catalogue.version())
    source = next(v for v in catalogue.videos() if v.id in before)
    copy = replace(source, id=source.id + "-copy")
    chunks = [
        replace(c, id=f"{copy.id}:{c.index}", video_id=copy.id) for c in catalogue.chunks(source.id)
    ]
    catalogue.commit_video(copy, chunks, copy.id)
    after, total = kept.get(recent, catalogue.version())
    assert after == before | {copy.id} and total == catalogue.video_count()
    assert kept.reads == 2


def test_a_filtered_search_reads_the_allowed_ids_once(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch, library.catalogue, "matching_video_ids")
    recent = SearchFilters(published_after=date(2016, 1, 1))
    first = library.search("creativity", recent)
    second = library.search("creativity", recent)
    assert [h.video.id for h in first] == [h.video.id for h in second]
    assert all(h.video.published and h.video.published >= date(2016, 1, 1) for h in first)
    assert len(calls) == 1
    library.search("creativity", replace(recent, exclude_ids=frozenset({"x"})))
    assert len(calls) == 1

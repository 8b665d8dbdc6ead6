"""A flush of videos is written together (one Chroma upsert, one SQL transaction for all of
them), and a write that fails for one video of the flush fails only that one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.settings import Settings
from retrieval.library import Library
from retrieval.store.base import ChunkRecord
from tests.consistency import store_problems


def _catalogue(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "catalogue.jsonl"
    rows = [
        {"id": f"m{i}", "title": f"Movie {i}", "description": f"A film about topic {i} and more."}
        for i in range(n)
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def _spy(lib: Library, monkeypatch: pytest.MonkeyPatch, bad: str | None = None) -> list[int]:
    """Count the chunk upserts (their sizes); ``bad``: an upsert holding that video fails."""
    sizes: list[int] = []
    real = lib.store.upsert

    def upsert(records: Sequence[ChunkRecord]) -> Any:
        sizes.append(len(records))
        if bad is not None and any(r.video_id == bad for r in records):
            raise RuntimeError(f"the store refused {bad}")
        return real(records)

    monkeypatch.setattr(lib.store, "upsert", upsert)
    return sizes


def test_a_flush_of_videos_is_one_upsert_and_one_catalogue_version(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _catalogue(tmp_path / "in", 12)
    lib = Library(settings)
    sizes = _spy(lib, monkeypatch)
    before = lib.catalogue.version()
    report = lib.ingest(manifest=manifest)
    assert report.ok and len(report.ingested) == 12
    assert sizes == [report.chunks]  # the old code upserted once per video: 12 calls
    assert lib.catalogue.version() == before + 1
    assert store_problems(lib) == []


def test_a_video_the_store_refuses_fails_alone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _catalogue(tmp_path / "in", 6)
    lib = Library(settings)
    sizes = _spy(lib, monkeypatch, bad="m3")
    report = lib.ingest(manifest=manifest)
    # the flush's write failed, then each video was written alone
    assert len(sizes) == 1 + 6
    assert sorted(report.ingested) == ["m0", "m1", "m2", "m4", "m5"]
    assert len(report.failed) == 1 and "the store refused m3" in report.failed[0].error
    assert "Run the ingest again" in report.failed[0].error
    assert lib.get_video("m3") is None
    assert store_problems(lib, strict=False) == []

    monkeypatch.undo()
    again = Library(settings).ingest(manifest=manifest)
    assert again.ingested == ["m3"] and len(again.unchanged) == 5
    assert store_problems(Library(settings)) == []

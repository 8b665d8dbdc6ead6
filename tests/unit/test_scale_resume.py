"""``benchmarks.scale_index.build_index`` resumes a build a killed process left unfinished: the
resumed index holds the same ids and vectors as one built in one go, and replicas already written
are not written again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from benchmarks.scale_index import Base, base_of, build_index
from retrieval.library import Library
from retrieval.store.base import VideoRecord
from retrieval.types import Chunk, Video
from tests.fakes.index import write_talks


class Killed(Exception):
    pass


def _library(data_dir: Path) -> Library:
    return Library(
        Settings(data_dir=data_dir, asr={"backend": "fake"}, embedding={"backend": "fake"})
    )


@pytest.fixture
def base(tmp_path: Path) -> Base:
    library = _library(tmp_path / "base")
    assert library.ingest(manifest=write_talks(tmp_path / "in")).ok
    out = base_of(library)
    library.close()
    assert len(out.videos) >= 2 and out.vectors
    return out


def _vectors(library: Library) -> dict[str, np.ndarray]:
    got = library.store.collection.get(include=["embeddings"])  # type: ignore[attr-defined]
    return dict(zip(got["ids"], got["embeddings"], strict=True))


def _centroids(library: Library) -> dict[str, np.ndarray]:
    ids = sorted(library.store.video_vector_ids())
    return library.store.video_embeddings(ids)


def test_a_killed_build_resumes_to_the_index_built_in_one_go(base: Base, tmp_path: Path) -> None:
    per_round = sum(len(c) for c in base.chunks.values())
    n = 5 * per_round  # five replicas of every base video
    whole = _library(tmp_path / "whole")
    assert build_index(base, n, whole, 0.35, 7, batch=per_round) == 5 * len(base.videos)

    partial = _library(tmp_path / "partial")
    flushes, commit = 0, partial.catalogue.commit_video

    def count_flush() -> None:
        nonlocal flushes
        flushes += 1

    def commit_then_die(video: Video, chunks: Sequence[Chunk], content_hash: str) -> None:
        commit(video, chunks, content_hash)  # killed after two flushes and one more commit
        if flushes == 2:
            raise Killed

    partial.catalogue.commit_video = commit_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        build_index(base, n, partial, 0.35, 7, batch=per_round, on_flush=count_flush)
    # the last replica is in the catalogue but not in the store
    assert len(partial.videos()) == len(partial.store.video_vector_ids()) + 1
    written_before = partial.store.video_vector_ids()
    assert 0 < len(written_before) < 5 * len(base.videos)
    partial.close()

    resumed = _library(tmp_path / "partial")
    upserted: list[str] = []
    upsert_videos = resumed.store.upsert_videos

    def record(records: Sequence[VideoRecord]) -> None:
        upserted.extend(r.video_id for r in records)
        upsert_videos(records)

    resumed.store.upsert_videos = record  # type: ignore[method-assign]
    fresh = build_index(base, n, resumed, 0.35, 7, batch=per_round)
    assert fresh == 5 * len(base.videos) - len(written_before)
    assert not set(upserted) & written_before  # nothing written twice
    assert resumed.store.count() == whole.store.count()
    assert {v.id for v in resumed.videos()} == {v.id for v in whole.videos()}
    one_go, again = _vectors(whole), _vectors(resumed)
    assert one_go.keys() == again.keys()
    for cid, vec in one_go.items():
        np.testing.assert_allclose(again[cid], vec, atol=1e-6)
    centroids = _centroids(resumed)
    for vid, vec in _centroids(whole).items():
        np.testing.assert_allclose(centroids[vid], vec, atol=1e-6)
    # resuming a finished build writes nothing
    assert build_index(base, n, resumed, 0.35, 7, batch=per_round) == 0
    whole.close()
    resumed.close()

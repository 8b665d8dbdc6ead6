"""``benchmarks.scale``'s search timings run end to end on a tiny fake library (the numbers
themselves mean nothing here; speed is never asserted in tests)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from agent.settings import Settings
from benchmarks.scale import SizeResult, report
from benchmarks.scale_index import QUERIES
from benchmarks.scale_search import before, measure_search
from retrieval.library import Library
from tests.fakes.index import write_talks


def test_every_stage_and_the_search_before_are_timed(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", asr={"backend": "fake"}, embedding={"backend": "fake"}
    )
    library = Library(settings)
    assert library.ingest(manifest=write_talks(tmp_path / "in")).ok
    out = measure_search(library, library.embed_queries(QUERIES), repeat=1)
    for stage in ("raw chroma", "dense", "hybrid", "hybrid (before)", "stage: bm25 chunks"):
        assert 0 < out[stage]["p50"] <= out[stage]["p95"], stage
    args = Namespace(sizes="100000", talks=1, repeat=1, server=False, sigma=0.35)
    table = report([SizeResult(chunks=100_000, latency_ms=out)], args)
    assert "| hybrid / hybrid (before) p95 |" in table and "goal 50" in table
    # the search before the speed work ranks as the RRF search of today's parts does
    old = before(library, fusion="rrf", chunk_weight=1.0, video_dense_weight=1.0)
    now = library.searcher_with(
        settings.search.model_copy(
            update={"fusion": "rrf", "chunk_weight": 1.0, "video_dense_weight": 1.0}
        )
    )
    for query in QUERIES[:5]:
        assert [h.video.id for h in old.search(query)] == [h.video.id for h in now.search(query)]
    library.close()

"""Whole-video evidence and weighted query texts: fusion by hand, then a small library (fakes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from retrieval.errors import InvalidInputError
from retrieval.fusion import FusionWeights, QueryRankings, fuse_videos, group_by_video, rrf_fuse
from retrieval.lexical import video_text
from retrieval.library import Library
from retrieval.store.base import video_record
from retrieval.types import QueryText, SearchFilters, Video

# --- fusion on hand-made rankings ---------------------------------------------------------------


def test_with_video_weights_at_zero_the_order_is_best_chunk_scoring() -> None:
    dense = [("b:0", "b"), ("a:0", "a"), ("a:1", "a"), ("c:0", "c")]
    lexical = [("a:1", "a"), ("c:0", "c"), ("b:0", "b")]
    only_chunks = FusionWeights(chunks=1.0, video_dense=0.0, video_lexical=0.0)
    fused = fuse_videos([QueryRankings(1.0, dense, lexical, ["c"], ["c"])], only_chunks)
    expected = group_by_video(rrf_fuse(dense, lexical, 60))
    assert [v.video_id for v in fused] == [v.video_id for v in expected]
    assert [c.chunk_id for c in fused[0].chunks] == [c.chunk_id for c in expected[0].chunks]


def test_whole_video_rankings_lift_a_video_whose_best_chunk_is_second() -> None:
    dense = [("b:0", "b"), ("a:0", "a")]
    lexical = [("b:0", "b"), ("a:0", "a")]
    ranking = QueryRankings(1.0, dense, lexical, video_dense=["a", "b"], video_lexical=["a", "b"])
    fused = fuse_videos([ranking], FusionWeights())
    assert [v.video_id for v in fused] == ["a", "b"]
    assert fused[0].score == pytest.approx(1 / 62 + 2 / 61)
    assert fused[0].chunks[0].chunk_id == "a:0"  # the evidence is still its best chunk


def test_a_video_found_only_by_whole_video_rankings_has_no_chunks() -> None:
    fused = fuse_videos([QueryRankings(1.0, [], [], ["z"], [])], FusionWeights())
    assert [(v.video_id, v.chunks) for v in fused] == [("z", ())]


def test_a_heavier_query_text_outweighs_a_lighter_one() -> None:
    latest = QueryRankings(1.0, [("new:0", "new")], [("new:0", "new")], ["new"], ["new"])
    earlier = QueryRankings(0.4, [("old:0", "old")], [("old:0", "old")], ["old"], ["old"])
    order = [v.video_id for v in fuse_videos([earlier, latest], FusionWeights())]
    assert order == ["new", "old"]
    both = fuse_videos(
        [
            QueryRankings(1.0, [("x:0", "x"), ("y:0", "y")]),
            QueryRankings(0.5, [("y:0", "y"), ("x:1", "x")]),
        ],
        FusionWeights(),
    )
    x = next(v for v in both if v.video_id == "x")
    assert x.chunks[0].chunk_id == "x:0" and x.chunks[0].dense_rank == 1
    assert x.chunks[0].score == pytest.approx(1 / 61)  # dense rank 1, lexical absent, weight 1


def test_video_record_is_the_normalised_centroid_with_the_filter_fields() -> None:
    video = Video(id="v", title="t", duration=60.0, language="EN", tags=("Fun",))
    record = video_record(video, np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    assert np.allclose(record.embedding, [2**-0.5, 2**-0.5])
    assert (record.duration, record.language, record.tags) == (60.0, "en", ("Fun",))


def test_video_text_holds_metadata_and_every_chunk() -> None:
    video = Video(id="v", title="Title", description="About it", tags=("x",), speaker="Ann")
    assert video_text(video, ["one", "two"]).split("\n") == [
        "Title",
        "Ann",
        "About it",
        "x",
        "one",
        "two",
    ]


# --- a library whose best passage and whole video disagree ---------------------------------------

SPREAD = (  # five query words, each in its own passage among unrelated ones
    "The volcano rumbled at dawn. We ate bread and cheese. The glacier cracked in spring. "
    "Trains were late again. The harbour froze over. Socks were drying. Nobody slept well. "
    "A lantern glowed. Buses were full. A tornado passed."
)
PAIR = (  # three other query words in one passage, the rest about something else entirely
    "A meteor, a comet, an eclipse. Spreadsheets balance budgets. Accountants audit ledgers. "
    "Invoices arrive monthly. Auditors check receipts. Payroll runs weekly. Taxes are due."
)
# interleaved: no two words adjacent here are adjacent in a talk (word pairs count as phrases)
QUERY = "meteor volcano comet glacier eclipse harbour lantern tornado"


@pytest.fixture
def two_talks(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = []
    for name, text in (("spread", SPREAD), ("pair", PAIR)):
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        rows.append({"id": name, "title": f"talk {name}", "transcript_path": f"{name}.txt"})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def _library(settings: Settings, **search: float) -> Library:
    return Library(
        settings.model_copy(
            update={
                "chunking": settings.chunking.model_copy(
                    update={"max_chars": 60, "overlap_seconds": 0.0}
                ),
                "ingest": settings.ingest.model_copy(update={"metadata_chunk": False}),
                "search": settings.search.model_copy(update=search),
            }
        )
    )


def test_whole_video_evidence_finds_the_video_best_chunk_scoring_misses(
    settings: Settings, two_talks: Path
) -> None:
    old = _library(settings, video_dense_weight=0.0, video_lexical_weight=0.0)
    old.ingest(manifest=two_talks)
    assert len(old.chunks("spread")) > 3
    assert old.search(QUERY, k=2)[0].video.id == "pair"  # the single best passage wins
    new = _library(settings)
    hits = new.search(QUERY, k=2)
    assert [h.video.id for h in hits] == ["spread", "pair"]
    best = hits[0].best.chunk.text.lower()
    assert any(word in best for word in QUERY.split())  # evidence: a passage that matched


def test_video_vectors_follow_ingest_and_remove(settings: Settings, two_talks: Path) -> None:
    lib = _library(settings)
    lib.ingest(manifest=two_talks)
    assert lib.store.video_vector_ids() == {"spread", "pair"}
    stored = lib.store.query_videos(lib.video_vectors(["pair"])["pair"], 1)
    assert stored[0].video_id == "pair" and stored[0].similarity == pytest.approx(1.0, abs=1e-5)
    lib.remove("pair")
    assert lib.store.video_vector_ids() == {"spread"}
    lib.store.upsert_videos([])  # nothing to write is no error
    lib.ingest(manifest=two_talks)
    assert lib.store.video_vector_ids() == {"spread", "pair"}


def test_backfill_builds_missing_video_vectors_from_chunk_vectors(
    settings: Settings, two_talks: Path
) -> None:
    lib = _library(settings)
    lib.ingest(manifest=two_talks)
    lib.store.videos.delete(ids=["spread"])  # type: ignore[attr-defined]
    assert lib.backfill_video_vectors() == 1
    assert lib.store.video_vector_ids() == {"spread", "pair"}
    assert lib.backfill_video_vectors() == 0


def test_a_video_only_whole_video_rankings_found_gets_its_nearest_chunk_as_evidence(
    settings: Settings, two_talks: Path
) -> None:
    lib = _library(settings, chunk_weight=0.0)
    lib.ingest(manifest=two_talks)
    lib.searcher.settings = lib.searcher.settings.model_copy(update={"chunk_candidates": 1})
    hits = lib.search("lantern", k=2)  # one chunk per side: "pair" comes from its centroid
    assert {h.video.id for h in hits} == {"spread", "pair"}
    assert all(h.chunks and h.best.chunk.video_id == h.video.id for h in hits)
    looked_up = [h for h in hits if h.best.dense_rank is None and h.best.lexical_rank is None]
    assert [h.video.id for h in looked_up] == ["pair"]


def test_weighted_query_texts_and_their_validation(settings: Settings, two_talks: Path) -> None:
    lib = _library(settings)
    lib.ingest(manifest=two_talks)
    texts = [QueryText("budgets ledgers invoices", 1.0), QueryText("harbour lantern", 0.2)]
    assert lib.search(texts, k=1)[0].video.id == "pair"
    flipped = [QueryText("budgets ledgers invoices", 0.2), QueryText("harbour lantern", 1.0)]
    assert lib.search(flipped, k=1)[0].video.id == "spread"
    assert lib.search([QueryText("harbour"), QueryText("  ")], k=1)[0].video.id == "spread"
    excluded = lib.search(texts, SearchFilters(exclude_ids=frozenset({"pair"})), k=2)
    assert [h.video.id for h in excluded] == ["spread"]
    with pytest.raises(InvalidInputError, match="empty"):
        lib.search([QueryText(" ")])
    with pytest.raises(InvalidInputError, match="weight"):
        lib.search([QueryText("harbour", 0.0)])


def test_only_the_first_ingest_of_a_process_lists_every_video_vector(
    settings: Settings, two_talks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _library(settings)
    calls = []
    listing = lib.store.video_vector_ids
    monkeypatch.setattr(lib.store, "video_vector_ids", lambda: calls.append(1) or listing())
    lib.ingest(manifest=two_talks)
    lib.ingest(manifest=two_talks)
    lib.remove("pair")
    lib.ingest(manifest=two_talks)
    assert len(calls) == 1  # the backfill ran once; later ingests write their own vectors
    assert listing() == {"spread", "pair"}


# --- z-score fusion ------------------------------------------------------------------------------


def test_shifted_zscores_keep_margins_and_start_at_zero() -> None:
    from retrieval.fusion import shifted_zscores

    z = shifted_zscores([9.0, 3.0, 2.0, 1.0])
    assert z[-1] == 0.0 and z == sorted(z, reverse=True)
    assert z[0] - z[1] > 3 * (z[1] - z[2])  # the large gap stays large (ranks would level it)
    assert shifted_zscores([2.0, 2.0]) == [0.0, 0.0] and shifted_zscores([]) == []


def test_zscore_fusion_lets_a_clear_margin_outweigh_one_rank() -> None:
    # "a" leads whole-video BM25 by far; "b" is first everywhere else, narrowly
    ranking = QueryRankings(
        1.0,
        dense=[("b:0", "b"), ("a:0", "a"), ("c:0", "c")],
        lexical=[("b:0", "b"), ("a:0", "a"), ("c:0", "c")],
        video_dense=["b", "a", "c"],
        video_lexical=["a", "b", "c"],
        video_dense_scores=[0.52, 0.51, 0.10],
        video_lexical_scores=[30.0, 5.0, 4.0],
    )
    rrf = fuse_videos([ranking], FusionWeights())
    z = fuse_videos([ranking], FusionWeights(method="zscore"))
    assert [v.video_id for v in rrf][:2] == ["b", "a"]
    assert [v.video_id for v in z][:2] == ["a", "b"]
    assert z[0].chunks[0].chunk_id == "a:0"  # evidence is still the video's best chunk


def test_zscore_fusion_with_video_weights_at_zero_is_best_chunk_scoring() -> None:
    dense = [("b:0", "b"), ("a:0", "a"), ("a:1", "a"), ("c:0", "c")]
    lexical = [("a:1", "a"), ("c:0", "c"), ("b:0", "b")]
    only_chunks = FusionWeights(chunks=1.0, video_dense=0.0, video_lexical=0.0, method="zscore")
    fused = fuse_videos([QueryRankings(1.0, dense, lexical, ["c"], ["c"])], only_chunks)
    expected = group_by_video(rrf_fuse(dense, lexical, 60))
    assert [v.video_id for v in fused] == [v.video_id for v in expected]


def test_zscore_fusion_refuses_rankings_without_scores_and_unknown_methods() -> None:
    with pytest.raises(ValueError, match="score for every video"):
        fuse_videos([QueryRankings(1.0, video_dense=["a", "b"])], FusionWeights(method="zscore"))
    with pytest.raises(InvalidInputError, match="rrf or zscore"):
        fuse_videos([QueryRankings(1.0)], FusionWeights(method="borda"))

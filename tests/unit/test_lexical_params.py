"""BM25 parameters of an index: k1 and b reach bm25s, adjacent word pairs count as phrase terms,
and a saved index built with other parameters is never loaded in their place."""

from __future__ import annotations

from pathlib import Path

from retrieval.catalogue import Catalogue
from retrieval.lexical import (
    Bm25Params,
    LexicalIndex,
    video_bm25_params,
    video_documents,
    with_pairs,
)
from retrieval.settings import SearchSettings
from retrieval.types import Chunk, Video


def _add(catalogue: Catalogue, video_id: str, text: str) -> None:
    chunk = Chunk(f"{video_id}:0", video_id, 0, 0.0, 5.0, text)
    catalogue.commit_video(Video(video_id, f"talk {video_id}"), [chunk], video_id)


def test_pairs_are_added_as_hashed_terms_the_same_in_every_call() -> None:
    assert with_pairs(["dark", "matter"], 0) == ["dark", "matter"]
    once = with_pairs(["dark", "matter", "galaxi"], 1 << 18)
    assert once[:3] == ["dark", "matter", "galaxi"] and len(once) == 5
    assert all(t.startswith("+") for t in once[3:]) and once[3] != once[4]
    assert with_pairs(["dark", "matter", "galaxi"], 1 << 18) == once  # crc32, not hash()
    assert with_pairs(["matter", "dark"], 1 << 18)[2] != once[3]  # the order counts
    assert with_pairs(["word"], 8) == ["word"]


def test_a_phrase_outranks_the_same_words_apart_only_with_pairs(
    sql_url: str, tmp_path: Path
) -> None:
    catalogue = Catalogue(sql_url)
    # the same words, the same counts and lengths: only their order differs
    _add(catalogue, "apart", "matter of taste, a dark room, galaxies spin")
    _add(catalogue, "phrase", "taste of galaxies, dark matter, a room spins")
    _add(catalogue, "other", "coral reefs bleach in warm water every summer")
    words = LexicalIndex(catalogue, tmp_path / "words", video_documents(catalogue))
    pairs = LexicalIndex(
        catalogue, tmp_path / "pairs", video_documents(catalogue), Bm25Params(pair_buckets=1024)
    )
    plain = words.search("dark matter", 3)
    assert [m.video_id for m in plain] == ["apart", "phrase"]  # a tie, broken by row
    assert plain[0].score == plain[1].score
    phrased = pairs.search("dark matter", 3)
    assert [m.video_id for m in phrased] == ["phrase", "apart"]
    assert phrased[0].score > phrased[1].score


def test_k1_and_b_reach_bm25s_and_change_the_scores(sql_url: str, tmp_path: Path) -> None:
    catalogue = Catalogue(sql_url)
    _add(catalogue, "short", "bees dance")
    filler = " ".join(f"word{i}" for i in range(60))
    _add(catalogue, "long", f"bees {filler} bees")
    default = LexicalIndex(catalogue, tmp_path / "a", video_documents(catalogue))
    tuned = LexicalIndex(
        catalogue, tmp_path / "b", video_documents(catalogue), Bm25Params(k1=3.0, b=0.0)
    )
    assert default.search("bees", 2)[0].video_id == "short"
    assert tuned.search("bees", 2)[0].video_id == "long"  # no length penalty
    assert (tuned._retriever.k1, tuned._retriever.b) == (3.0, 0.0)


def test_an_index_saved_with_other_parameters_is_rebuilt_not_loaded(
    sql_url: str, tmp_path: Path
) -> None:
    catalogue = Catalogue(sql_url)
    _add(catalogue, "bees", "bees dance to tell the hive where flowers are")
    folder = tmp_path / "bm25-videos"
    first = LexicalIndex(catalogue, folder, video_documents(catalogue))
    first.ensure_fresh()
    other = LexicalIndex(catalogue, folder, video_documents(catalogue), Bm25Params(k1=2.0))
    other.ensure_fresh()
    assert (other.rebuilds, other.loads) == (1, 0)
    same = LexicalIndex(catalogue, folder, video_documents(catalogue), Bm25Params(k1=2.0))
    same.ensure_fresh()
    assert (same.rebuilds, same.loads) == (0, 1)
    assert len(list(folder.glob("v*"))) == 2


def test_the_whole_video_index_takes_its_parameters_from_the_search_settings() -> None:
    settings = SearchSettings(video_bm25_k1=2.5, video_bm25_b=0.8, video_bm25_pair_buckets=64)
    assert video_bm25_params(settings) == Bm25Params(2.5, 0.8, 64)

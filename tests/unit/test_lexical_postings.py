"""BM25 read straight from the score matrix: the same documents and scores as ``bm25s``' own
retrieval, with and without a filter on videos."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from retrieval.lexical import Postings, bm25s_module, english_stemmer, tokenize

WORDS = [
    "coral",
    "reef",
    "ocean",
    "glacier",
    "ice",
    "valley",
    "music",
    "brain",
    "sleep",
    "dream",
    "robot",
    "walk",
    "city",
    "car",
]


def _corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(3, 20))) for _ in range(n)]
    videos = [f"v{i // 4}" for i in range(n)]  # four documents per video
    return texts, videos


@pytest.mark.parametrize("query", ["coral reef", "ice ice glacier music", "walking robots"])
def test_postings_rank_as_bm25s_does(query: str) -> None:
    texts, videos = _corpus(400, 1)
    stem = english_stemmer()
    retriever = bm25s_module().BM25()
    retriever.index(tokenize(texts, stemmer=stem), show_progress=False)
    postings = Postings.of(retriever, videos)
    tokens = tokenize([query], stemmer=stem, return_ids=False)[0]
    docs, scores = postings.top(tokens, 50)
    expected_docs, expected_scores = retriever.retrieve([tokens], k=50, show_progress=False)
    assert np.allclose(scores, expected_scores[0], rtol=1e-5)
    # the same set of documents (ties may come in another order)
    assert {(d, round(s, 4)) for d, s in zip(docs, scores, strict=True)} == {
        (int(d), round(float(s), 4))
        for d, s in zip(expected_docs[0], expected_scores[0], strict=True)
    }


def test_a_video_filter_drops_other_videos_before_ranking() -> None:
    texts, videos = _corpus(200, 2)
    stem = english_stemmer()
    retriever = bm25s_module().BM25()
    retriever.index(tokenize(texts, stemmer=stem), show_progress=False)
    postings = Postings.of(retriever, videos)
    tokens = tokenize(["coral glacier"], stemmer=stem, return_ids=False)[0]
    allowed = {"v3", "v10", "unknown"}
    docs, scores = postings.top(tokens, 100, allowed)
    mask = np.array([v in allowed for v in videos], dtype=np.float32)
    expected_docs, expected_scores = retriever.retrieve(
        [tokens], k=200, show_progress=False, weight_mask=mask
    )
    keep = expected_scores[0] > 0
    assert sorted(docs.tolist()) == sorted(expected_docs[0][keep].tolist())
    assert {videos[d] for d in docs} <= allowed
    assert np.all(np.diff(scores) <= 0)  # best first
    assert postings.top(tokens, 100, {"unknown"})[0].size == 0
    assert postings.top(["nowordlikethis"], 10)[0].size == 0


def test_best_per_video_scores_every_matching_chunk_of_the_videos(tmp_path: Path) -> None:
    from agent.settings import Settings
    from retrieval.library import Library
    from tests.fakes.index import write_talks

    root = tmp_path
    library = Library(
        Settings(data_dir=root / "data", asr={"backend": "fake"}, embedding={"backend": "fake"})
    )
    assert library.ingest(manifest=write_talks(root / "in")).ok
    best = library.lexical.best_per_video("coral reefs garlic", {"cooking", "oceans", "nope"})
    assert set(best) <= {"cooking", "oceans"} and best
    for video, match in best.items():
        everything = library.lexical.search("coral reefs garlic", 10_000, {video})
        assert match.chunk_id == everything[0].chunk_id and match.video_id == video
    assert library.lexical.best_per_video("zzzz", {"cooking"}) == {}
    library.close()

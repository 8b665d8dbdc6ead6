"""Adapting the embedder to a library (retrieval.embed.adapt): which pairs, which batches, the
refusals; and the eval's halves. The fine-tuning itself runs in tests/integration."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agent.settings import Settings
from evaluation.ted_adapt import halves
from retrieval.embed.adapt import (
    MIN_PAIRS,
    AdaptPair,
    AdaptSettings,
    adapt_embedder,
    adapt_settings,
    adaptation_pairs,
    batches_without_repeats,
    library_pairs,
)
from retrieval.errors import InvalidInputError
from retrieval.library import Library


def test_pairs_take_at_most_n_chunks_per_described_video_reproducibly() -> None:
    videos = [
        ("a", "  A talk   about coral. ", [f"a{i}" for i in range(10)]),
        ("b", "", ["b0", "b1"]),  # no description: nothing to learn from
        ("c", "Rockets.", []),  # no transcript
        ("d", "Bread.", ["d0", "  ", "d1"]),  # a blank chunk is no passage
    ]
    pairs = adaptation_pairs(videos, 4, seed=3)
    assert [p.video_id for p in pairs] == ["a"] * 4 + ["d"] * 2
    assert {p.query for p in pairs if p.video_id == "a"} == {"A talk about coral."}
    assert len({p.passage for p in pairs if p.video_id == "a"}) == 4
    assert {p.passage for p in pairs if p.video_id == "d"} == {"d0", "d1"}
    assert pairs == adaptation_pairs(videos, 4, seed=3)
    assert pairs != adaptation_pairs(videos, 4, seed=4)


def test_batches_hold_every_pair_once_and_no_video_twice() -> None:
    pairs = [AdaptPair(f"v{i % 7}", f"q{i % 7}", f"p{i}") for i in range(60)]
    batches = batches_without_repeats(pairs, 5, random.Random(0))
    assert sorted(p.passage for b in batches for p in b) == sorted(p.passage for p in pairs)
    for batch in batches:
        assert 1 <= len(batch) <= 5
        assert len({p.video_id for p in batch}) == len(batch)


def test_too_few_pairs_are_refused_with_what_to_do(tmp_path: Path) -> None:
    pairs = [AdaptPair(f"v{i}", "q", "p") for i in range(MIN_PAIRS - 1)]
    with pytest.raises(InvalidInputError, match="Too few") as info:
        adapt_embedder(tmp_path / "base", pairs, tmp_path / "out", AdaptSettings())
    assert "descriptions" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_the_settings_come_from_the_embedding_section() -> None:
    section = Settings(embedding={"adapt_epochs": 2, "adapt_pairs_per_video": 8}).embedding
    assert adapt_settings(section, seed=5) == AdaptSettings(epochs=2, pairs_per_video=8, seed=5)


def test_library_pairs_never_use_the_metadata_chunk(settings: Settings, tmp_path: Path) -> None:
    """With ``ingest.metadata_chunk`` on, a video's title and description are a chunk of their
    own; pairing the description with it would teach the model to match a text with itself."""
    folder = tmp_path / "in"
    folder.mkdir()
    rows = []
    for name, said in (("reef", "coral reefs bleach when the sea warms"), ("oven", "knead it")):
        (folder / f"{name}.txt").write_text(said, encoding="utf-8")
        rows.append(
            {
                "id": name,
                "title": f"the {name} talk",
                "description": f"A talk about the {name}.",
                "transcript_path": f"{name}.txt",
            }
        )
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    library = Library(settings)
    assert settings.ingest.metadata_chunk
    library.ingest(manifest=manifest)
    assert any("A talk about the reef." in c.text for c in library.chunks("reef"))
    pairs = library_pairs(library, 4, seed=0)
    assert sorted((p.video_id, p.query, p.passage) for p in pairs) == [
        ("oven", "A talk about the oven.", "knead it"),
        ("reef", "A talk about the reef.", "coral reefs bleach when the sea warms"),
    ]


def test_the_eval_halves_split_the_queries_disjointly_and_reproducibly() -> None:
    ids = [f"ted-{i}" for i in range(11)]
    first, second = halves(ids, seed=0)
    assert first.isdisjoint(second) and first | second == set(ids)
    assert (len(first), len(second)) == (5, 6)
    assert halves(ids, seed=0) == [first, second] != halves(ids, seed=1)

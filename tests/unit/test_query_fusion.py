"""Fusion weights chosen for a query encoder on held-out descriptions (retrieval.query_fusion)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.settings import Settings
from retrieval.embed.query_adapt import QueryPair
from retrieval.errors import ConfigError
from retrieval.library import Library
from retrieval.query_fusion import (
    FUSION_GRID,
    choose_fusion,
    effective_search,
    fit_with_fusion,
    recorded_fusion,
    split_validation,
)
from retrieval.settings import SearchSettings


def _pairs(n: int) -> list[QueryPair]:
    return [QueryPair(f"v{i}", f"a talk numbered {i}") for i in range(n)]


def test_the_held_out_share_is_whole_videos_chosen_by_the_seed() -> None:
    pairs = [*_pairs(50), QueryPair("v3", "v3 described again")]
    fitted, held = split_validation(pairs, 0.2, seed=1)
    assert len({p.video_id for p in held}) == 10
    assert {p.video_id for p in fitted}.isdisjoint({p.video_id for p in held})
    assert len(fitted) + len(held) == len(pairs)
    assert split_validation(pairs, 0.2, seed=1) == (fitted, held)
    assert split_validation(pairs, 0.2, seed=2)[1] != held
    assert split_validation(pairs, 0.0, seed=1) == (pairs, [])


@dataclass
class _Hit:
    video: Any


@dataclass
class _Video:
    id: str


class _Searcher:
    """Puts a query's own video first only where the centroid weighs at least ``needed``; a
    decoy stands first otherwise."""

    def __init__(self, settings: SearchSettings, needed: float, seen: list[SearchSettings]):
        self.settings, self.needed = settings, needed
        seen.append(settings)

    def search(self, query: str, k: int) -> list[_Hit]:
        own = query.rsplit(" ", 1)[-1]
        order = [f"v{own}", "decoy"]
        if self.settings.video_dense_weight < self.needed:
            order.reverse()
        return [_Hit(_Video(v)) for v in order][:k]


class _Library:
    def __init__(self, needed: float) -> None:
        self.config = Settings()
        self.needed = needed
        self.seen: list[SearchSettings] = []
        self.embedded: list[list[str]] = []

    def embed_queries(self, texts: list[str]) -> None:
        self.embedded.append(list(texts))

    def searcher_with(self, settings: SearchSettings) -> _Searcher:
        return _Searcher(settings, self.needed, self.seen)


def test_the_grid_point_that_ranks_the_held_out_videos_best_is_chosen() -> None:
    library = _Library(needed=2.0)
    choice = choose_fusion(library, _pairs(30))  # type: ignore[arg-type]
    assert library.embedded == [[p.query for p in _pairs(30)]]  # embedded once, in one batch
    assert len(library.seen) == len(FUSION_GRID)  # the configured weights are a point of it
    # every point with centroid >= 2.0 ranks all first: ties go to the smallest centroid weight
    assert choice.video_dense_weight == 2.0
    assert (choice.mrr, choice.recall_at_1, choice.queries) == (1.0, 1.0, 30)
    assert (choice.base_mrr, choice.base_recall_at_1) == (0.5, 0.0)  # configured 1.1: second
    assert choice.video_lexical_weight == Settings().search.video_lexical_weight


def test_the_configured_weights_stay_when_nothing_ranks_better() -> None:
    s = Settings().search
    choice = choose_fusion(_Library(needed=0.0), _pairs(25))  # type: ignore[arg-type]
    assert (choice.chunk_weight, choice.video_dense_weight) == (
        s.chunk_weight,
        s.video_dense_weight,
    )
    assert choice.mrr == choice.base_mrr == 1.0


def _train_recorder(calls: list[tuple[list[str], Path, dict[str, Any]]]) -> Any:
    def train(pairs: list[QueryPair], folder: Path, extra: dict[str, Any]) -> str:
        calls.append(([p.video_id for p in pairs], folder, extra))
        folder.mkdir(parents=True)
        (folder / "adapted.json").write_text(json.dumps({"side": "queries", **extra}))
        return f"trained {len(pairs)}"

    return train


def test_a_first_encoder_chooses_the_weights_and_the_shipped_one_learns_every_description(
    tmp_path: Path,
) -> None:
    calls: list[tuple[list[str], Path, dict[str, Any]]] = []
    opened: list[Path] = []

    def open_with(folder: Path) -> Any:
        opened.append(folder)
        assert (folder / "adapted.json").is_file()
        library = _Library(needed=1.5)
        library.close = lambda: None  # type: ignore[attr-defined]
        return library

    out = tmp_path / "queries-1"
    pairs = _pairs(120)
    done, choice = fit_with_fusion(pairs, 0.2, 0, _train_recorder(calls), open_with, out)
    assert done == "trained 120" and choice is not None
    (first, scratch, _), (every, shipped, extra) = calls
    held = set(every) - set(first)
    assert len(held) == 24 and len(first) == 96 and shipped == out
    assert opened == [scratch] and not scratch.exists()  # the first encoder is not kept
    assert extra == {"fusion": choice.as_record()} and choice.queries == 24
    assert choice.video_dense_weight == 1.5
    assert recorded_fusion(out) == {
        "chunk_weight": choice.chunk_weight,
        "video_dense_weight": 1.5,
        "video_lexical_weight": choice.video_lexical_weight,
    }


def test_logged_conversations_train_both_encoders_and_none_is_held_out(tmp_path: Path) -> None:
    calls: list[tuple[list[str], Path, dict[str, Any]]] = []

    def open_with(folder: Path) -> Any:
        library = _Library(needed=1.5)
        library.close = lambda: None  # type: ignore[attr-defined]
        return library

    # (ids of their own here, to tell them apart in what each training got)
    logged = [QueryPair(f"logged{i}", f"a conversation asking for talk {i}") for i in range(40)]
    fit_with_fusion(
        _pairs(120), 0.2, 0, _train_recorder(calls), open_with, tmp_path / "q", always=logged
    )
    (first, _, _), (every, _, _) = calls
    assert len(first) == 96 + 40 and len(every) == 120 + 40
    conversations = [v for v in every if v.startswith("logged")]
    assert len(conversations) == 40 and set(conversations) <= set(first)
    # conversations alone (a library without descriptions): one encoder, no weights chosen
    alone: list[tuple[list[str], Path, dict[str, Any]]] = []
    _, none = fit_with_fusion([], 0.2, 0, _train_recorder(alone), open_with, tmp_path / "c", logged)
    assert none is None and len(alone) == 1 and len(alone[0][0]) == 40


def test_too_few_descriptions_train_once_and_record_no_weights(tmp_path: Path) -> None:
    calls: list[tuple[list[str], Path, dict[str, Any]]] = []

    def open_with(folder: Path) -> Any:
        raise AssertionError("no first encoder to search with")

    _, choice = fit_with_fusion(
        _pairs(60), 0.2, 0, _train_recorder(calls), open_with, tmp_path / "q"
    )
    assert choice is None and len(calls) == 1 and calls[0][2] == {}
    assert recorded_fusion(tmp_path / "q") is None
    _, none = fit_with_fusion(_pairs(200), 0.0, 0, _train_recorder([]), open_with, tmp_path / "z")
    assert none is None  # validation share 0: the weights as set


def _encoder(tmp_path: Path, fusion: Any) -> Path:
    folder = tmp_path / "encoder"
    folder.mkdir(exist_ok=True)
    record = {"side": "queries", "base_model": "all-MiniLM-L6-v2"}
    if fusion is not None:
        record["fusion"] = fusion
    (folder / "adapted.json").write_text(json.dumps(record))
    return folder


FUSION = {"chunk_weight": 0.3, "video_dense_weight": 2.5, "video_lexical_weight": 1.0}


@pytest.mark.parametrize(
    "fusion",
    [
        {**FUSION, "video_dense_weight": -1},
        {**FUSION, "chunk_weight": "0.3"},
        {**FUSION, "chunk_weight": True},
        {**FUSION, "video_dense_weight": float("nan")},
        {"chunk_weight": 0.3},
        [0.3, 2.5, 1.0],
    ],
)
def test_unreadable_recorded_weights_are_refused_with_what_to_do(
    tmp_path: Path, fusion: Any
) -> None:
    with pytest.raises(ConfigError) as caught:
        recorded_fusion(_encoder(tmp_path, fusion))
    assert "query_encoder_weights" in str(caught.value.hint)


def test_the_library_searches_with_the_weights_recorded_for_its_query_encoder(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression: a query encoder's chosen weights were never applied (the search kept
    ``search.*_weight``, tuned for the base model's weaker query side)."""
    folder = _encoder(tmp_path, FUSION)
    embedding = settings.embedding.model_copy(update={"query_model": str(folder)})
    with_encoder = settings.model_copy(update={"embedding": embedding})
    weights = Library(with_encoder).searcher.weights
    assert (weights.chunks, weights.video_dense, weights.video_lexical) == (0.3, 2.5, 1.0)

    off = with_encoder.search.model_copy(update={"query_encoder_weights": False})
    assert effective_search(off, embedding) is off
    plain = Library(settings).searcher.weights
    assert (plain.chunks, plain.video_dense) == (
        settings.search.chunk_weight,
        settings.search.video_dense_weight,
    )
    unrecorded = embedding.model_copy(update={"query_model": str(_encoder(tmp_path, None))})
    assert effective_search(settings.search, unrecorded) is settings.search

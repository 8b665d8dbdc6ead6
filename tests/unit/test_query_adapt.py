"""The query-side adaptation's pieces that need no model: pairs, refusals, the check that a
query encoder belongs to the documents' embedder, and the ids that keep query vectors apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed.adapt import TrainSettings
from retrieval.embed.query_adapt import (
    MIN_QUERIES,
    QueryPair,
    adapt_query_encoder,
    check_query_model,
    query_adapt_settings,
    query_pairs,
)
from retrieval.errors import ConfigError, InvalidInputError
from retrieval.library import embedder_id, query_embedder_id
from retrieval.settings import EmbeddingSettings


def test_pairs_collapse_whitespace_and_skip_videos_without_a_description() -> None:
    pairs = query_pairs([("a", "  Bees\n and   hives "), ("b", ""), ("c", " \n "), ("d", "Ice.")])
    assert pairs == [QueryPair("a", "Bees and hives"), QueryPair("d", "Ice.")]


def test_too_few_described_videos_among_the_targets_are_refused(tmp_path: Path) -> None:
    ids = [f"v{i}" for i in range(MIN_QUERIES)]
    pairs = [QueryPair(v, f"about {v}") for v in ids]
    pairs.append(QueryPair("not-indexed", "a video the store has no vector for"))
    with pytest.raises(InvalidInputError) as caught:
        adapt_query_encoder(
            tmp_path / "base",
            "all-MiniLM-L6-v2",
            pairs,
            ids[1:],  # one described video has no stored vector: MIN_QUERIES - 1 usable
            np.zeros((len(ids) - 1, 384), np.float32),
            tmp_path / "out",
            TrainSettings(),
        )
    assert f"at least {MIN_QUERIES}" in str(caught.value.expected)
    assert caught.value.got == str(MIN_QUERIES - 1)
    assert not (tmp_path / "out").exists()


def _encoder(folder: Path, record: object) -> Path:
    folder.mkdir()
    (folder / "adapted.json").write_text(json.dumps(record))
    return folder


def test_a_query_encoder_of_the_documents_model_is_accepted(tmp_path: Path) -> None:
    folder = _encoder(tmp_path / "q", {"side": "queries", "base_model": "all-MiniLM-L6-v2"})
    check_query_model(folder, "all-MiniLM-L6-v2")


@pytest.mark.parametrize(
    ("record", "says"),
    [
        ({"side": "queries", "base_model": "all-mpnet-base-v2"}, "'all-mpnet-base-v2'"),
        ({"base": "/models/minilm", "pairs": 72}, "side None"),  # a whole adapted model
        (["queries", "all-MiniLM-L6-v2"], "side None"),  # not a record at all
    ],
)
def test_a_query_encoder_of_another_model_is_refused(
    tmp_path: Path, record: object, says: str
) -> None:
    folder = _encoder(tmp_path / "q", record)
    with pytest.raises(ConfigError) as caught:
        check_query_model(folder, "all-MiniLM-L6-v2")
    assert says in str(caught.value.got)
    assert "all-MiniLM-L6-v2" in str(caught.value.expected)


def test_a_folder_without_a_record_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        check_query_model(tmp_path / "absent", "all-MiniLM-L6-v2")
    assert "vidrec train --embedder --queries" in str(caught.value.expected)
    assert "query_model" in str(caught.value.hint)


def test_the_query_encoder_changes_the_query_id_not_the_documents_id() -> None:
    plain = EmbeddingSettings()
    adapted = plain.model_copy(update={"query_model": "/models/adapted/queries-1"})
    assert embedder_id(adapted) == embedder_id(plain)  # the stored vectors stay valid
    assert query_embedder_id(plain) == embedder_id(plain)
    assert query_embedder_id(adapted) != query_embedder_id(plain)  # logged turns: re-embedded


def test_a_query_encoder_has_its_own_learning_rate_when_one_is_set() -> None:
    """``embedding.query_adapt_lr`` sets the query encoder's rate alone (the conversations'
    encoders learn better at 1e-4 than the whole model's 3e-5); unset, the whole model's."""
    assert query_adapt_settings(EmbeddingSettings(adapt_lr=3e-5)).lr == 3e-5
    own = EmbeddingSettings(adapt_lr=3e-5, query_adapt_lr=1e-4)
    assert query_adapt_settings(own, seed=2) == TrainSettings(3, 1e-4, 32, seed=2)
    with pytest.raises(ValueError, match="query_adapt_lr"):
        EmbeddingSettings(query_adapt_lr=0)

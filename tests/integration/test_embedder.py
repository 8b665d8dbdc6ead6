"""The real sentence-transformers embedders (all-MiniLM-L6-v2 from its installed package; the
stronger all-mpnet-base-v2 assembled from its five)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed.base import Embedder
from retrieval.embed.factory import create_embedder
from retrieval.embed.sentence_transformers import resolve_model_path
from retrieval.errors import ConfigError
from retrieval.settings import EmbeddingSettings
from retrieval.weights import MPNET_BASE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return create_embedder(EmbeddingSettings(batch_size=4))


def test_shape_dtype_and_unit_rows(embedder: Embedder) -> None:
    vecs = embedder.encode_documents(["a talk about coral reefs", "pasta", "x" * 5000])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32 and embedder.dim == 384
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_queries([]).shape == (0, 384)
    assert embedder.name == "sentence-transformers/all-MiniLM-L6-v2"


def test_similar_sentences_are_closer_than_unrelated(embedder: Embedder) -> None:
    q = embedder.encode_queries(["how do I cook spaghetti at home"])[0]
    docs = embedder.encode_documents(
        [
            "Boil the pasta in salted water and stir it often.",
            "Coral reefs are bleaching as ocean temperatures rise.",
            "The rocket carried a satellite into orbit.",
        ]
    )
    sims = docs @ q
    assert sims[0] > sims[1] + 0.2 and sims[0] > sims[2] + 0.2
    a, b, c = embedder.encode_documents(
        ["The ocean is warming.", "Sea temperatures are rising.", "I like my new bicycle."]
    )
    assert a @ b > a @ c


def test_batching_does_not_change_vectors(embedder: Embedder) -> None:
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(10)]
    batched = embedder.encode_documents(texts)  # batch_size=4: three batches
    single = np.vstack([embedder.encode_documents([t]) for t in texts])
    assert np.allclose(batched, single, atol=1e-5)


def test_a_long_conversation_is_embedded_by_its_newest_words(embedder: Embedder) -> None:
    """A query past the model's 256 word pieces keeps its end: two conversations that differ only
    in their last request embed apart, and the last request decides which film is nearer (the
    model's own truncation cut the end, so both were the same vector)."""
    earlier = "\n".join(
        f"We talked about the weather on day {i} and it was mild." for i in range(40)
    )
    scary, funny = (
        embedder.encode_queries([f"{earlier}\nNow I want {want}"])[0]
        for want in ("a terrifying horror film with ghosts", "a silly comedy that makes me laugh")
    )
    assert float(scary @ funny) < 0.99
    horror, comedy = embedder.encode_documents(
        ["A haunted house horror film full of ghosts.", "A slapstick comedy full of jokes."]
    )
    assert scary @ horror > scary @ comedy and funny @ comedy > funny @ horror
    short = embedder.encode_queries(["Now I want a silly comedy"])[0]
    assert np.allclose(short, embedder.encode_queries(["Now I want a silly comedy"])[0])


def test_model_resolution_never_reaches_a_hub(tmp_path: object) -> None:
    assert (resolve_model_path("all-MiniLM-L6-v2") / "modules.json").is_file()
    with pytest.raises(ConfigError, match="local model folder"):
        resolve_model_path("sentence-transformers/some-hub-only-model")


def test_bfloat16_vectors_match_float32_and_rank_alike() -> None:
    """``embedding.precision``: the bfloat16 model (``auto`` on a CPU with bfloat16 in hardware)
    gives unit float32 rows within a cosine of 0.999 of the float32 model's, so an index built in
    one is searched in the other."""
    texts = [
        "Boil the pasta in salted water and stir it often.",
        "Coral reefs are bleaching as ocean temperatures rise.",
        "The rocket carried a satellite into orbit.",
        "x" * 3000,
    ]
    full = create_embedder(EmbeddingSettings(batch_size=4, precision="float32"))
    half = create_embedder(EmbeddingSettings(batch_size=4, precision="bfloat16"))
    assert (full.precision, half.precision) == ("float32", "bfloat16")  # type: ignore[attr-defined]
    a, b = full.encode_documents(texts), half.encode_documents(texts)
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.999 and not np.array_equal(a, b)  # really computed in bfloat16
    q = half.encode_queries(["how do I cook spaghetti at home"])[0]
    assert float(q @ full.encode_queries(["how do I cook spaghetti at home"])[0]) > 0.999
    assert np.argsort(-(a @ q)).tolist() == np.argsort(-(b @ q)).tolist()


def test_the_stronger_packaged_embedder_is_assembled_and_embeds(models_cache: Path) -> None:
    """``embedding.model = "all-mpnet-base-v2"``: the zip split across five PyPI packages is
    joined, verified and unpacked into the models cache, then loaded like any local model
    (768 dimensions, unit rows, the same semantic order as MiniLM on clear cases)."""
    if importlib.util.find_spec(MPNET_BASE.parts[0][0]) is None:
        pytest.skip("the mpnet weight packages are not installed (pip install vidrec[mpnet])")
    settings = EmbeddingSettings(model="all-mpnet-base-v2", batch_size=4)
    with pytest.raises(ConfigError, match="needs a models cache"):
        resolve_model_path(settings.model)
    mpnet = create_embedder(settings, models_cache)
    assert (mpnet.dim, mpnet.name) == (768, "sentence-transformers/all-mpnet-base-v2")
    docs = mpnet.encode_documents(
        [
            "Boil the pasta in salted water and stir it often.",
            "Coral reefs are bleaching as ocean temperatures rise.",
            "The rocket carried a satellite into orbit.",
        ]
    )
    assert docs.shape == (3, 768) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    sims = docs @ mpnet.encode_queries(["how do I cook spaghetti at home"])[0]
    assert sims[0] > sims[1] + 0.2 and sims[0] > sims[2] + 0.2

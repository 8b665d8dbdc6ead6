"""``vidrec train --embedder`` then ``vidrec reindex`` with the real MiniLM: the model is
fine-tuned on the library's (description, transcript chunk) pairs, saved as a folder the
embedder loads, and the library is embedded again with it from its catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.settings import Settings
from agent.types import Message
from agent.users import UserStore
from retrieval.embed.factory import create_embedder
from retrieval.errors import ConfigError
from retrieval.library import Library
from ui.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()

TOPICS = [
    ("coral", "reefs", "bleaching", "divers", "algae"),
    ("rockets", "orbit", "fuel", "launch", "satellites"),
    ("bread", "yeast", "oven", "flour", "kneading"),
    ("bees", "hives", "pollen", "queens", "honey"),
    ("chess", "openings", "endgames", "pawns", "grandmasters"),
    ("glaciers", "ice", "meltwater", "moraines", "crevasses"),
    ("violins", "strings", "bows", "varnish", "luthiers"),
    ("malaria", "mosquitoes", "nets", "parasites", "vaccines"),
    ("cities", "traffic", "bicycles", "zoning", "parks"),
    ("sleep", "dreams", "circadian", "melatonin", "naps"),
    ("volcanoes", "magma", "ash", "eruptions", "calderas"),
    ("octopus", "tentacles", "camouflage", "ink", "intelligence"),
    ("printing", "filament", "layers", "nozzles", "prototypes"),
    ("languages", "grammar", "dialects", "children", "vocabulary"),
    ("forests", "fungi", "roots", "canopy", "seedlings"),
    ("comets", "tails", "nuclei", "telescopes", "dust"),
    ("vaccines", "antibodies", "trials", "doses", "immunity"),
    ("robots", "grippers", "sensors", "walking", "balance"),
]


def _library_files(folder: Path) -> Path:
    """18 videos, each a description and a spoken transcript of five paragraphs on its topic."""
    folder.mkdir()
    rows = []
    for i, words in enumerate(TOPICS):
        said = "\n\n".join(
            f"Today I want to talk about {w}. The {w} matter because {words[(j + 1) % 5]} "
            f"and {words[(j + 2) % 5]} depend on them, and I have studied {w} for years."
            for j, w in enumerate(words)
        )
        (folder / f"v{i}.txt").write_text(said, encoding="utf-8")
        rows.append(
            {
                "id": f"v{i}",
                "title": f"video {i}",
                "description": f"A researcher explains what {words[0]} and {words[1]} "
                f"teach us, from {words[2]} to {words[3]}.",
                "transcript_path": f"v{i}.txt",
            }
        )
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def test_adapt_then_reindex_searches_with_the_adapted_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("VIDREC_CHUNKING__MAX_CHARS", "160")
    monkeypatch.setenv("VIDREC_EMBEDDING__ADAPT_BATCH_SIZE", "8")
    manifest = _library_files(tmp_path / "in")
    assert runner.invoke(app, ["ingest", "--manifest", str(manifest)]).exit_code == 0

    trained = runner.invoke(app, ["train", "--embedder"])
    assert trained.exit_code == 0, trained.output
    assert "72 (description, transcript chunk) pairs of 18 videos" in trained.output
    out = Path(re.search(r"saved to (\S+)", trained.output).group(1))  # type: ignore[union-attr]
    record = json.loads((out / "adapted.json").read_text())
    assert record["pairs"] == 72 and record["last_loss"] < record["first_loss"]

    base = Settings().embedding
    adapted = create_embedder(base.model_copy(update={"model": str(out)}))
    before = create_embedder(base)
    texts = ["Rockets carry satellites into orbit.", "Yeast makes the bread rise."]
    new, old = adapted.encode_documents(texts), before.encode_documents(texts)
    assert new.shape == old.shape == (2, 384)
    assert np.allclose(np.linalg.norm(new, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(new, old, atol=1e-3)  # the weights really moved

    monkeypatch.setenv("VIDREC_EMBEDDING__MODEL", str(out))
    monkeypatch.setenv("VIDREC_STORE__COLLECTION", "adapted")
    redone = runner.invoke(app, ["reindex"])
    assert redone.exit_code == 0, redone.output
    library = Library(Settings())
    n_chunks = sum(len(library.chunks(f"v{i}")) for i in range(len(TOPICS)))
    assert f"embedded {n_chunks} chunks of 18 videos again" in redone.output
    assert len(library.store.video_vector_ids()) == 18
    hits = library.search("the talk about hives of bees and their queens", k=3)
    assert hits[0].video.id == "v3"


def test_a_query_encoder_is_fitted_to_the_stored_vectors_and_searched_without_a_reindex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train --embedder --queries``: the descriptions move nearer their own videos' stored
    centroids; documents are still encoded by the base model, so the index is searched as is,
    with the fusion weights a first encoder's search of held-out descriptions chose."""
    import retrieval.embed.query_adapt as query_adapt
    import retrieval.query_fusion as query_fusion

    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("VIDREC_CHUNKING__MAX_CHARS", "160")
    monkeypatch.setenv("VIDREC_EMBEDDING__ADAPT_BATCH_SIZE", "6")
    monkeypatch.setenv("VIDREC_EMBEDDING__ADAPT_LR", "1e-4")
    monkeypatch.setattr(query_adapt, "MIN_QUERIES", 12)  # a library of 18 described videos
    monkeypatch.setattr(query_fusion, "MIN_VALIDATION", 4)
    monkeypatch.setenv("VIDREC_EMBEDDING__QUERY_ADAPT_VALIDATION", "0.25")
    manifest = _library_files(tmp_path / "in")
    assert runner.invoke(app, ["ingest", "--manifest", str(manifest)]).exit_code == 0
    library = Library(Settings())
    ids = [f"v{i}" for i in range(len(TOPICS))]
    centroids = library.video_vectors(ids)
    targets = np.stack([centroids[v] for v in ids])
    descriptions = [library.get_video(v).description for v in ids]  # type: ignore[union-attr]

    # two logged conversations, each a turn after which the user liked a video
    users = UserStore(Settings().sql_url)
    for n, video in enumerate(("v2", "v5")):
        session = users.start_session(f"viewer{n}")
        users.add_turn(session, [Message("user", f"something like topic {n}")], "Here.", [video])
        users.record(f"viewer{n}", video, "like", session_id=session)
    users.close()

    assert runner.invoke(app, ["train", "--queries"]).exit_code != 0  # needs --embedder
    trained = runner.invoke(app, ["train", "--embedder", "--queries"])
    assert trained.exit_code == 0, trained.output
    assert (
        "18 descriptions and 2 (logged conversation, video taken) pairs against 18 videos' "
        "stored vectors, 12 batches" in trained.output
    )
    out = Path(re.search(r"saved to (\S+)", trained.output).group(1))  # type: ignore[union-attr]
    record = json.loads((out / "adapted.json").read_text())
    assert record["side"] == "queries" and record["base_model"] == "all-MiniLM-L6-v2"
    assert record["last_loss"] < record["first_loss"]
    chosen = record["fusion"]
    assert f"fusion weights chosen on {chosen['queries']} held-out descriptions" in trained.output
    assert chosen["queries"] == 4 and 0 < chosen["base_mrr"] <= chosen["mrr"] <= 1
    assert not list(out.parent.glob("*.validation"))  # the first encoder is not kept

    base = Settings().embedding
    plain = create_embedder(base)
    adapted = create_embedder(base.model_copy(update={"query_model": str(out)}))
    docs = ["Rockets carry satellites into orbit.", "Yeast makes the bread rise."]
    assert np.allclose(adapted.encode_documents(docs), plain.encode_documents(docs), atol=1e-6)
    assert adapted.name == plain.name

    def margins(embedder: object) -> np.ndarray:
        """Each description's cosine to its own centroid minus its best other one."""
        sims = embedder.encode_queries(descriptions) @ targets.T  # type: ignore[attr-defined]
        own = np.diag(sims).copy()
        np.fill_diagonal(sims, -np.inf)
        return own - sims.max(axis=1)

    assert margins(adapted).mean() > margins(plain).mean() + 0.02

    monkeypatch.setenv("VIDREC_EMBEDDING__QUERY_MODEL", str(out))
    searched = Library(Settings())
    assert searched.query_embedder_id != library.query_embedder_id
    weights = searched.searcher.weights
    assert (weights.chunks, weights.video_dense) == (
        chosen["chunk_weight"],
        chosen["video_dense_weight"],
    )
    hits = searched.search("the talk about hives of bees and their queens", k=3)
    assert hits[0].video.id == "v3"

    other = base.model_copy(update={"model": str(plain_path()), "query_model": str(out)})
    with pytest.raises(ConfigError):  # adapted from the packaged name, not this folder
        create_embedder(other)


def plain_path() -> Path:
    from retrieval.embed.sentence_transformers import resolve_model_path

    return resolve_model_path("all-MiniLM-L6-v2")

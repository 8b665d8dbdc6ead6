"""Eval workspaces name their Chroma collection validly for every task, embedder and hash."""

from __future__ import annotations

import re
from pathlib import Path

import chromadb
import pytest

from agent.settings import Settings
from evaluation.runner import EvalOptions
from evaluation.tasks import TASKS, run_eval
from evaluation.workspace import COLLECTION_MAX, collection_name, workspace_name

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
# Chroma's rule, as its validation error states it
CHROMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
EMBEDDERS = [
    ("sentence-transformers", "all-MiniLM-L6-v2"),
    ("sentence-transformers", "sentence-transformers/all-mpnet-base-v2"),
    ("sentence-transformers", "/models/a-very-long-local-folder-name-for-an-embedder----v2"),
    ("fake", "x"),
]
HASHES = ["44a43ef5c5b1" + "0" * 52, "f" * 64, "0" * 64]


@pytest.mark.parametrize("task", TASKS)
def test_every_task_and_embedder_gives_a_name_chroma_accepts(task: str, tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    names = set()
    for backend, model in EMBEDDERS:
        settings = Settings(embedding={"backend": backend, "model": model})
        for sha in HASHES:
            name = collection_name(workspace_name(task, sha, settings))
            assert CHROMA_NAME.match(name), name
            assert len(name) <= COLLECTION_MAX
            client.get_or_create_collection(name)  # raises on an invalid name
            names.add(name)
    # distinct workspaces never share a collection
    assert len(names) == len(EMBEDDERS) * len(HASHES)


def test_the_name_that_chroma_refused_before_is_valid_now() -> None:
    # issue 19: the 60-character cut of this name ended right after a "-"
    name = collection_name("inspired-44a43ef5c5b1-sentence-transformers-all-minilm-l6-v2")
    assert CHROMA_NAME.match(name), name


def test_short_names_read_as_before() -> None:
    assert collection_name("ted-0123456789ab-fake-x") == "eval_ted-0123456789ab-fake-x"


def test_inspired_end_to_end_in_an_empty_data_dir(tmp_path: Path, models_cache: Path) -> None:
    # an embedder name whose 60-character cut used to end on "-" for INSPIRED (whatever the
    # catalogue hash: it always has 12 characters); the hashing fake stands behind it
    settings = Settings(
        data_dir=tmp_path / "fresh",
        models_cache=models_cache,
        asr={"backend": "fake"},
        embedding={"backend": "fake", "model": "all-MiniLM-L6-v2-fine-tuned-on-ted"},
        llm={"backend": "fake"},
    )
    assert not settings.cache_dir.exists() or not any(settings.cache_dir.iterdir())
    report = run_eval(
        EvalOptions(
            task="inspired",
            data=FIXTURES / "inspired_tiny.tsv",
            movielens=FIXTURES / "movielens",
            youtube=FIXTURES / "youtube.csv",
            systems=("dense", "hybrid"),
        ),
        settings,
    )
    assert report.n_cases == 3
    for system in ("dense", "hybrid"):
        assert "errors" not in report.system(system).metrics, report.notes
    assert report.dataset["index_ingested"] == 10


def test_two_model_folders_with_a_long_common_path_get_their_own_workspaces() -> None:
    """The embedder's part of the name was the first 40 characters of its path: two adapted
    models under one cache folder shared a workspace (and one's vectors served the other)."""
    sha = "f" * 64
    root = "/root/.local/share/vidrec/cache/eval/adapted"
    names = {
        workspace_name("ted", sha, Settings(embedding={"model": f"{root}/ted-{half}"}))
        for half in ("0a1b2c3d4e5f", "9f8e7d6c5b4a")
    }
    assert len(names) == 2
    short = Settings(embedding={"model": "all-MiniLM-L6-v2"})  # short names read as before
    assert workspace_name("ted", sha, short).endswith("-sentence-transformers-all-minilm-l6-v2")

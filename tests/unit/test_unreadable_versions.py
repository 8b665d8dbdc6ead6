"""A saved model version that cannot be read names itself and the fix, the same way for the
collaborative model and the learned ranker (``agent.versions.unreadable``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.collab import CollabError, CollabModel, ModelStore
from agent.learn.model import LearnedRanker, LearnedRankerError
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from agent.versions import unreadable


def test_the_error_names_the_model_the_files_and_the_fix(tmp_path: Path) -> None:
    error = unreadable(CollabError, "thing", tmp_path, "a.npz and b.npz", OSError("gone"))
    assert isinstance(error, CollabError)
    assert error.message == f"The thing in {tmp_path} cannot be read"
    assert error.expected == "a.npz and b.npz written by `vidrec train`"
    assert error.got == "gone"
    assert error.hint == f"Delete {tmp_path} and run `vidrec train` again"


def test_a_damaged_collaborative_version_says_which_folder_to_delete(tmp_path: Path) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    events = [
        FeedbackEvent(f"u{u}", f"v{(u + i) % 5}", "like", None, t0 + timedelta(minutes=i))
        for u in range(6)
        for i in range(3)
    ]
    cfg = CollabSettings(factors=2, iterations=3, regularization=0.1, threads=1)
    store = ModelStore(tmp_path / "collab")
    folder = store.save(CollabModel.fit_events(events, cfg))
    (folder / "als.npz").write_bytes(b"not a saved model")
    with pytest.raises(CollabError) as caught:
        store.load_latest()
    assert caught.value.message == f"The collaborative model in {folder} cannot be read"
    assert caught.value.hint == f"Delete {folder} and run `vidrec train` again"


def test_a_damaged_learned_ranker_says_which_folder_to_delete(tmp_path: Path) -> None:
    folder = tmp_path / "v0001"
    folder.mkdir()
    (folder / "meta.json").write_text("{}")
    with pytest.raises(LearnedRankerError) as caught:
        LearnedRanker.load(folder)
    assert caught.value.message == f"The learned ranker in {folder} cannot be read"
    assert caught.value.hint == f"Delete {folder} and run `vidrec train` again"

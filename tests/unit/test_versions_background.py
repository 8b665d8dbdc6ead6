"""A new model version is loaded beside the turns (agent.versions.Loaded with ``background``):
the call that finds it does not wait, a failed load keeps the loaded version, and a user forgotten
while the new version loads is dropped from it too."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent.collab import Collaborative, ModelStore, model_root, train
from agent.collab.model import CollabModel
from agent.settings import CollabSettings
from agent.versions import Loaded
from tests.unit.test_requests import ASKED, EMBEDDER, _events, fitted


class _Disk:
    """A folder name as ``latest`` and a loader that can be held (a slow load) or made to fail."""

    def __init__(self) -> None:
        self.latest: Path | None = Path("v0001")
        self.release = threading.Event()
        self.release.set()
        self.fail: set[str] = set()
        self.loads: list[str] = []

    def load(self, folder: Path) -> str:
        self.loads.append(folder.name)
        assert self.release.wait(10)
        if folder.name in self.fail:
            raise OSError(f"{folder} is unreadable")
        return f"model {folder.name}"


def _until(check: object, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(check) and check():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_a_new_version_is_loaded_in_a_thread_while_calls_go_on_with_the_loaded_one() -> None:
    disk = _Disk()
    loaded = Loaded(lambda: disk.latest, disk.load, "model", background=True)
    assert loaded.get() == "model v0001"  # the first load: the call waits for it
    disk.release.clear()  # the next load is slow
    disk.latest = Path("v0002")
    began = time.perf_counter()
    assert loaded.get() == "model v0001"  # found the new version, did not wait for it
    assert loaded.get() == "model v0001"
    assert time.perf_counter() - began < 1.0
    disk.release.set()
    _until(lambda: loaded.get() == "model v0002")
    assert disk.loads == ["v0001", "v0002"]  # one load of it, however many calls found it


def test_without_background_the_call_that_finds_a_new_version_loads_it() -> None:
    disk = _Disk()
    loaded = Loaded(lambda: disk.latest, disk.load, "model")
    assert loaded.get() == "model v0001"
    disk.latest = Path("v0002")
    assert loaded.get() == "model v0002"


def test_a_version_that_fails_to_load_in_the_background_keeps_the_loaded_one() -> None:
    disk = _Disk()
    loaded = Loaded(lambda: disk.latest, disk.load, "model", background=True)
    loaded.get()
    disk.fail.add("v0002")
    disk.latest = Path("v0002")
    assert loaded.get() == "model v0001"
    _until(lambda: disk.loads == ["v0001", "v0002"])
    for _ in range(3):  # not tried again on every call
        assert loaded.get() == "model v0001"
    time.sleep(0.05)
    assert disk.loads == ["v0001", "v0002"]
    disk.latest = Path("v0003")  # a newer one is
    loaded.get()
    _until(lambda: loaded.get() == "model v0003")


def test_an_edit_made_while_the_new_version_loads_is_made_on_it_too() -> None:
    seen: dict[str, list[str]] = {}

    def load(folder: Path) -> list[str]:
        assert release.wait(10)
        return seen.setdefault(folder.name, ["alice", "bob"])

    release = threading.Event()
    release.set()
    latest = [Path("v0001")]
    loaded = Loaded(lambda: latest[0], load, "model", background=True)
    first = loaded.get()
    release.clear()
    latest[0] = Path("v0002")
    loaded.get()  # starts loading v0002, which was read before alice asked to be forgotten
    loaded.edit(lambda users: users.remove("alice"))
    assert first == ["bob"]
    release.set()
    _until(lambda: loaded.get() is not first)
    assert loaded.get() == ["bob"]


def test_the_collaborative_service_fits_the_requests_map_when_it_loads_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ridge map was fitted by the first turn that scored requests after a model loaded."""
    import agent.collab.requests as requests_module

    cfg = CollabSettings(factors=4, iterations=2)
    train(_events(), cfg, ModelStore(model_root(tmp_path)), tune=False, requests=fitted(ASKED))
    collab = Collaborative(tmp_path, cfg, request_ridge=0.01)
    model = collab.model
    assert isinstance(model, CollabModel) and model.requests is not None
    fits: list[int] = []
    real_fit = requests_module.LinearMap.fit

    def counted(*args: object, **kwargs: object) -> object:
        fits.append(1)
        return real_fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(requests_module.LinearMap, "fit", counted)
    vector = EMBEDDER.encode_queries(["ghosts and horror"])[0]
    assert collab.request_scores("ghosts and horror", lambda _: vector, 5, 0.01)
    assert fits == []  # the turn found the map fitted

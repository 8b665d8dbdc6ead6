"""Video vectors kept in memory per catalogue version (retrieval.embed.cache.VersionedVectors)."""

from __future__ import annotations

import numpy as np

from retrieval.embed.cache import VersionedVectors


class Loader:
    def __init__(self, known: dict[str, float]) -> None:
        self.known = known
        self.asked: list[list[str]] = []

    def __call__(self, ids: list[str]) -> dict[str, np.ndarray]:
        self.asked.append(ids)
        return {v: np.full(3, self.known[v], dtype=np.float32) for v in ids if v in self.known}


def test_only_the_vectors_not_kept_are_loaded_and_unknown_ids_are_left_out() -> None:
    cache = VersionedVectors()
    load = Loader({"a": 1.0, "b": 2.0})
    assert set(cache.get(["a", "zz"], 1, load)) == {"a"}
    got = cache.get(["a", "b", "a"], 1, load)
    assert load.asked == [["a", "zz"], ["b"]]
    assert float(got["b"][0]) == 2.0 and float(got["a"][0]) == 1.0


def test_a_new_version_drops_what_was_kept() -> None:
    cache = VersionedVectors()
    load = Loader({"a": 1.0})
    cache.get(["a"], 1, load)
    load.known["a"] = 5.0  # re-ingested: the catalogue's version moves on
    assert float(cache.get(["a"], 2, load)["a"][0]) == 5.0
    assert load.asked == [["a"], ["a"]]


def test_the_least_recently_used_go_beyond_the_size() -> None:
    cache = VersionedVectors(size=2)
    load = Loader({"a": 1.0, "b": 2.0, "c": 3.0})
    cache.get(["a", "b"], 1, load)
    cache.get(["a"], 1, load)  # a is now the most recent
    cache.get(["c"], 1, load)  # b goes
    load.asked.clear()
    cache.get(["a", "b", "c"], 1, load)
    assert load.asked == [["b"]]

"""Right to be forgotten: after ``forget_user`` nothing of the user remains anywhere.

Real SQLite file (WAL mode, as in production), real ALS model versions on disk, a cache folder.
The user id is distinctive so that a byte search cannot hit by chance.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.collab import Collaborative, train
from agent.collab.requests import Request, RequestIndex
from agent.interactions import all_events
from agent.privacy import export_user, find_traces, forget_user
from agent.settings import CollabSettings
from agent.types import Message
from agent.users import UserStore
from retrieval.embed.factory import create_embedder
from retrieval.errors import NotFoundError
from retrieval.settings import EmbeddingSettings

USER = "zq7-forget-me-user"
OTHER = "keep-me-user"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> tuple[UserStore, Collaborative, Path]:
    store = UserStore(f"sqlite:///{tmp_path / 'vidrec.db'}")
    for u in range(12):
        for i in range(5):
            store.record(f"crowd-{u}", f"v{(u + i) % 8}", "like", at=T0 + timedelta(minutes=i))
    store.record(USER, "v1", "like", at=T0)
    store.record(USER, "v2", "watched", 0.8, at=T0)
    store.record(USER, "v3", "rating", 4.5, at=T0)
    store.record(USER, "v4", "dislike", at=T0)
    session = store.start_session(USER)
    store.add_turn(session, [Message("user", "something about space please")], "Here:", ["v5"])
    store.record(OTHER, "v1", "like", at=T0)
    cfg = CollabSettings(factors=4, iterations=5, threads=1)
    collab = Collaborative(tmp_path / "data", cfg)
    asked = [  # what they said before taking a video, kept as similar requests
        Request(USER, "something about space please", ("v5",)),
        Request("crowd-1", "a talk about the ocean", ("v2",)),
    ]
    encode = create_embedder(EmbeddingSettings(backend="fake")).encode_queries
    for _ in range(2):
        requests = RequestIndex.fit(asked, encode, "fake")
        train(all_events(store), cfg, collab.store, tune=False, requests=requests)
    cache = tmp_path / "data" / "cache"
    (cache / "profiles").mkdir(parents=True)
    (cache / "profiles" / f"{USER}.json").write_text("{}")
    (cache / "turns.json").write_text(json.dumps({"user": USER, "k": 5}))
    (cache / "unrelated.json").write_text(json.dumps({"user": OTHER}))
    return store, collab, cache


def test_export_gathers_sql_and_model_data(world: tuple[UserStore, Collaborative, Path]) -> None:
    store, collab, _ = world
    data = export_user(USER, store, collab)
    events = data["events"]
    assert isinstance(events, list) and len(events) == 4
    assert {e["kind"] for e in events} == {"like", "watched", "rating", "dislike"}
    sessions = data["sessions"]
    assert isinstance(sessions, list) and sessions[0]["turns"][0]["recommended"] == ["v5"]
    model = data["collaborative_model"]
    assert isinstance(model, dict) and set(model["versions"]) == {"v0001", "v0002"}
    assert len(model["versions"]["v0001"]) == 4  # the user's factors
    json.dumps(data)  # JSON-ready
    with pytest.raises(NotFoundError):
        export_user("nobody-at-all", store, collab)


def test_forget_leaves_nothing_of_the_user_anywhere(
    world: tuple[UserStore, Collaborative, Path],
) -> None:
    store, collab, cache = world
    before = find_traces(USER, store, collab.store.root, cache)
    assert any(t.startswith("sql:user_events") for t in before)
    assert any(t.startswith("sql:user_sessions.user_id") for t in before)
    assert any("raw bytes" in t for t in before)
    assert any("collab" in t for t in before)  # model files
    assert any(t.endswith("(similar requests)") for t in before)
    assert any(USER in t for t in before)  # the cache file named after the user

    report = forget_user(USER, store, collab, cache_dir=cache)
    assert report.found and report.sql_rows and report.model_versions == 2
    assert len(report.cache_files) == 2
    assert report.remaining == []

    # searched again independently: every SQL text column, the raw database + WAL bytes,
    # every model file (ids as UTF-8 and as numpy UTF-32), every cache file
    assert find_traces(USER, store, collab.store.root, cache) == []
    assert store.history(USER) == [] and USER not in store.users()
    assert store.sessions(USER) == []
    with pytest.raises(NotFoundError):
        export_user(USER, store, collab)
    model = collab.model
    assert model is not None and not model.has_user(USER)
    assert model.requests is not None and model.requests.users == ["crowd-1"]

    # everybody else is intact
    assert [e.video_id for e in store.history(OTHER)] == ["v1"]
    assert model.has_user(OTHER) and (cache / "unrelated.json").exists()


def test_the_next_fit_excludes_the_forgotten_users_interactions(
    world: tuple[UserStore, Collaborative, Path],
) -> None:
    store, collab, cache = world
    forget_user(USER, store, collab, cache_dir=cache)
    assert all(e.user_id != USER for e in all_events(store))
    report = train(all_events(store), collab.cfg, collab.store, tune=False)
    assert report.meta.n_users == 13  # 12 crowd users + OTHER
    assert find_traces(USER, store, collab.store.root, cache) == []


def test_forgetting_an_unknown_user_is_a_clean_no_op(
    world: tuple[UserStore, Collaborative, Path],
) -> None:
    store, collab, cache = world
    report = forget_user("never-seen-user", store, collab, cache_dir=cache, compact=False)
    assert not report.found and report.remaining == []
    assert store.history(USER)  # nobody else touched


def test_only_whole_id_matches_are_deleted_from_the_caches(
    world: tuple[UserStore, Collaborative, Path],
) -> None:
    store, collab, cache = world
    store.record("ml", "v1", "like", at=T0)
    (cache / "eval").mkdir()
    keep_text = cache / "eval" / "catalogue.jsonl"
    keep_text.write_text(json.dumps({"id": "ml:1", "title": "html"}) + "\n")
    keep_binary = cache / "eval" / "index.bin"
    keep_binary.write_bytes(b"\x00ml\x00" + b'"ml"')
    mine = cache / "eval" / "session.json"
    mine.write_text(json.dumps({"user": "ml"}))
    report = forget_user("ml", store, collab, cache_dir=cache, compact=False)
    assert report.cache_files == [str(mine)]
    assert keep_text.exists() and keep_binary.exists()


def test_a_short_id_is_verified_structurally_without_chance_byte_matches(
    world: tuple[UserStore, Collaborative, Path],
) -> None:
    store, collab, cache = world
    for n in range(3):
        store.record("ab", f"v{n}", "like", at=T0)
    train(all_events(store), collab.cfg, collab.store, tune=False)
    before = find_traces("ab", store, collab.store.root, cache)
    assert "sql:user_events.user_id (3 rows)" in before
    assert any(t.startswith("model:") for t in before)
    report = forget_user("ab", store, collab, cache_dir=cache)
    assert report.remaining == []

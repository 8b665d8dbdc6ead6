from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from agent.types import Message
from agent.users import UserStore
from retrieval.errors import InvalidInputError, NotFoundError


@pytest.fixture
def store(sql_url: str) -> Iterator[UserStore]:
    s = UserStore(sql_url)
    yield s
    s.close()


def test_record_and_history_in_time_order(store: UserStore) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    store.record("alice", "v2", "like", at=t0 + timedelta(days=1))
    store.record("alice", "v1", "watched", 0.8, at=t0)
    store.record("alice", "v3", "rating", 4.5, at=t0 + timedelta(days=2))
    store.record("bob", "v1", "dislike")
    history = store.history("alice")
    assert [(e.video_id, e.kind, e.value) for e in history] == [
        ("v1", "watched", 0.8),
        ("v2", "like", None),
        ("v3", "rating", 4.5),
    ]
    assert history[0].timestamp == t0
    assert [e.kind for e in store.history("alice", kinds=["like"])] == ["like"]
    assert store.users() == ["alice", "bob"]
    assert store.history("nobody") == []


def test_watched_defaults_to_whole(store: UserStore) -> None:
    assert store.record("alice", "v1", "watched").value == 1.0


@pytest.mark.parametrize(
    ("kind", "value", "needle"),
    [
        ("love", None, "like, dislike"),
        ("watched", 1.5, "between 0 and 1"),
        ("watched", -0.1, "between 0 and 1"),
        ("rating", None, "rating between"),
        ("rating", 9, "rating between"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_written(
    store: UserStore, kind: str, value: float | None, needle: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        store.record("alice", "v1", kind, value)  # type: ignore[arg-type]
    assert needle in str(err.value)
    assert store.history("alice") == []


def test_record_many_is_all_or_nothing(store: UserStore) -> None:
    with pytest.raises(InvalidInputError):
        store.record_many("alice", [("v1", "like", None), ("v2", "watched", 3.0)])
    assert store.history("alice") == []


def test_empty_ids_are_refused(store: UserStore) -> None:
    with pytest.raises(InvalidInputError, match="user id"):
        store.record(" ", "v1", "like")
    with pytest.raises(InvalidInputError, match="video id"):
        store.record("alice", "", "like")


def test_sessions_and_turns(store: UserStore) -> None:
    session = store.start_session("alice")
    assert store.latest_session("alice") == session
    store.add_turn(session, [Message("user", "cooking please")], "Here you go", ["pasta", "bread"])
    store.add_turn(session, [Message("user", "shorter")], "Shorter ones", ["pasta"])
    turns = store.turns(session)
    assert [t.index for t in turns] == [0, 1]
    assert turns[0].messages == (Message("user", "cooking please"),)
    assert turns[0].recommended == ("pasta", "bread")
    with pytest.raises(NotFoundError):
        store.add_turn("no-such-session", [], "", [])


def test_the_current_session_is_the_latest_one_still_active(store: UserStore) -> None:
    from datetime import timedelta

    assert store.current_session("carol", timedelta(hours=2)) is None
    old = store.start_session("carol")
    store.add_turn(old, [Message("user", "space")], "Here", ["mars"])
    new = store.start_session("carol")
    assert store.current_session("carol", timedelta(hours=2)) == new
    assert store.current_session("carol", timedelta(0)) is None  # nothing is active after 0 s


def test_export_holds_everything_and_forget_deletes_it(store: UserStore) -> None:
    store.record("alice", "v1", "like")
    store.record("alice", "v2", "watched", 0.5)
    session = store.start_session("alice")
    store.add_turn(session, [Message("user", "space")], "Here", ["mars"])
    store.record("bob", "v1", "like")

    data = store.export("alice")
    assert data["user_id"] == "alice"
    events = data["events"]
    assert isinstance(events, list)
    assert [e["video_id"] for e in events] == ["v1", "v2"]
    assert data["sessions"][0]["turns"][0]["recommended"] == ["mars"]  # type: ignore[index]

    assert store.forget("alice") is True
    assert store.history("alice") == []
    assert store.turns(session) == []
    assert store.latest_session("alice") is None
    assert "alice" not in store.users()
    with pytest.raises(NotFoundError):
        store.export("alice")
    assert store.forget("alice") is False
    assert len(store.history("bob")) == 1  # others untouched


def test_store_survives_reopen(sql_url: str) -> None:
    url = sql_url
    first = UserStore(url)
    first.record("alice", "v1", "like")
    first.close()
    again = UserStore(url)
    assert [e.video_id for e in again.history("alice")] == ["v1"]
    again.close()

"""Hostile requests get clear 4xx answers: deeply nested JSON, repeated bad keys, bursts of
expensive turns, hostile user ids; deleting a user does not rewrite the whole database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.api_support import ApiEnv, api_env

ERROR_KEYS = {"error", "message", "expected", "got", "hint"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("abuse"), models_cache, max_body_kb=512) as e:
        yield e


def _nested(depth: int) -> bytes:
    return b'{"query": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize(
    "route", ["/v1/search", "/v1/recommend", "/v1/feedback", "/v1/videos", "/v1/chat/completions"]
)
def test_deeply_nested_json_is_a_422(env: ApiEnv, route: str, depth: int) -> None:
    r = env.client.post(
        route,
        content=_nested(depth),
        headers={**env.h("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, (route, r.status_code, r.text[:300])
    body = r.json()
    body = body.get("error", body) if route == "/v1/chat/completions" else body
    assert "nested" in str(body).lower() or "json" in str(body).lower()


@pytest.mark.parametrize(
    "user_id",
    [
        "../../etc/passwd",
        "a/b",
        "back\\slash",
        "bell\x07",
        "new\nline",
        "nul\x00",
        "rtl\u202eevil",
        "..",
    ],
)
def test_hostile_user_ids_are_refused_at_creation(env: ApiEnv, user_id: str) -> None:
    h = env.h("admin")
    r = env.client.post(
        "/v1/feedback", json={"user_id": user_id, "video_id": "ocean", "kind": "like"}, headers=h
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body.keys() >= ERROR_KEYS and "user id" in body["message"].lower()
    assert "alice" in body["hint"]
    assert user_id not in env.recommender.users()
    r = env.client.post("/v1/recommend", json={"user_id": user_id, "query": "ocean"}, headers=h)
    assert r.status_code == 422, r.text


def test_ordinary_ids_still_work(env: ApiEnv) -> None:
    for user_id in ("alice", "user-42", "Zoë Ünal", "a.b@example.org", "x" * 200):
        r = env.client.post(
            "/v1/feedback",
            json={"user_id": user_id, "video_id": "ocean", "kind": "like"},
            headers=env.h("admin"),
        )
        assert r.status_code == 200, (user_id, r.text)


def test_bad_keys_from_one_client_are_limited(tmp_path: Path, models_cache: Path) -> None:
    with api_env(tmp_path, models_cache, bad_key_limit_per_minute=5) as e:
        codes = [
            e.client.post(
                "/v1/search", json={"query": "ocean"}, headers={"Authorization": f"Bearer bad{i}"}
            ).status_code
            for i in range(8)
        ]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
        r = e.client.post("/v1/search", json={"query": "x"}, headers={"Authorization": "Bearer z"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"] == "rate_limited"
        # a client holding a good key is still served
        assert e.client.post("/v1/search", json={"query": "x"}, headers=e.h()).status_code == 200


def test_expensive_routes_have_their_own_lower_limit(tmp_path: Path, models_cache: Path) -> None:
    with api_env(
        tmp_path, models_cache, rate_limit_per_minute=100, expensive_rate_limit_per_minute=2
    ) as e:
        body: dict[str, Any] = {"user_id": "alice", "query": "the deep ocean"}
        codes = [
            e.client.post("/v1/recommend", json=body, headers=e.h()).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429], codes
        chat = e.client.post(
            "/v1/chat/completions",
            json={"model": "vidrec", "messages": [{"role": "user", "content": "ocean"}]},
            headers=e.h(),
        )
        assert chat.status_code == 429
        tool = e.client.post(
            "/v1/tools/recommend_videos", json={"user_id": "alice", "query": "x"}, headers=e.h()
        )
        assert tool.status_code == 429
        # cheap routes and other keys keep their own budget
        assert e.client.post("/v1/search", json={"query": "x"}, headers=e.h()).status_code == 200
        other = e.client.post("/v1/recommend", json={**body, "user_id": "bob"}, headers=e.h("bob"))
        assert other.status_code == 200


def test_deleting_a_user_leaves_no_trace_without_a_full_vacuum(env: ApiEnv) -> None:
    h = env.h("admin")
    for kind in ("like", "watched"):
        r = env.client.post(
            "/v1/feedback",
            json={"user_id": "erase-me-7f3a", "video_id": "ocean", "kind": kind},
            headers=h,
        )
        assert r.status_code == 200
    engine = env.recommender.users_store.engine
    statements: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.upper())

    event.listen(engine, "before_cursor_execute", spy)
    try:
        assert env.client.delete("/v1/users/erase-me-7f3a", headers=h).status_code == 204
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert not any(s.strip().startswith("VACUUM") for s in statements), statements
    db = Path(str(engine.url.database))
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            assert b"erase-me-7f3a" not in path.read_bytes(), path

"""API keys: hashed at rest, scoped to users, admin for the library; open health routes; rate limit;
CORS off by default. Routes run over the real Recommender with fake models."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.auth import KeyStore, extract_key
from retrieval.errors import AuthenticationError, InvalidInputError
from tests.api_support import ApiEnv, Keys, api_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("auth"), models_cache) as e:
        yield e


def _db_path(env: ApiEnv) -> str:
    return env.settings.sql_url.removeprefix("sqlite:///")


def test_keys_are_stored_only_as_sha256_hashes(env: ApiEnv) -> None:
    with sqlite3.connect(_db_path(env)) as db:
        rows = db.execute("SELECT id, key_hash, users, admin FROM api_keys").fetchall()
        dump = "\n".join(db.iterdump())
    assert len(rows) >= 4
    for secret in (env.keys.alice, env.keys.bob, env.keys.both, env.keys.admin):
        assert secret not in dump
        key_id = secret.split("_")[1]
        (row,) = [r for r in rows if r[0] == key_id]
        assert row[1] == hashlib.sha256(secret.encode()).hexdigest()


def test_key_store_create_verify_revoke(tmp_path: Path) -> None:
    store = KeyStore(f"sqlite:///{tmp_path / 'k.db'}")
    new = store.create(["carol", "dave"], label="phone app")
    principal = store.verify(new.secret)
    assert principal.users == {"carol", "dave"} and not principal.admin
    assert principal.can_access("carol") and not principal.can_access("erin")
    with pytest.raises(InvalidInputError):
        store.create([])  # neither a user nor admin
    store.revoke(new.info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        store.verify(new.secret)
    tampered = new.secret[:-1] + ("0" if new.secret[-1] != "0" else "1")
    with pytest.raises(AuthenticationError, match="not valid"):
        store.verify(tampered)
    (info,) = store.list()
    assert info.revoked_at is not None and info.label == "phone app"
    store.close()


def test_key_from_bearer_or_x_api_key_header() -> None:
    assert extract_key({"authorization": "Bearer abc"}) == "abc"
    assert extract_key({"authorization": "bearer  abc "}) == "abc"
    assert extract_key({"x-api-key": "xyz"}) == "xyz"
    assert extract_key({"authorization": "Basic Zm9v"}) is None
    assert extract_key({}) is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/recommend", {"user_id": "alice", "query": "education"}),
        ("POST", "/v1/search", {"query": "education"}),
        ("POST", "/v1/feedback", {"user_id": "alice", "video_id": "mars", "kind": "like"}),
        ("GET", "/v1/users/alice", None),
        ("DELETE", "/v1/users/alice", None),
        ("DELETE", "/v1/videos/mars", None),
        ("GET", "/v1/jobs/abc", None),
        ("POST", "/v1/chat/completions", {"model": "vidrec", "messages": []}),
        ("POST", "/v1/tools/search_videos", {"query": "x"}),
    ],
)
def test_no_key_or_wrong_key_is_401(env: ApiEnv, method: str, path: str, body: object) -> None:
    wrong = "vr_0123456789ab_" + "0" * 64
    for headers in ({}, Keys.header(wrong), Keys.header("not-a-key"), {"X-API-Key": wrong}):
        r = env.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (path, headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        data = r.json()
        err = data["error"] if isinstance(data["error"], dict) else data
        assert "key" in err["message"].lower()
    # Nothing changed: alice's and the library's data are intact.
    assert env.client.get("/v1/users/alice", headers=env.h()).status_code in (200, 404)
    assert env.recommender.library.get_video("mars") is not None


def test_x_api_key_header_is_accepted(env: ApiEnv) -> None:
    r = env.client.post("/v1/search", json={"query": "ocean"}, headers={"X-API-Key": env.keys.bob})
    assert r.status_code == 200


def test_other_users_data_is_403_and_untouched(env: ApiEnv) -> None:
    bob = env.h("bob")
    assert (
        env.client.post(
            "/v1/feedback", json={"user_id": "bob", "video_id": "mars", "kind": "like"}, headers=bob
        ).status_code
        == 200
    )
    before = env.client.get("/v1/users/bob", headers=bob).json()
    alice = env.h("alice")
    attempts = [
        ("POST", "/v1/recommend", {"user_id": "bob", "query": "space"}),
        ("POST", "/v1/feedback", {"user_id": "bob", "video_id": "ocean", "kind": "dislike"}),
        ("GET", "/v1/users/bob", None),
        ("DELETE", "/v1/users/bob", None),
        (
            "POST",
            "/v1/tools/record_feedback",
            {"user_id": "bob", "video_id": "ocean", "kind": "like"},
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "vidrec", "user": "bob", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ]
    for method, path, body in attempts:
        r = env.client.request(method, path, json=body, headers=alice)
        assert r.status_code == 403, (path, r.text)
        text = r.text
        assert "bob" in text and "alice" in text  # says whose data and which users the key has
    assert env.client.get("/v1/users/bob", headers=bob).json() == before
    # A key for both users may act for either; an admin key for anyone.
    for who in ("both", "admin"):
        assert env.client.get("/v1/users/bob", headers=env.h(who)).status_code == 200


def test_library_routes_need_an_admin_key(env: ApiEnv) -> None:
    for method, path in (("DELETE", "/v1/videos/mars"), ("GET", "/v1/jobs/nope")):
        r = env.client.request(method, path, headers=env.h("alice"))
        assert r.status_code == 403 and "admin" in r.json()["message"]
    r = env.client.post("/v1/videos", json={"paths": ["/etc/passwd"]}, headers=env.h("both"))
    assert r.status_code == 403
    assert env.recommender.library.get_video("mars") is not None


def test_health_models_tools_and_docs_are_open(env: ApiEnv) -> None:
    for path in ("/healthz", "/readyz", "/v1/models", "/v1/tools", "/openapi.json", "/docs"):
        assert env.client.get(path).status_code == 200, path
    spec = env.client.get("/openapi.json").json()
    for path in ("/v1/recommend", "/v1/chat/completions", "/v1/users/{user_id}", "/v1/videos"):
        assert path in spec["paths"]


def test_cors_is_off_by_default(env: ApiEnv) -> None:
    r = env.client.options(
        "/v1/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_configured_origins(tmp_path: Path, models_cache: Path) -> None:
    with api_env(tmp_path, models_cache, cors_origins=["https://app.example"]) as e:
        ok = e.client.options(
            "/v1/search",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = e.client.options(
            "/v1/search",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


def test_rate_limit_is_per_key_and_says_when_to_retry(tmp_path: Path, models_cache: Path) -> None:
    with api_env(tmp_path, models_cache, rate_limit_per_minute=3) as e:
        codes = [
            e.client.post("/v1/search", json={"query": "ocean"}, headers=e.h("alice")).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = e.client.post("/v1/search", json={"query": "ocean"}, headers=e.h("alice"))
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # Another key has its own budget; open routes are not limited.
        assert (
            e.client.post("/v1/search", json={"query": "x"}, headers=e.h("bob")).status_code == 200
        )
        assert all(e.client.get("/healthz").status_code == 200 for _ in range(5))


def test_keys_can_be_turned_off_for_local_use(tmp_path: Path, models_cache: Path) -> None:
    with api_env(tmp_path, models_cache, require_keys=False) as e:
        assert e.client.post("/v1/search", json={"query": "ocean"}).status_code == 200
        assert e.client.get("/v1/users/anyone").status_code in (200, 404)


def test_cli_keys_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "cli"))
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--user", "zoe", "--user", "yan"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("vr_")
    listed = runner.invoke(app, ["keys", "list"])
    assert "users=yan,zoe" in listed.stdout and secret not in listed.stdout
    key_id = secret.split("_")[1]
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).stdout
    bad = runner.invoke(app, ["keys", "create"])
    assert bad.exit_code != 0

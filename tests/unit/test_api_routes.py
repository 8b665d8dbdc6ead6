"""REST routes over the real Recommender (fake LLM/embedder/ASR, real Chroma and SQL): answers,
validation errors, size limits, audio uploads, users, readiness."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.recommender import Recommender
from api.app import create_app
from tests.agent_data import TALKS
from tests.api_support import ApiEnv, api_env, api_settings, make_keys
from tests.fakes.asr import FakeTranscriber, write_tone

LIBRARY_IDS = {t.id for t in TALKS}
ERROR_KEYS = {"error", "message", "expected", "got", "hint"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("routes"), models_cache, max_upload_mb=1.0) as e:
        yield e


def _check_items(items: list[dict[str, object]], k: int) -> None:
    assert 1 <= len(items) <= k
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    # A quote may be withheld (e.g. text that reads as instructions), never the reason.
    assert any(item["evidence_quote"] for item in items)
    for item in items:
        assert item["video_id"] in LIBRARY_IDS
        assert item["reason"] and item["title"] and isinstance(item["evidence_quote"], str)
        assert isinstance(item["evidence_start"], float)
        assert str(item["timestamp"]).count(":") >= 1
        assert str(item["play_url"]).startswith("https://example.org/")
        assert f"t={int(item['evidence_start'])}" in str(item["play_url"])


def test_recommend_from_a_query(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/recommend",
        json={"user_id": "alice", "query": "teaching children", "k": 3},
        headers=env.h(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == ""  # no limit or exclusion to state: the cards say it all
    _check_items(body["recommendations"], 3)
    assert body["transcript"] is None


def test_recommend_from_a_conversation_with_filters(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/recommend",
        json={
            "user_id": "alice",
            "messages": [
                {"role": "user", "content": "I like science"},
                {"role": "assistant", "content": "Space or the sea?"},
                {"role": "user", "content": "the sea, something short"},
            ],
            "k": 5,
            "filters": {"max_duration": 200},
        },
        headers=env.h(),
    )
    assert r.status_code == 200, r.text
    items = r.json()["recommendations"]
    _check_items(items, 5)
    assert all(i["duration"] is not None and i["duration"] <= 200 for i in items)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"user_id": "alice"}, "exactly one"),
        (
            {"user_id": "alice", "query": "x", "messages": [{"role": "user", "content": "y"}]},
            "exactly one",
        ),
        ({"user_id": "alice", "query": "x", "k": 0}, "k"),
        ({"user_id": "alice", "query": "x", "k": "many"}, "k"),
        ({"user_id": "alice", "query": "x", "colour": "red"}, "colour"),
        ({"query": "x"}, "user_id"),
        (
            {"user_id": "alice", "messages": [{"role": "assistant", "content": "hi"}]},
            "user message",
        ),
        ({"user_id": "alice", "query": "x", "filters": {"max_duration": -1}}, "max_duration"),
        (
            {"user_id": "alice", "query": "x", "filters": {"min_duration": 9, "max_duration": 1}},
            "min_duration",
        ),
        (
            {"user_id": "alice", "query": "x", "filters": {"published_after": "last year"}},
            "published_after",
        ),
    ],
)
def test_invalid_recommend_requests_are_422_saying_what_is_wrong(
    env: ApiEnv, body: dict[str, object], where: str
) -> None:
    r = env.client.post("/v1/recommend", json=body, headers=env.h())
    assert r.status_code == 422, r.text
    data = r.json()
    assert data.keys() >= ERROR_KEYS and data["error"] == "invalid_input"
    assert where in data["message"] + str(data["expected"]) + str(data["details"])
    assert data["details"]


@pytest.mark.parametrize("path", ["/v1/recommend", "/v1/search", "/v1/feedback"])
def test_malformed_json_is_422(env: ApiEnv, path: str) -> None:
    r = env.client.post(
        path,
        content=b'{"user_id": "alice", "query": ',
        headers={**env.h(), "content-type": "application/json"},
    )
    assert r.status_code == 422
    data = r.json()
    assert data["error"] == "invalid_input" and "not valid JSON" in data["message"]


def test_wrong_content_type_is_415(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/recommend", content=b"user_id=alice", headers={**env.h(), "content-type": "text/plain"}
    )
    assert r.status_code == 415 and "application/json" in r.json()["expected"]


def test_huge_bodies_are_413_before_and_while_reading(env: ApiEnv) -> None:
    huge = "x" * (int(env.settings.api.max_body_kb * 1024) + 10)
    declared = env.client.post(
        "/v1/recommend", json={"user_id": "alice", "query": huge}, headers=env.h()
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == "payload_too_large"
    assert "MAX_BODY_KB" in declared.json()["hint"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"query": "'
        for _ in range(400):
            yield b"x" * 1024
        yield b'"}'

    for path in ("/v1/search", "/v1/recommend", "/v1/chat/completions"):
        r = env.client.post(
            path, content=chunked(), headers={**env.h(), "content-type": "application/json"}
        )
        assert r.status_code == 413, (path, r.text)
    # The OpenAI route keeps OpenAI's error envelope.
    assert r.json()["error"]["code"] == "payload_too_large"


def test_search_returns_quotes_and_timestamps(env: ApiEnv) -> None:
    r = env.client.post("/v1/search", json={"query": "deep ocean", "k": 3}, headers=env.h("bob"))
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert 1 <= len(hits) <= 3
    assert hits[0]["video_id"] == "ocean"
    assert all(h["quote"] and ":" in h["timestamp"] for h in hits)


def test_feedback_export_and_delete_user(env: ApiEnv) -> None:
    h = env.h("both")
    for body in (
        {"user_id": "bob", "video_id": "ocean", "kind": "like"},
        {"user_id": "bob", "video_id": "mars", "kind": "watched", "value": 0.5},
        {"user_id": "bob", "video_id": "pasta", "kind": "rating", "value": 4},
    ):
        r = env.client.post("/v1/feedback", json=body, headers=h)
        assert r.status_code == 200 and r.json()["recorded"], r.text
    exported = env.client.get("/v1/users/bob", headers=h)
    assert exported.status_code == 200
    text = exported.text
    assert "ocean" in text and "mars" in text and "pasta" in text

    bad = env.client.post(
        "/v1/feedback", json={"user_id": "bob", "video_id": "ocean", "kind": "love"}, headers=h
    )
    assert bad.status_code == 422 and "kind" in str(bad.json()["details"])
    out_of_range = env.client.post(
        "/v1/feedback",
        json={"user_id": "bob", "video_id": "ocean", "kind": "watched", "value": 3},
        headers=h,
    )
    assert out_of_range.status_code == 422
    missing = env.client.post(
        "/v1/feedback", json={"user_id": "bob", "video_id": "no-such", "kind": "like"}, headers=h
    )
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert env.client.get("/v1/users/bob", headers=h).text == text  # failures changed nothing

    assert env.client.delete("/v1/users/bob", headers=h).status_code == 204
    gone = env.client.get("/v1/users/bob", headers=h)
    assert gone.status_code == 404 or "ocean" not in gone.text


def test_transcribe_an_upload(env: ApiEnv, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "question.wav", seconds=2.0)
    FakeTranscriber.enqueue("tell me about the deep ocean")
    with wav.open("rb") as f:
        r = env.client.post(
            "/v1/transcribe", files={"audio": ("question.wav", f, "audio/wav")}, headers=env.h()
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "tell me about the deep ocean"
    assert body["duration"] == pytest.approx(2.0, abs=0.05)
    assert body["segments"][0]["start"] == 0.0
    assert not any((env.settings.cache_dir / "api-audio").glob("*"))  # temp file removed


def test_voice_query_recommends_from_the_transcript(env: ApiEnv, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "q.wav", seconds=1.5)
    FakeTranscriber.enqueue("something about the deep ocean")
    with wav.open("rb") as f:
        r = env.client.post(
            "/v1/recommend",
            files={"audio": ("q.wav", f, "audio/wav")},
            data={"user_id": "alice", "k": "2", "filters": '{"max_duration": 1000}'},
            headers=env.h(),
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"]["text"] == "something about the deep ocean"
    _check_items(body["recommendations"], 2)
    assert "ocean" in {i["video_id"] for i in body["recommendations"]}


def test_voice_query_checks_the_users_scope_before_transcribing(
    env: ApiEnv, tmp_path: Path
) -> None:
    wav = write_tone(tmp_path / "q.wav", seconds=1.0)
    with wav.open("rb") as f:
        r = env.client.post(
            "/v1/recommend",
            files={"audio": ("q.wav", f, "audio/wav")},
            data={"user_id": "bob"},
            headers=env.h("alice"),
        )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("name", "content", "ctype", "status", "code"),
    [
        ("notes.txt", b"hello, this is text", "text/plain", 415, "unsupported_media_type"),
        ("photo.png", b"\x89PNG\r\n\x1a\n0000", "image/png", 415, "unsupported_media_type"),
        ("data.bin", b"\x00\x01\x02", "application/octet-stream", 415, "unsupported_media_type"),
        ("fake.wav", b"RIFF....WAVEthis is not audio at all", "audio/wav", 422, "bad_media"),
        ("empty.mp3", b"", "audio/mpeg", 422, "bad_media"),
    ],
)
def test_wrong_audio_is_refused_clearly(
    env: ApiEnv, name: str, content: bytes, ctype: str, status: int, code: str
) -> None:
    for path, data in (("/v1/transcribe", None), ("/v1/recommend", {"user_id": "alice"})):
        r = env.client.post(
            path, files={"audio": (name, content, ctype)}, data=data, headers=env.h()
        )
        assert r.status_code == status, (path, r.text)
        body = r.json()
        assert body["error"] == code and body["message"] and body["expected"]
    assert not any((env.settings.cache_dir / "api-audio").glob("*"))


def test_missing_audio_field_and_oversized_audio(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/transcribe",
        data={"user_id": "alice"},
        files={"x": ("a.wav", b"1", "audio/wav")},
        headers=env.h(),
    )
    assert r.status_code == 422 and "'audio'" in r.json()["expected"]
    big = b"\0" * (1024 * 1024 + 100)  # max_upload_mb=1 in this module
    r = env.client.post(
        "/v1/transcribe", files={"audio": ("big.wav", big, "audio/wav")}, headers=env.h()
    )
    assert r.status_code == 413 and "MAX_UPLOAD_MB" in r.json()["hint"]


def test_unknown_route_and_method_use_the_error_shape(env: ApiEnv) -> None:
    r = env.client.get("/v1/nothing-here", headers=env.h())
    assert r.status_code == 404 and r.json().keys() >= ERROR_KEYS
    r = env.client.get("/v1/recommend", headers=env.h())
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


class _SlowStart(Recommender):
    """The real facade whose warm-up waits for the test (to observe the loading state)."""

    gate = threading.Event()

    def warmup(self) -> dict[str, float]:
        assert self.gate.wait(30)
        return {}


def test_503_while_models_load_then_ready(tmp_path: Path, models_cache: Path) -> None:
    settings = api_settings(tmp_path, models_cache)
    keys = make_keys(settings)
    rec = _SlowStart(settings)
    try:
        with TestClient(create_app(settings, rec)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "starting"
            assert client.get("/healthz").status_code == 200  # alive all along
            r = client.post(
                "/v1/search",
                json={"query": "ocean"},
                headers={"Authorization": f"Bearer {keys.alice}"},
            )
            assert r.status_code == 503 and r.json()["error"] == "not_ready"
            assert int(r.headers["retry-after"]) > 0
            _SlowStart.gate.set()
            for _ in range(200):
                if client.get("/readyz").status_code == 200:
                    break
                threading.Event().wait(0.02)
            assert client.get("/readyz").json()["status"] == "ready"
            r = client.post(
                "/v1/search",
                json={"query": "ocean"},
                headers={"Authorization": f"Bearer {keys.alice}"},
            )
            assert r.status_code == 200  # an empty library: no hits, but an answer
    finally:
        rec.close()


class _Broken(Recommender):
    """The real facade with a bug planted in search (to see what a crash looks like)."""

    def warmup(self) -> dict[str, float]:
        return {}

    def search(self, *args: object, **kwargs: object) -> list[Any]:
        raise RuntimeError("secret internal detail")


def test_an_unexpected_crash_is_a_500_without_internals(tmp_path: Path, models_cache: Path) -> None:
    settings = api_settings(tmp_path, models_cache)
    keys = make_keys(settings)
    rec = _Broken(settings)
    try:
        with TestClient(create_app(settings, rec), raise_server_exceptions=False) as client:
            r = client.post(
                "/v1/search", json={"query": "x"}, headers={"Authorization": f"Bearer {keys.alice}"}
            )
            assert r.status_code == 500
            body = r.json()
            assert body["error"] == "internal_error" and "incident" in body["hint"]
            assert "secret internal detail" not in r.text
            assert client.get("/healthz").status_code == 200
    finally:
        rec.close()


@pytest.mark.parametrize(
    ("llm", "configured", "expected"),
    [("llamacpp", None, 1), ("transformers", None, 1), ("vllm", None, 8), ("fake", 3, 3)],
)
def test_concurrency_default_follows_the_llm(
    tmp_path: Path, models_cache: Path, llm: str, configured: int | None, expected: int
) -> None:
    settings = api_settings(tmp_path, models_cache, max_concurrency=configured)
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": llm})})
    rec = Recommender(settings)  # lazy: nothing loads
    try:
        assert create_app(settings, rec).state.ctx.concurrency == expected
    finally:
        rec.close()

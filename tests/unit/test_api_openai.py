"""The OpenAI-compatible wire format (TestClient level; the official client drives it in
tests/integration/test_openai_client.py) and the tool routes and schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from api.tools import openai_tools
from tests.agent_data import TALKS
from tests.api_support import ApiEnv, api_env

LIBRARY_IDS = {t.id for t in TALKS}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("openai"), models_cache) as e:
        yield e


def _chat(**extra: Any) -> dict[str, Any]:
    return {
        "model": "vidrec",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "I want to learn about the deep ocean"},
        ],
        **extra,
    }


def _sse(text: str) -> list[Any]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_models_list(env: ApiEnv) -> None:
    body = env.client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["vidrec"]
    assert env.client.get("/v1/models/vidrec").json()["owned_by"] == "vidrec"
    assert env.client.get("/v1/models/gpt-4").status_code == 404


def test_completion_has_reply_text_and_structured_items(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/chat/completions", json=_chat(user="alice", temperature=0.2), headers=env.h()
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "vidrec"
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    items = body["vidrec"]["recommendations"]
    assert body["vidrec"]["user"] == "alice"
    assert items and {i["video_id"] for i in items} <= LIBRARY_IDS
    assert "ocean" in {i["video_id"] for i in items}
    for item in items:  # every item is readable in the text too
        assert item["title"] in content
        assert item["reason"] and item["timestamp"]


def test_user_defaults_to_the_keys_only_user(env: ApiEnv) -> None:
    r = env.client.post("/v1/chat/completions", json=_chat(), headers=env.h("alice"))
    assert r.status_code == 200 and r.json()["vidrec"]["user"] == "alice"
    r = env.client.post("/v1/chat/completions", json=_chat(), headers=env.h("both"))
    assert r.status_code == 422 and "user" in r.json()["error"]["expected"]


def test_vidrec_options_set_k_and_filters(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/chat/completions",
        json=_chat(vidrec={"k": 2, "filters": {"max_duration": 200}}),
        headers=env.h(),
    )
    items = r.json()["vidrec"]["recommendations"]
    assert 1 <= len(items) <= 2 and all(i["duration"] <= 200 for i in items)


def test_streaming_uses_openai_chunks_and_ends_with_done(env: ApiEnv) -> None:
    with env.client.stream(
        "POST", "/v1/chat/completions", json=_chat(stream=True), headers=env.h()
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    events = _sse(text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    items = last["vidrec"]["recommendations"]
    assert items and all(i["title"] in content for i in items)
    assert len(chunks) > 3  # streamed in pieces, not one blob


def test_errors_use_openai_envelope(env: ApiEnv) -> None:
    r = env.client.post("/v1/chat/completions", json=_chat(model="gpt-4o"), headers=env.h())
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found" and "vidrec" in err["message"] and err["hint"]
    r = env.client.post(
        "/v1/chat/completions",
        json={"model": "vidrec", "messages": [{"role": "assistant", "content": "hello"}]},
        headers=env.h(),
    )
    assert r.status_code == 422 and "user message" in r.json()["error"]["message"]
    r = env.client.post(
        "/v1/chat/completions",
        json=_chat(
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        ),
        headers=env.h(),
    )
    assert r.status_code == 422 and "image_url" in r.json()["error"]["message"]
    r = env.client.post("/v1/chat/completions", json={"model": "vidrec"}, headers=env.h())
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    r = env.client.post("/v1/chat/completions", json=_chat(stream=True, model="x"), headers=env.h())
    assert r.status_code == 404  # refused before any stream starts


def test_text_content_parts_are_joined(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/chat/completions",
        json=_chat(
            messages=[{"role": "user", "content": [{"type": "text", "text": "deep ocean"}]}]
        ),
        headers=env.h(),
    )
    assert r.status_code == 200 and r.json()["vidrec"]["recommendations"]


# --- tools ---------------------------------------------------------------------------------------


def test_tool_schema_is_self_contained_and_validates_calls(env: ApiEnv) -> None:
    tools = env.client.get("/v1/tools").json()["tools"]
    assert [t["function"]["name"] for t in tools] == [
        "recommend_videos",
        "search_videos",
        "record_feedback",
    ]
    assert "$ref" not in json.dumps(tools)
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    good = {"query": "ocean", "k": 3, "filters": {"max_duration": 600, "languages": ["en"]}}
    jsonschema.validate(good, schemas["recommend_videos"])
    for bad in ({"k": 3}, {"query": "x", "k": 99}, {"query": "x", "filters": {"max_minutes": 3}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schemas["recommend_videos"])
    assert schemas["record_feedback"]["properties"]["kind"]["enum"] == [
        "like",
        "dislike",
        "watched",
        "rating",
        "impression",
    ]


def test_cli_prints_the_same_tool_schema(env: ApiEnv) -> None:
    from ui.cli import app

    out = CliRunner().invoke(app, ["tool-schema"])
    assert out.exit_code == 0
    assert json.loads(out.stdout) == env.client.get("/v1/tools").json()["tools"] == openai_tools()


def test_tool_calls_run_against_the_facade(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/tools/recommend_videos",
        json={"query": "space travel to mars", "k": 2},
        headers=env.h(),
    )
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert r.json()["tool"] == "recommend_videos"
    assert result["recommendations"] and len(result["recommendations"]) <= 2
    assert "mars" in {i["video_id"] for i in result["recommendations"]}

    r = env.client.post("/v1/tools/search_videos", json={"query": "pasta"}, headers=env.h())
    assert r.json()["result"]["hits"][0]["video_id"] == "pasta"

    r = env.client.post(
        "/v1/tools/record_feedback",
        json={"video_id": "mars", "kind": "like"},
        headers=env.h("alice"),
    )
    assert r.status_code == 200 and r.json()["result"]["user_id"] == "alice"
    assert "mars" in env.client.get("/v1/users/alice", headers=env.h()).text


def test_bad_tool_calls(env: ApiEnv) -> None:
    r = env.client.post("/v1/tools/launch_rockets", json={}, headers=env.h())
    assert r.status_code == 404 and "recommend_videos" in r.json()["expected"]
    r = env.client.post("/v1/tools/recommend_videos", json={"k": 3}, headers=env.h())
    assert r.status_code == 422 and "query" in r.json()["message"]
    r = env.client.post(
        "/v1/tools/record_feedback",
        json={"video_id": "mars", "kind": "like"},
        headers=env.h("both"),
    )
    assert r.status_code == 422 and "user" in r.json()["message"].lower()

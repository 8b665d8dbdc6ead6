"""The MCP server driven by the official ``mcp`` client: streamable HTTP (mounted at /mcp in the API
on a real uvicorn server, with API keys) and stdio (``vidrec mcp`` as a subprocess)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from api.app import create_app
from api.tools import openai_tools
from tests.api_support import (
    FAKE_CLI,
    REPO,
    api_settings,
    fake_cli_env,
    free_port,
    indexed_recommender,
    make_keys,
    serve,
    stop_server,
)

pytestmark = pytest.mark.integration

# Runs the real CLI in a subprocess with the test fakes registered (as tests/conftest.py does).


def _normalise(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop titles and inline refs, so MCP's listing and /v1/tools compare field by field."""
    from api.tools import _resolve_refs

    out: dict[str, Any] = _resolve_refs(schema, schema.get("$defs", {}))
    out.pop("additionalProperties", None)
    return out


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, models_cache: Path
) -> Iterator[tuple[str, Any]]:
    tmp = tmp_path_factory.mktemp("mcp-http")
    settings = api_settings(tmp, models_cache)
    rec = indexed_recommender(settings, tmp)
    keys = make_keys(settings)
    try:
        with serve(create_app(settings, rec)) as base:
            yield base, keys
    finally:
        rec.close()


async def _with_key(url: str, key: str | None, fn: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await fn(client)


def test_http_lists_the_same_tools_as_the_rest_schema(server: tuple[str, Any]) -> None:
    base, keys = server

    async def go(client: Client) -> Any:
        return await client.list_tools()

    listed = anyio.run(_with_key, f"{base}/mcp", keys.alice, go)
    by_name = {t.name: t for t in listed.tools}
    rest = {t["function"]["name"]: t["function"] for t in openai_tools()}
    assert set(by_name) == set(rest)
    for name, tool in by_name.items():
        assert tool.description == rest[name]["description"]
        mcp_schema = _normalise(tool.input_schema)
        rest_schema = _normalise(rest[name]["parameters"])
        assert mcp_schema["properties"] == rest_schema["properties"], name
        assert sorted(mcp_schema.get("required", [])) == sorted(rest_schema.get("required", []))


def test_http_tool_calls_act_for_the_keys_user(server: tuple[str, Any]) -> None:
    base, keys = server

    async def go(client: Client) -> Any:
        rec = await client.call_tool("recommend_videos", {"query": "the deep ocean", "k": 2})
        fb = await client.call_tool("record_feedback", {"video_id": "ocean", "kind": "like"})
        other = await client.call_tool(
            "record_feedback", {"video_id": "ocean", "kind": "like", "user_id": "bob"}
        )
        bad = await client.call_tool("recommend_videos", {"k": 2})
        return rec, fb, other, bad

    rec, fb, other, bad = anyio.run(_with_key, f"{base}/mcp", keys.alice, go)
    assert not rec.is_error
    items = rec.structured_content["recommendations"]
    assert 1 <= len(items) <= 2 and "ocean" in {i["video_id"] for i in items}
    assert all(i["reason"] and i["timestamp"] and i["play_url"] for i in items)
    assert not fb.is_error and fb.structured_content["user_id"] == "alice"
    assert other.is_error and "bob" in other.content[0].text  # 403 becomes a tool error
    assert bad.is_error and "query" in bad.content[0].text
    exported = httpx2.get(f"{base}/v1/users/alice", headers={"X-API-Key": keys.alice}).json()
    assert "ocean" in str(exported)


def test_http_without_a_valid_key_is_refused(server: tuple[str, Any]) -> None:
    base, _ = server
    for key in (None, "vr_0123456789ab_" + "0" * 64):
        r = httpx2.post(
            f"{base}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Accept": "application/json, text/event-stream",
                **({"Authorization": f"Bearer {key}"} if key else {}),
            },
        )
        assert r.status_code == 401 and r.json()["error"] == "unauthenticated"

    async def go(client: Client) -> Any:
        return await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the 401 as its own error type
        anyio.run(_with_key, f"{base}/mcp", None, go)


def test_stdio_subprocess(tmp_path: Path, models_cache: Path) -> None:
    settings = api_settings(tmp_path, models_cache)
    indexed_recommender(settings, tmp_path).close()
    env = fake_cli_env(settings.data_dir, models_cache)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", FAKE_CLI, "mcp", "--transport", "stdio", "--user", "carol"],
        env=env,
        cwd=str(REPO),
    )

    async def go() -> Any:
        async with Client(params, read_timeout_seconds=60) as client:
            tools = await client.list_tools()
            rec = await client.call_tool("recommend_videos", {"query": "cooking pasta", "k": 3})
            fb = await client.call_tool("record_feedback", {"video_id": "pasta", "kind": "like"})
            return tools, rec, fb

    tools, rec, fb = anyio.run(go)
    assert {t.name for t in tools.tools} == {"recommend_videos", "search_videos", "record_feedback"}
    assert not rec.is_error
    assert "pasta" in {i["video_id"] for i in rec.structured_content["recommendations"]}
    assert fb.structured_content["user_id"] == "carol"


@pytest.mark.slow  # a second CLI subprocess; the same HTTP app is tested mounted at /mcp above
def test_standalone_http_server(tmp_path: Path, models_cache: Path) -> None:
    """`vidrec mcp --transport http` on its own port, with the same API keys."""
    from api.auth import KeyStore

    data = tmp_path / "data"
    store = KeyStore(f"sqlite:///{data / 'vidrec.db'}")
    key = store.create(["dana"]).secret
    store.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_CLI, "mcp", "--transport", "http", "--port", str(port)],
        env=fake_cli_env(data, models_cache),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                refused = httpx2.post(url, json={}, timeout=2)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "vidrec mcp --transport http did not start"
                time.sleep(0.2)
        assert refused.status_code == 401

        async def go(client: Client) -> Any:
            return await client.list_tools()

        listed = anyio.run(_with_key, url, key, go)
        assert {t.name for t in listed.tools} == {
            "recommend_videos",
            "search_videos",
            "record_feedback",
        }
    finally:
        stop_server(proc)

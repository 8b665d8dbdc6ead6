"""The API on a real uvicorn server on 127.0.0.1: `vidrec serve` as a process, real sockets for
size limits and streaming, concurrent clients. Fake models, real Chroma and SQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.auth import KeyStore
from tests.api_support import (
    FAKE_CLI,
    REPO,
    Keys,
    api_settings,
    fake_cli_env,
    free_port,
    indexed_recommender,
    make_keys,
    serve,
    stop_server,
)
from tests.fakes.asr import FakeTranscriber, write_tone

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, models_cache: Path
) -> Iterator[tuple[str, Keys, Path]]:
    tmp = tmp_path_factory.mktemp("server")
    settings = api_settings(tmp, models_cache, max_upload_mb=1.0, max_concurrency=2)
    rec = indexed_recommender(settings, tmp)
    keys = make_keys(settings)
    try:
        with serve(create_app(settings, rec)) as base:
            yield base, keys, settings.data_dir
    finally:
        rec.close()


@pytest.mark.slow  # a second interpreter start; every other test here serves the same app in-thread
def test_vidrec_serve_runs_the_app(tmp_path: Path, models_cache: Path) -> None:
    port = free_port()
    env = fake_cli_env(tmp_path / "data", models_cache)
    store = KeyStore(f"sqlite:///{tmp_path / 'data' / 'vidrec.db'}")  # the server's database
    key = store.create(["alice"]).secret
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_CLI, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vidrec serve did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert "/v1/chat/completions" in httpx.get(f"{base}/openapi.json").json()["paths"]
        assert httpx.get(f"{base}/docs").status_code == 200
        assert httpx.post(f"{base}/v1/search", json={"query": "x"}).status_code == 401
        r = httpx.get(f"{base}/v1/users/alice", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code in (200, 404)  # authorised: alice has no history yet
    finally:
        stop_server(proc)
    assert proc.returncode == 0


def test_size_limits_over_real_sockets(server: tuple[str, Keys, Path]) -> None:
    base, keys, data_dir = server
    h = Keys.header(keys.admin)
    r = httpx.post(
        f"{base}/v1/transcribe",
        files={"audio": ("a.wav", b"\0" * (2 * 1024 * 1024), "audio/wav")},
        headers=h,
    )
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.wav"\r\n'
        yield b"Content-Type: audio/wav\r\n\r\n"
        for _ in range(2048):
            yield b"\0" * 1024
        yield b"\r\n--b--\r\n"

    r = httpx.post(
        f"{base}/v1/videos",
        content=chunked(),
        headers={**h, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 413
    uploads = data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert httpx.get(f"{base}/healthz").status_code == 200  # still serving


def test_sse_stream_over_http(server: tuple[str, Keys, Path]) -> None:
    base, keys, _ = server
    lines: list[str] = []
    with httpx.stream(
        "POST",
        f"{base}/v1/chat/completions",
        json={"model": "vidrec", "stream": True, "messages": [{"role": "user", "content": "mars"}]},
        headers=Keys.header(keys.alice),
        timeout=60,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]" and '"finish_reason": "stop"' in lines[-2]
    assert '"vidrec"' in lines[-2]


def test_voice_query_over_http(server: tuple[str, Keys, Path], tmp_path: Path) -> None:
    base, keys, _ = server
    wav = write_tone(tmp_path / "q.wav", seconds=1.0)
    FakeTranscriber.enqueue("a talk about going to mars")  # same process: the server thread
    r = httpx.post(
        f"{base}/v1/recommend",
        files={"audio": ("q.wav", wav.read_bytes(), "audio/wav")},
        data={"user_id": "alice", "k": "2"},
        headers={"X-API-Key": keys.alice},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"]["text"] == "a talk about going to mars"
    assert "mars" in {i["video_id"] for i in body["recommendations"]}


def test_concurrent_clients(server: tuple[str, Keys, Path]) -> None:
    base, keys, _ = server
    queries = ["ocean", "mars", "pasta", "bread", "schools", "climate"] * 3

    def ask(q: str) -> tuple[int, str]:
        r = httpx.post(
            f"{base}/v1/recommend",
            json={"user_id": "alice", "query": q, "k": 1},
            headers=Keys.header(keys.alice),
            timeout=120,
        )
        return r.status_code, r.json()["recommendations"][0][
            "video_id"
        ] if r.status_code == 200 else r.text

    with ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(ask, queries))
    assert all(code == 200 for code, _ in results), results
    # The same question gets the same answer whatever else runs at the same time.
    by_query: dict[str, set[str]] = {}
    for q, (_, top) in zip(queries, results, strict=True):
        by_query.setdefault(q, set()).add(top)
    assert all(len(tops) == 1 for tops in by_query.values()), by_query


def test_concurrent_streams(server: tuple[str, Keys, Path]) -> None:
    """Streams interleave on the server's threads; the facade's stream (which holds the LLM lock
    across its yields) must still run each on one thread, or releasing the lock fails."""
    base, keys, _ = server

    def stream(q: str) -> list[str]:
        with httpx.stream(
            "POST",
            f"{base}/v1/chat/completions",
            json={"model": "vidrec", "stream": True, "messages": [{"role": "user", "content": q}]},
            headers=Keys.header(keys.alice),
            timeout=120,
        ) as r:
            assert r.status_code == 200
            return [line for line in r.iter_lines() if line]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(stream, ["ocean", "mars", "pasta", "bread", "schools", "climate"] * 2)
        )
    for lines in results:
        assert lines[-1] == "data: [DONE]"
        assert not any('"error"' in line for line in lines), lines
        assert '"finish_reason": "stop"' in lines[-2]

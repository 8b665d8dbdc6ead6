"""Helpers for the API tests: settings with fake backends, a tiny indexed library, keys, and a real
uvicorn server on 127.0.0.1 (free port, background thread)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from agent.recommender import Recommender
from agent.settings import Settings
from api.auth import KeyStore
from tests.agent_data import write_library

REPO = Path(__file__).resolve().parents[1]


FAKE_CLI = (
    "import sys; from tests.conftest import pytest_configure; pytest_configure(None); "
    "from ui.cli import main; sys.argv[0] = 'vidrec'; main()"
)
"""``python -c FAKE_CLI <args>`` runs the real ``vidrec`` CLI with the test fakes registered (as
tests/conftest.py registers them), for subprocess tests and the fake-backend benchmark."""


def fake_cli_env(data_dir: Path, models_cache: Path) -> dict[str, str]:
    """Environment for a ``FAKE_CLI`` subprocess: fake models, this data dir, repo importable."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VIDREC_DATA_DIR": str(data_dir),
        "VIDREC_MODELS_CACHE": str(models_cache),
        "VIDREC_LLM__BACKEND": "fake",
        "VIDREC_EMBEDDING__BACKEND": "fake",
        "VIDREC_ASR__BACKEND": "fake",
    }


def api_settings(tmp_path: Path, models_cache: Path, **api: Any) -> Settings:
    """Fake LLM/embedder/ASR, a temp data dir, keys required, no rate limits unless asked."""
    return Settings(
        data_dir=tmp_path / "data",
        models_cache=models_cache,
        asr={"backend": "fake"},
        embedding={"backend": "fake"},
        llm={"backend": "fake"},
        api={
            "rate_limit_per_minute": 0,
            "expensive_rate_limit_per_minute": 0,
            "bad_key_limit_per_minute": 0,
            **api,
        },
    )


def indexed_recommender(settings: Settings, tmp_path: Path) -> Recommender:
    """The real facade over the tiny test library (fake models, real Chroma and SQL)."""
    rec = Recommender(settings)
    manifest = write_library(tmp_path / "library")
    report = rec.ingest([], manifest=manifest)
    assert report.ok and report.ingested, report
    return rec


@dataclass(frozen=True)
class Keys:
    alice: str
    bob: str
    both: str
    admin: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def make_keys(settings: Settings) -> Keys:
    store = KeyStore(settings.sql_url)
    try:
        return Keys(
            alice=store.create(["alice"]).secret,
            bob=store.create(["bob"]).secret,
            both=store.create(["alice", "bob"]).secret,
            admin=store.create([], admin=True).secret,
        )
    finally:
        store.close()


def stop_server(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Ctrl-C a served CLI subprocess (graceful shutdown), killing it if it does not exit."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(app: Any, *, ready_timeout: float = 60.0) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on 127.0.0.1 in a thread; yield its base URL once
    ``/readyz`` answers 200; stop it afterwards."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("the test server exited during start-up")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {ready_timeout} s")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_ready(client: Any, timeout: float = 30.0) -> None:
    """Poll ``/readyz`` through a TestClient until 200."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(client.get("/readyz").json())
        time.sleep(0.02)


def wait_job(env: ApiEnv, job: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Poll an ingest job (admin key) until it is no longer queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        r = env.client.get(job["status_url"], headers=env.h("admin"))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] not in ("queued", "running"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@dataclass
class ApiEnv:
    settings: Settings
    recommender: Recommender
    keys: Keys
    client: Any  # fastapi.testclient.TestClient

    def h(self, who: str = "alice") -> dict[str, str]:
        return Keys.header(getattr(self.keys, who))


@contextmanager
def api_env(tmp_path: Path, models_cache: Path, **api: Any) -> Iterator[ApiEnv]:
    """The app over the real facade (fake models) and the tiny library, in a TestClient."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = api_settings(tmp_path, models_cache, **api)
    rec = indexed_recommender(settings, tmp_path)
    keys = make_keys(settings)
    try:
        with TestClient(create_app(settings, rec)) as client:
            wait_ready(client)
            yield ApiEnv(settings, rec, keys, client)
    finally:
        rec.close()

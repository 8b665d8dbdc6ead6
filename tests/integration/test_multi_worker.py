"""Several API workers on shared engines, started from the real binaries (``-m slow``).

PostgreSQL and Redis (Debian packages from ``scripts/setup.sh``), a ``chroma run`` server, the
language model behind llama.cpp's OpenAI-compatible server (``xllamacpp.Server`` in a process of
its own, standing in for ``vllm serve``; the workers use the ``vllm`` backend), and two ``vidrec
serve`` processes on their own ports (two replicas, as behind a load balancer) sharing one data
dir; the embedder and Whisper are the test fakes. Shown: a feedback write through one worker
changes the next answer served by the other; a video ingested through one is found by search on
the other; a worker killed with ``kill -9`` in the middle of requests loses nothing it
acknowledged (feedback answered 200, ingest jobs answered 202); 32 concurrent clients see no 5xx.
The last test starts ``vidrec serve --workers 2`` itself (uvicorn's process manager) on the same
engines.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.settings import Settings
from tests import services
from tests.api_support import FAKE_CLI, REPO, fake_cli_env, indexed_recommender, stop_server
from tests.fakes.asr import write_tone

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITE = REPO / "tests" / "site"  # registers the fakes in spawned worker processes


@dataclass
class Cluster:
    env: dict[str, str]
    admin: dict[str, str]
    workers: list[str]  # base URLs
    procs: list[subprocess.Popen[bytes]]
    data_dir: Path
    llm: services.LlamaServer


def _start_api(env: dict[str, str], log: Path, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = services.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            FAKE_CLI,
            "serve",
            "--port",
            str(port),
            *extra,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"the API exited with {proc.returncode}; see {log}"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return base, proc
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the API at {base} was not ready; see {log}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(
    postgres: services.Postgres,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    models_cache: Path,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with (
        services.chroma_server(root / "chroma") as chroma_url,
        services.llama_server(models_cache, root) as llm,
    ):
        data_dir = root / "data"
        env = {
            **fake_cli_env(data_dir, models_cache),
            "PYTHONPATH": f"{SITE}{os.pathsep}{REPO}",
            "VIDREC_SQL__URL": postgres.new_database(),
            "VIDREC_STORE__CHROMA_URL": chroma_url,
            "VIDREC_API__RATE_LIMIT_STORAGE": redis_url,
            "VIDREC_API__INGEST_LEASE_S": "2",
            "VIDREC_API__INGEST_POLL_S": "0.2",
            "VIDREC_LLM__BACKEND": "vllm",
            "VIDREC_LLM__BASE_URL": llm.base_url,
            "VIDREC_LLM__MODEL": llm.model,
            "VIDREC_LLM__TIMEOUT_S": "600",  # a shared 2-core CPU decodes slowly under load
            "VIDREC_AGENT__EXPLAIN_TOP": "1",  # one model reason per answer: 32 clients at once
        }
        settings = Settings(
            data_dir=data_dir,
            models_cache=models_cache,
            sql={"url": env["VIDREC_SQL__URL"]},
            store={"chroma_url": chroma_url},
            asr={"backend": "fake"},
            embedding={"backend": "fake"},
            llm={"backend": "fake"},
        )
        indexed_recommender(settings, root).close()  # the tiny library, through the real facade
        from api.auth import KeyStore

        keys = KeyStore(settings.sql_url)
        admin = {"Authorization": f"Bearer {keys.create([], admin=True).secret}"}
        keys.close()
        started = [_start_api(env, root / f"worker{i}.log") for i in range(2)]
        try:
            workers, procs = [b for b, _ in started], [p for _, p in started]
            yield Cluster(env, admin, workers, procs, data_dir, llm)
        finally:
            for _, proc in started:
                if proc.poll() is None:
                    stop_server(proc)


def _recommend(base: str, headers: dict[str, str], user: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/recommend",
        json={"user_id": user, "query": "children creativity in schools", "k": 3},
        headers=headers,
        timeout=600,
    )


def _recommended(base: str, headers: dict[str, str], user: str) -> list[str]:
    r = _recommend(base, headers, user)
    assert r.status_code == 200, r.text
    return [rec["video_id"] for rec in r.json()["recommendations"]]


def test_feedback_through_one_worker_changes_the_next_answer_of_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.workers
    task = cluster.llm.last_task()
    before = _recommended(b, cluster.admin, "carol")
    assert before
    assert cluster.llm.last_task() > task  # the answer's reason came through the model server
    r = httpx.post(
        f"{a}/v1/feedback",
        json={"user_id": "carol", "video_id": before[0], "kind": "watched"},
        headers=cluster.admin,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    after = _recommended(b, cluster.admin, "carol")
    assert before[0] not in after  # seen through worker a: not offered again by worker b


def _upload(base: str, headers: dict[str, str], wav: Path) -> str:
    r = httpx.post(
        f"{base}/v1/videos",
        files=[("files", (wav.name, wav.read_bytes(), "audio/wav"))],
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _wait_job(base: str, headers: dict[str, str], job_id: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def _search(base: str, headers: dict[str, str], query: str) -> list[str]:
    r = httpx.post(f"{base}/v1/search", json={"query": query, "k": 5}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return [hit["quote"] for hit in r.json()["hits"]]


def test_a_video_ingested_through_one_worker_is_found_by_the_other(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = cluster.workers
    assert not any("zebra" in q for q in _search(b, cluster.admin, "zebra migration"))
    wav = write_tone(tmp_path / "zebra_migration_across_the_serengeti.wav", seconds=2.0)
    job = _upload(a, cluster.admin, wav)
    done = _wait_job(b, cluster.admin, job)  # the job's status is readable on either worker
    assert done["status"] == "succeeded", done
    assert any("zebra" in q for q in _search(b, cluster.admin, "zebra migration"))


def test_32_concurrent_clients_see_no_server_error(cluster: Cluster) -> None:
    calls: list[Callable[[httpx.Client], httpx.Response]] = []
    for i in range(32):
        base = cluster.workers[i % 2]
        if i % 4 == 0:
            calls.append(
                lambda c, base=base, i=i: c.post(
                    f"{base}/v1/feedback",
                    json={"user_id": f"u{i}", "video_id": "creativity", "kind": "like"},
                )
            )
        elif i % 4 == 1:
            calls.append(
                lambda c, base=base, i=i: c.post(
                    f"{base}/v1/recommend", json={"user_id": f"u{i}", "query": "math", "k": 3}
                )
            )
        else:
            calls.append(
                lambda c, base=base: c.post(f"{base}/v1/search", json={"query": "teachers"})
            )
    with httpx.Client(headers=cluster.admin, timeout=600) as client, ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(lambda call: call(client).status_code, calls))
    assert all(code < 500 for code in codes), codes
    assert codes.count(200) == 32


def test_a_killed_worker_loses_nothing_it_acknowledged(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.workers
    names = ("otters_holding_hands", "volcano_lightning_storm", "desert_bloom_after_rain")
    jobs = [_upload(a, cluster.admin, write_tone(tmp_path / f"{n}.wav", 2.0)) for n in names]
    acked: list[str] = []  # users whose feedback worker a answered 200
    stop = threading.Event()

    def feed() -> None:  # feedback through worker a, one write after another, until it dies
        with httpx.Client(headers=cluster.admin, timeout=30) as client:
            for i in itertools.count():
                user = f"dave{i}"
                try:
                    r = client.post(
                        f"{a}/v1/feedback",
                        json={"user_id": user, "video_id": "classroom", "kind": "like"},
                    )
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acked.append(user)
                if stop.is_set():
                    return

    def ask() -> int | str:  # an answer that takes the model a while: in flight at the kill
        try:
            return _recommend(a, cluster.admin, "erin").status_code
        except httpx.TransportError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(2) as pool:
        writes = pool.submit(feed)
        while len(acked) < 3:
            assert not writes.done(), writes.result()
            time.sleep(0.05)
        answer = pool.submit(ask)
        time.sleep(1.0)
        cluster.procs[0].send_signal(signal.SIGKILL)  # no graceful shutdown, requests in flight
        cluster.procs[0].wait()
        stop.set()
        writes.result()
        assert answer.result() in ("RemoteProtocolError", "ReadError"), answer.result()

    for job in jobs:  # acknowledged with 202 before the kill, queued or in hand: all done by b
        done = _wait_job(b, cluster.admin, job)
        assert done["status"] == "succeeded", done
    for name in names:
        word = name.split("_")[0]
        assert any(word in q for q in _search(b, cluster.admin, word)), word
    for user in acked:  # every feedback write a answered 200 is there, through b
        export = httpx.get(f"{b}/v1/users/{user}", headers=cluster.admin, timeout=30).json()
        assert [(e["video_id"], e["kind"]) for e in export["events"]] == [("classroom", "like")]


def _worker_pids(supervisor: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == supervisor and b"spawn_main" in cmdline:  # not resource_tracker
            pids.append(int(stat.parent.name))
    return pids


def test_serve_with_two_workers_shares_the_engines(cluster: Cluster, tmp_path: Path) -> None:
    base, proc = _start_api(cluster.env, tmp_path / "workers.log", "--workers", "2")
    try:
        assert len(_worker_pids(proc.pid)) == 2
        # the first 200 came from one worker; the other may still be warming up (503, as a
        # load balancer's health check would see): wait until answers are steadily ready
        streak, deadline = 0, time.monotonic() + 120
        while streak < 30:
            assert time.monotonic() < deadline, "the workers did not all become ready"
            ok = httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            streak = streak + 1 if ok else 0
        with httpx.Client(headers=cluster.admin, timeout=120) as client:
            with ThreadPoolExecutor(32) as pool:
                codes = list(
                    pool.map(
                        lambda _: (
                            client.post(
                                f"{base}/v1/search", json={"query": "zebra migration"}
                            ).status_code
                        ),
                        range(32),
                    )
                )
            assert codes == [200] * 32
            hits = client.post(f"{base}/v1/search", json={"query": "zebra migration"}).json()
        assert any("zebra" in h["quote"] for h in hits["hits"])  # ingested by the earlier workers
    finally:
        stop_server(proc)

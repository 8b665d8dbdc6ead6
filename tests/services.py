"""Throwaway servers for integration tests, started from the real binaries on 127.0.0.1.

PostgreSQL (``initdb`` + ``pg_ctl``; as root the cluster runs as the ``postgres`` user, which the
Debian package creates) and Redis (``redis-server``) come from the Debian packages that
``scripts/setup.sh`` installs. Each listens on a free port and keeps its files in a temp folder
removed at the end. Where a binary is missing the test is skipped with the reason, except in CI
(``CI`` set), where a missing server is a failure: these tests must run there.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

_db_counter = itertools.count()


def unavailable(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where setup.sh must have installed every server."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run this test; see scripts/setup.sh)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f} s")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@dataclass
class Postgres:
    """A running throwaway cluster; ``new_database()`` gives each test an empty database."""

    port: int
    root: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"vidrec_test_{os.getpid()}_{next(_db_counter)}"
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """Start a PostgreSQL cluster for the duration of the block (skip/fail when impossible)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix: list[str] = []
    # a folder of its own under /tmp: pytest's temp folders are private to root
    root = Path(tempfile.mkdtemp(prefix="vidrec-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            unavailable("running as root and `runuser` is missing to start PostgreSQL")
        try:
            shutil.chown(root, user="postgres")
        except (LookupError, PermissionError) as exc:
            unavailable(f"cannot hand a data folder to the postgres user ({exc})")
        prefix = [runuser, "-u", "postgres", "--"]
    data, port = root / "cluster", free_port()
    init = subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    # a test cluster: durability off, enough connections for several API workers
    opts = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off -c max_connections=200"
    start = subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]}")
    try:
        yield Postgres(port=port, root=root)
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def server_process(command: list[str], port: int, log_path: Path, what: str) -> Iterator[None]:
    """Run ``command`` (a server that will listen on ``port``) for the block, output to
    ``log_path``; ready once the port accepts connections."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc, what, timeout=60)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Start ``redis-server`` (no persistence) for the block; yields its ``redis://`` URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        unavailable("redis-server is not installed (Debian package redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        unavailable("the redis client package is not installed (pip install redis)")
    root = Path(tempfile.mkdtemp(prefix="vidrec-redis-"))
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    try:
        with server_process([exe, *args, "--dir", str(root)], port, root / "log", "redis-server"):
            yield f"redis://127.0.0.1:{port}/0"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """Start ``chroma run`` (the CLI of the chromadb package) on ``path``; yields its URL."""
    # the CLI sits beside this interpreter in a venv that is not activated (as in CI)
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        unavailable("the `chroma` CLI (from the chromadb package) is not beside the interpreter")
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    command = [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, port, path.parent / f"{path.name}.log", "chroma run"):
        yield f"http://127.0.0.1:{port}"


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (what one ``ray_cluster`` started: Ray's
    own workers inherit the environment of the ``ray start`` that spawned their raylet)."""
    needle = marker.encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if needle in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
    return [p for p in pids if p != os.getpid()]


@contextlib.contextmanager
def ray_cluster(env: dict[str, str], root: Path, nodes: int = 2) -> Iterator[str]:
    """A local Ray cluster: ``ray start --head`` plus ``nodes - 1`` workers on 127.0.0.1, one
    CPU each (``nice -n 10``), on a free port. Yields the head's address; at the end every
    process of this cluster (and nothing else) is stopped."""
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if exe is None:
        unavailable("the `ray` CLI is not installed (pip install 'vidrec[ray]')")
    marker = f"VIDREC_TEST_RAY={os.getpid()}-{next(_db_counter)}-{time.time_ns()}"
    key, _, value = marker.partition("=")
    env = {**env, key: value, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="vidrec-ray-"))  # short: Ray's socket paths are in it
    common = [
        "--block",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=1",
        "--object-store-memory=150000000",
        "--disable-usage-stats",
        f"--temp-dir={temp}",
    ]
    head_cmd = ["start", "--head", f"--port={port}", "--include-dashboard=false"]
    worker_cmd = ["start", f"--address=127.0.0.1:{port}"]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [root / f"ray-node{i}.log" for i in range(nodes)]
    try:
        for i, log in enumerate(logs):
            cmd = ["nice", "-n", "10", exe, *(head_cmd if i == 0 else worker_cmd), *common]
            with log.open("wb") as out:
                procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 120
            while b"Ray runtime started" not in log.read_bytes():
                if procs[-1].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ray node {i} did not start; see {log}")
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        for proc in procs:  # `ray start --block` stops its node's processes on SIGTERM
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for _ in range(3):  # whatever outlived its node (detached actors, reparented workers)
            left = _marked(marker)
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(1)
        shutil.rmtree(temp, ignore_errors=True)


_LLAMA_CHILD = """
import sys, threading
from pathlib import Path
from agent.llm.factory import create_llm
from agent.settings import LLMSettings
models, port, slots = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
# one thread: llama.cpp's threads spin-wait on each other on a shared, oversubscribed CPU
settings = LLMSettings(backend="llamacpp", slots=slots, n_ctx=2048 * slots, threads=1)
llm = create_llm(settings, models)
llm.port = port
llm.load()
print(llm.model, flush=True)
threading.Event().wait()
"""


@dataclass
class LlamaServer:
    """llama.cpp's OpenAI-compatible server (what stands in for ``vllm serve`` here)."""

    base_url: str  # http://127.0.0.1:<port>/v1
    model: str

    def last_task(self) -> int:
        """The id of the latest request a slot took (task ids only grow; -1 before the first):
        it moves when the server did work."""
        import httpx

        slots = httpx.get(self.base_url.removesuffix("/v1") + "/slots", timeout=30).json()
        return max(int(s.get("id_task", -1)) for s in slots)


@contextlib.contextmanager
def llama_server(models_cache: Path, root: Path, slots: int = 4) -> Iterator[LlamaServer]:
    """The packaged GGUF served by llama.cpp (``xllamacpp.Server``) in a process of its own."""
    port = free_port()
    log = root / "llama-server.log"
    command = [sys.executable, "-c", _LLAMA_CHILD, str(models_cache), str(port), str(slots)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=out)
    try:
        assert proc.stdout is not None
        model = proc.stdout.readline().decode().strip()  # printed once the model is loaded
        if not model:
            proc.wait()
            tail = log.read_text(errors="replace")[-500:]
            if "MissingDependencyError" in tail:
                unavailable(f"the packaged GGUF is not installed: {tail}")
            raise RuntimeError(f"the llama.cpp server exited with {proc.returncode}: {tail}")
        wait_for_port(port, proc, "llama.cpp server", timeout=60)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", model)
    finally:
        proc.kill()
        proc.wait()

"""Ingest jobs from outside: confined to their upload folder (or the ingest roots), bounded in
time, cancellable, and one bad job never blocks the queue; interrupted jobs leave no uploads."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.jobs import JobManager
from retrieval.errors import InvalidInputError
from retrieval.guard import IngestGuard
from retrieval.types import IngestReport
from tests.api_support import ApiEnv, api_env, wait_job

SECRET_WORDS = "zanzibar quokka secret passphrase"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("jobs")
    roots = [str(tmp / "incoming")]
    (tmp / "incoming").mkdir()
    with api_env(tmp, models_cache, ingest_roots=roots) as e:
        yield e


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "private" / "notes.md"
    secret.parent.mkdir(parents=True)
    secret.write_text(f"The {SECRET_WORDS} is written here.")
    return secret


def test_an_uploaded_manifest_cannot_read_server_files(env: ApiEnv, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    rows = [
        {"id": "abs-escape", "title": "a", "transcript_path": str(secret)},
        {
            "id": "dots-escape",
            "title": "b",
            "transcript_path": "../" * 12 + str(secret).lstrip("/"),
        },
        {"id": "thumb-escape", "title": "c", "thumbnail": str(secret)},
        {"id": "kept", "title": "Tidal pools at dawn", "transcript_path": "pools.md"},
    ]
    manifest = "".join(json.dumps(r) + "\n" for r in rows).encode()
    r = env.client.post(
        "/v1/videos",
        files=[
            ("files", ("pools.md", b"Tidal pools hold starfish and anemones.", "text/markdown")),
            ("manifest", ("library.jsonl", manifest, "application/jsonl")),
        ],
        headers=env.h("admin"),
    )
    assert r.status_code == 202, r.text
    done = wait_job(env, r.json())
    assert done["status"] == "succeeded", done
    assert done["report"]["ingested"] == ["kept"]
    assert str(env.settings.data_dir) not in json.dumps(done)  # files named, folders never
    failed = done["report"]["failed"]
    assert len(failed) == 3 and all("expected a file under" in f["error"] for f in failed)
    hits = env.client.post("/v1/search", json={"query": SECRET_WORDS}, headers=env.h()).json()
    assert all(SECRET_WORDS.split()[0] not in h["quote"] for h in hits["hits"])
    for vid in ("abs-escape", "dots-escape", "thumb-escape"):
        assert env.recommender.library.get_video(vid) is None


def test_a_manifest_under_an_ingest_root_stays_there(env: ApiEnv, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    root = Path(env.settings.api.ingest_roots[0])
    (root / "ok.md").write_text("Beekeeping in winter keeps the hive warm.")
    manifest = root / "m.jsonl"
    manifest.write_text(
        json.dumps({"id": "root-escape", "title": "x", "transcript_path": str(secret)})
        + "\n"
        + json.dumps({"id": "root-ok", "title": "Bees", "transcript_path": "ok.md"})
        + "\n"
    )
    r = env.client.post("/v1/videos", json={"manifest": str(manifest)}, headers=env.h("admin"))
    done = wait_job(env, r.json())
    assert done["report"]["ingested"] == ["root-ok"]
    assert "expected a file under" in done["report"]["failed"][0]["error"]


def test_json_manifests_are_refused_at_upload_like_the_reader_refuses_them(env: ApiEnv) -> None:
    r = env.client.post(
        "/v1/videos",
        files=[("manifest", ("library.json", b'[{"title": "x"}]', "application/json"))],
        headers=env.h("admin"),
    )
    assert r.status_code == 415, r.text
    assert ".jsonl" in r.json()["expected"] and ".json'" in r.json()["got"]


def _blocking_ingest(calls: list[str]) -> Any:
    def ingest(paths: Any, manifest: Any, progress: Any, guard: IngestGuard) -> IngestReport:
        calls.append(paths[0])
        if paths[0] == "slow":
            while True:
                guard.check()
                time.sleep(0.01)
        return IngestReport(ingested=[paths[0]])

    return ingest


def _settle(jobs: JobManager, job_id: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := jobs.get(job_id).status) in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.01)
    return status


def test_a_job_past_its_time_limit_fails_and_the_next_one_runs(tmp_path: Path) -> None:
    calls: list[str] = []
    jobs = JobManager(f"sqlite:///{tmp_path / 'j.db'}", _blocking_ingest(calls), timeout_s=0.2)
    try:
        slow, quick = jobs.submit(["slow"]), jobs.submit(["quick"])
        assert _settle(jobs, slow.id) == "failed"
        error = jobs.get(slow.id).error
        assert error is not None and "timed out" in error["message"]
        assert _settle(jobs, quick.id) == "succeeded"
        assert calls == ["slow", "quick"]
    finally:
        jobs.close()


def test_a_running_or_queued_job_can_be_cancelled(tmp_path: Path) -> None:
    calls: list[str] = []
    jobs = JobManager(f"sqlite:///{tmp_path / 'j.db'}", _blocking_ingest(calls))
    try:
        slow, waiting, quick = jobs.submit(["slow"]), jobs.submit(["waiting"]), jobs.submit(["q"])
        while jobs.get(slow.id).status != "running":
            time.sleep(0.01)
        jobs.cancel(waiting.id)
        jobs.cancel(slow.id)
        assert _settle(jobs, slow.id) == "cancelled"
        assert _settle(jobs, waiting.id) == "cancelled"
        assert _settle(jobs, quick.id) == "succeeded"
        assert calls == ["slow", "q"]  # the cancelled queued job never started
    finally:
        jobs.close()


def test_cancel_route(env: ApiEnv) -> None:
    r = env.client.delete("/v1/jobs/0123456789abcdef", headers=env.h("admin"))
    assert r.status_code == 404
    assert env.client.delete("/v1/jobs/0123456789abcdef", headers=env.h()).status_code == 403


def test_upload_folders_nothing_will_use_are_removed(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    url = f"sqlite:///{tmp_path / 'j.db'}"

    def fails(paths: Any, manifest: Any, progress: Any, guard: IngestGuard) -> IngestReport:
        raise InvalidInputError("Not a media file")

    folder = uploads / "job1"
    folder.mkdir(parents=True)
    (folder / "a.wav").write_bytes(b"RIFF")
    (folder / "kept.wav").write_bytes(b"RIFF")
    (uploads / "job2.partial").mkdir()  # an upload cut off while saving
    (uploads / "orphan").mkdir()  # saved, but the process died before the job was recorded
    (uploads / "in-flight.partial").mkdir()  # another live process saving right now: kept
    an_hour_ago = time.time() - 3700
    for name in ("job2.partial", "orphan"):
        os.utime(uploads / name, (an_hour_ago, an_hour_ago))
    front = JobManager(url, fails, worker=False)  # records the job, runs nothing
    front.submit([str(folder / "a.wav")], upload_dir=folder, job_id="job1")
    # a worker starts: it sweeps the folders no job owns, then runs job1, which fails: its
    # folder goes, except the file a library video still points at
    back = JobManager(
        url, fails, uploads_dir=uploads, in_use=lambda: {str(folder / "kept.wav")}, poll_s=0.05
    )
    deadline = time.monotonic() + 30
    while back.get("job1").status != "failed" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert back.get("job1").status == "failed"
    assert sorted(p.name for p in uploads.rglob("*")) == ["in-flight.partial", "job1", "kept.wav"]
    front.close()
    back.close()

"""Library routes: uploads become background ingest jobs; failed uploads and jobs leave the
library and the upload folder as they were; server-side paths only under the ingest roots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_support import ApiEnv, api_env, wait_job
from tests.fakes.asr import write_tone


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("library")
    roots = [str(tmp / "incoming")]
    with api_env(tmp, models_cache, max_upload_mb=1.0, ingest_roots=roots) as e:
        yield e


def _ids(env: ApiEnv) -> set[str]:
    return {v.id for v in env.recommender.library.videos()}


def _uploads(env: ApiEnv) -> list[Path]:
    root = env.settings.data_dir / "uploads"
    return sorted(root.rglob("*")) if root.exists() else []


def test_upload_runs_a_background_ingest_job(env: ApiEnv, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "src" / "volcano_eruptions_explained.wav", seconds=3.0)
    before = _ids(env)
    with wav.open("rb") as f:
        r = env.client.post(
            "/v1/videos",
            files=[("files", ("volcano_eruptions_explained.wav", f, "audio/wav"))],
            headers=env.h("admin"),
        )
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == job["status_url"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "succeeded")
    done = wait_job(env, job)
    assert done["status"] == "succeeded", done
    assert done["report"]["ok"] and len(done["report"]["ingested"]) == 1
    assert done["progress"]["files_done"] == done["progress"]["files_total"] == 1
    (new_id,) = _ids(env) - before
    hits = env.client.post("/v1/search", json={"query": "volcano eruptions"}, headers=env.h())
    assert hits.json()["hits"][0]["video_id"] == new_id
    # The library keeps pointing at the uploaded file, so it stays.
    assert any(p.name == "volcano_eruptions_explained.wav" for p in _uploads(env))

    assert env.client.delete(f"/v1/videos/{new_id}", headers=env.h("admin")).status_code == 204
    assert _ids(env) == before
    again = env.client.delete(f"/v1/videos/{new_id}", headers=env.h("admin"))
    assert again.status_code == 404 and again.json()["error"] == "not_found"


def test_refused_uploads_write_nothing(env: ApiEnv, tmp_path: Path) -> None:
    before, files_before = _ids(env), _uploads(env)
    wav = write_tone(tmp_path / "ok.wav", seconds=1.0).read_bytes()
    # One good file and one that is not media: refused as a whole before anything is written.
    r = env.client.post(
        "/v1/videos",
        files=[
            ("files", ("ok.wav", wav, "audio/wav")),
            ("files", ("run.sh", b"rm -rf /", "text/x-sh")),
        ],
        headers=env.h("admin"),
    )
    assert r.status_code == 415 and "run.sh" in r.json()["message"]
    too_big = env.client.post(
        "/v1/videos",
        files=[("files", ("big.wav", b"\0" * (1024 * 1024 + 1), "audio/wav"))],
        headers=env.h("admin"),
    )
    assert too_big.status_code == 413
    empty = env.client.post(
        "/v1/videos", files=[("other", ("x.wav", wav, "audio/wav"))], headers=env.h("admin")
    )
    assert empty.status_code == 422 and "files" in empty.json()["expected"]
    assert _uploads(env) == files_before
    assert _ids(env) == before


def test_a_failed_ingest_job_cleans_up_and_changes_nothing(env: ApiEnv) -> None:
    before, files_before = _ids(env), _uploads(env)
    r = env.client.post(
        "/v1/videos",
        files=[("files", ("broken.mp4", b"\x00\x00\x00\x18ftypmp42 truncated", "video/mp4"))],
        headers=env.h("admin"),
    )
    assert r.status_code == 202, r.text
    done = wait_job(env, r.json())
    assert done["status"] == "failed"
    assert done["error"]["message"] and done["report"]["failed"][0]["error"]
    assert "broken.mp4" in done["report"]["failed"][0]["path"]
    # the job is marked failed first (only the worker still holding it may then delete its
    # upload folder), so the folder goes a moment after the status a client polls
    deadline = time.monotonic() + 10.0
    while _uploads(env) != files_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _uploads(env) == files_before
    assert _ids(env) == before


def test_upload_with_a_manifest(env: ApiEnv, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "a.wav", seconds=2.0).read_bytes()
    manifest = (
        b'{"id": "glaciers", "title": "How glaciers carve valleys", "media_path": "glaciers.wav",'
        b' "tags": ["geology"], "url": "https://example.org/glaciers"}\n'
    )
    r = env.client.post(
        "/v1/videos",
        files=[
            ("files", ("glaciers.wav", wav, "audio/wav")),
            ("manifest", ("library.jsonl", manifest, "application/jsonl")),
        ],
        headers=env.h("admin"),
    )
    assert r.status_code == 202, r.text
    done = wait_job(env, r.json())
    assert done["status"] == "succeeded", done
    assert done["report"]["ingested"] == ["glaciers"]
    video = env.recommender.library.get_video("glaciers")
    assert video is not None and video.title == "How glaciers carve valleys"


def test_server_side_paths_only_under_ingest_roots(env: ApiEnv, tmp_path: Path) -> None:
    root = Path(env.settings.api.ingest_roots[0])
    inside = write_tone(root / "coral_reef_survey.wav", seconds=2.0)
    outside = write_tone(tmp_path / "elsewhere" / "secret.wav", seconds=1.0)
    r = env.client.post("/v1/videos", json={"paths": [str(outside)]}, headers=env.h("admin"))
    assert r.status_code == 403 and "outside" in r.json()["message"]
    sneaky = str(root / ".." / "elsewhere" / "secret.wav")
    assert (
        env.client.post("/v1/videos", json={"paths": [sneaky]}, headers=env.h("admin")).status_code
        == 403
    )
    missing = env.client.post(
        "/v1/videos", json={"paths": [str(root / "nope.wav")]}, headers=env.h("admin")
    )
    assert missing.status_code == 422 and "does not exist" in missing.json()["message"]
    assert env.client.post("/v1/videos", json={}, headers=env.h("admin")).status_code == 422
    r = env.client.post("/v1/videos", json={"paths": [str(inside)]}, headers=env.h("admin"))
    assert r.status_code == 202, r.text
    done = wait_job(env, r.json())
    assert done["status"] == "succeeded" and len(done["report"]["ingested"]) == 1


def test_server_side_paths_are_off_without_roots(tmp_path: Path, models_cache: Path) -> None:
    with api_env(tmp_path, models_cache) as e:
        wav = write_tone(tmp_path / "x.wav")
        r = e.client.post("/v1/videos", json={"paths": [str(wav)]}, headers=e.h("admin"))
        assert r.status_code == 403 and "INGEST_ROOTS" in r.json()["hint"]


def test_unknown_job_is_404(env: ApiEnv) -> None:
    r = env.client.get("/v1/jobs/0123456789abcdef", headers=env.h("admin"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"

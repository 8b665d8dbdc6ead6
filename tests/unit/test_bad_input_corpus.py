"""Every input of the generated bad-input corpus (``tests/bad_inputs.py``) gets a clear error: a
``FAILED <file>: <why>`` line from the CLI, an HTTP 4xx with the JSON error body from the API; and
nothing already indexed is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.api_support import ApiEnv, api_env, wait_job
from tests.bad_inputs import INJECTION, BadFile, hostile_requests, write_corpus
from tests.fakes.asr import FakeTranscriber
from tests.fakes.index import write_talks
from ui.cli import app

ERROR_KEYS = {"error", "message", "expected", "got", "hint"}
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[BadFile]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def _bad(corpus: list[BadFile], *kinds: str) -> list[BadFile]:
    return [b for b in corpus if b.kind in kinds and b.expect is not None]


# --- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_EMBEDDING__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_ASR__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_CONFIG", str(tmp_path / "absent.toml"))
    result = runner.invoke(app, ["ingest", "--manifest", str(write_talks(tmp_path / "lib"))])
    assert result.exit_code == 0, result.output
    return _listing()


def _listing() -> set[str]:
    """``vidrec videos``: one tab-separated line per video."""
    return {line for line in runner.invoke(app, ["videos"]).output.splitlines() if "\t" in line}


def test_cli_reports_each_bad_file_on_one_line(cli: set[str], corpus: list[BadFile]) -> None:
    for bad in corpus:
        args = ["ingest", "--manifest", str(bad.path)] if bad.kind == "manifest" else ["ingest"]
        if bad.kind != "manifest":
            args.append(str(bad.path))
        result = runner.invoke(app, args)
        failures = [line for line in result.output.splitlines() if line.startswith("FAILED")]
        if bad.expect is None:  # valid data: ingested, however odd
            assert result.exit_code == 0, (bad.path.name, result.output)
            continue
        assert result.exit_code == 1, (bad.path.name, result.output)
        assert failures, result.output
        assert all(bad.path.name in line for line in failures), failures
        assert any(bad.expect.lower() in line.lower() for line in failures), (bad.expect, failures)
    # nothing indexed before is lost (and the odd-but-valid inputs were added)
    after = _listing()
    assert len(cli) == 4 and cli <= after
    assert any(line.startswith("injection\t") for line in after)


# --- the API ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("corpus-api"), models_cache) as e:
        yield e


def _library(env: ApiEnv) -> tuple[set[str], set[str]]:
    lib = env.recommender.library
    _, rows = lib.catalogue.all_chunks()
    return {v.id for v in lib.videos()}, {cid for cid, _, _ in rows}


def test_api_uploads_fail_clearly_and_lose_nothing(env: ApiEnv, corpus: list[BadFile]) -> None:
    before = _library(env)
    for bad in _bad(corpus, "media", "captions", "manifest"):
        field = "manifest" if bad.kind == "manifest" else "files"
        r = env.client.post(
            "/v1/videos",
            files=[(field, (bad.path.name, bad.path.read_bytes(), "application/octet-stream"))],
            headers=env.h("admin"),
        )
        assert r.status_code == 202, (bad.path.name, r.text)
        done = wait_job(env, r.json())
        assert done["status"] == "failed", (bad.path.name, done)
        errors = [f["error"] for f in done["report"]["failed"]] if done["report"] else []
        text = " ".join([*errors, str(done["error"]["message"])]).lower()
        assert bad.expect is not None and bad.expect.lower() in text, (bad.expect, text)
        assert str(env.settings.data_dir) not in str(done["error"]["message"])
    assert _library(env) == before


def test_api_refuses_bad_recordings_with_a_4xx(env: ApiEnv, corpus: list[BadFile]) -> None:
    before = _library(env)
    for bad in _bad(corpus, "media"):
        r = env.client.post(
            "/v1/transcribe",
            files={"audio": (bad.path.name, bad.path.read_bytes(), "audio/wav")},
            headers=env.h(),
        )
        assert 400 <= r.status_code < 500, (bad.path.name, r.text)
        body = r.json()
        assert body.keys() >= ERROR_KEYS and bad.path.name in body["message"], body
        assert str(env.settings.cache_dir) not in r.text
    silence = next(b for b in corpus if b.path.name == "silence.wav")
    FakeTranscriber.enqueue("")  # what Whisper hears in silence
    r = env.client.post(
        "/v1/recommend",
        files={"audio": ("silence.wav", silence.path.read_bytes(), "audio/wav")},
        data={"user_id": "alice"},
        headers=env.h(),
    )
    assert r.status_code == 422 and "No speech" in r.json()["message"]
    assert _library(env) == before


@pytest.mark.parametrize("req", hostile_requests(), ids=lambda r: r.name)
def test_hostile_requests_get_a_4xx_json_body(env: ApiEnv, req: Any) -> None:
    before = _library(env)
    r = env.client.post(
        req.route,
        content=req.body,
        headers={**env.h("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == req.status, r.text[:300]
    body = r.json()
    if req.route.startswith("/v1/chat/"):
        body = body["error"]
    assert {"message", "expected", "got", "hint"} <= body.keys()
    assert req.expect.lower() in str(body).lower(), body
    assert _library(env) == before


def test_an_injected_transcript_is_data_not_instructions(
    env: ApiEnv, corpus: list[BadFile]
) -> None:
    manifest = next(b for b in corpus if b.path.name == "injection.jsonl")
    transcript = manifest.path.with_name("injection.md")
    r = env.client.post(
        "/v1/videos",
        files=[
            ("files", ("injection.md", transcript.read_bytes(), "text/markdown")),
            ("manifest", ("injection.jsonl", manifest.path.read_bytes(), "application/jsonl")),
        ],
        headers=env.h("admin"),
    )
    done = wait_job(env, r.json())
    assert done["report"]["ingested"] == ["injection"], done
    answer = env.client.post(
        "/v1/recommend", json={"user_id": "alice", "query": "bananas"}, headers=env.h()
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "developer mode" not in body["text"] and "system prompt" not in body["text"]
    assert all(INJECTION[:40] not in item["reason"] for item in body["recommendations"])

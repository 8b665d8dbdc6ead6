"""Local media reach clients only through an opaque, authorised route for files inside the
library's own folders; no server path appears in an answer; only http(s) links are emitted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api_support import ApiEnv, api_env
from tests.fakes.asr import write_tone


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("media")
    with api_env(tmp, models_cache) as e:
        lib = e.recommender.library
        uploads = e.settings.data_dir / "uploads" / "job"
        wav = write_tone(uploads / "harbour_seals_sleeping.wav", seconds=2.0)
        thumb = uploads / "seal.jpg"
        thumb.write_bytes(b"\xff\xd8 a jpeg")
        assert lib.ingest([wav]).ok
        secret = tmp / "private" / "id_rsa"
        secret.parent.mkdir()
        secret.write_text("PRIVATE KEY")
        # A catalogue written before the manifest checks: links and files nobody may reach.
        for vid, changes in {
            "harbour_seals_sleeping": {"thumbnail": str(thumb)},
            "hedgehogs": {
                "url": "javascript:alert(1)",
                "media_path": str(secret),
                "thumbnail": str(secret),
            },
        }.items():
            base = lib.get_video(vid) or dataclasses.replace(
                lib.get_video("harbour_seals_sleeping"), id=vid, title="Hedgehogs at night"
            )
            chunks = [
                dataclasses.replace(c, id=f"{vid}:{c.index}", video_id=vid)
                for c in lib.chunks("harbour_seals_sleeping")
            ]
            lib.catalogue.commit_video(dataclasses.replace(base, **changes), chunks, "h")
        yield e


def _answer_text(env: ApiEnv, query: str) -> tuple[list[dict[str, object]], str]:
    r = env.client.post("/v1/search", json={"query": query, "k": 10}, headers=env.h())
    assert r.status_code == 200, r.text
    return r.json()["hits"], r.text


def test_answers_carry_no_server_path_and_no_script_link(env: ApiEnv) -> None:
    hits, text = _answer_text(env, "harbour seals sleeping")
    assert str(env.settings.data_dir) not in text and "/private/" not in text
    assert "javascript:" not in text
    seal = next(h for h in hits if h["video_id"] == "harbour_seals_sleeping")
    assert str(seal["play_url"]).startswith("/v1/videos/harbour_seals_sleeping/media#t=")
    hedgehog = next(h for h in hits if h["video_id"] == "hedgehogs")
    assert hedgehog["url"] is None
    rec = env.client.post(
        "/v1/recommend", json={"user_id": "alice", "query": "seals and hedgehogs"}, headers=env.h()
    )
    assert rec.status_code == 200, rec.text
    assert str(env.settings.data_dir) not in rec.text and "javascript:" not in rec.text
    for item in rec.json()["recommendations"]:
        for key in ("play_url", "url", "thumbnail"):
            value = item[key]
            assert value is None or str(value).startswith(("https://", "http://", "/v1/videos/"))


def test_the_media_route_serves_library_files_to_key_holders(env: ApiEnv) -> None:
    url = "/v1/videos/harbour_seals_sleeping/media"
    assert env.client.get(url).status_code == 401
    r = env.client.get(url, headers=env.h("bob"))
    assert r.status_code == 200 and r.content.startswith(b"RIFF")
    thumb = env.client.get("/v1/videos/harbour_seals_sleeping/thumbnail", headers=env.h())
    assert thumb.status_code == 200 and thumb.content == b"\xff\xd8 a jpeg"


def test_files_outside_the_library_folders_are_never_served(env: ApiEnv) -> None:
    for kind in ("media", "thumbnail"):
        r = env.client.get(f"/v1/videos/hedgehogs/{kind}", headers=env.h())
        assert r.status_code == 404, r.text
        assert "PRIVATE" not in r.text and "/private/" not in r.text
        assert json.loads(r.text)["error"] == "not_found"
    assert env.client.get("/v1/videos/nope/media", headers=env.h()).status_code == 404


def test_the_chat_app_serves_only_library_files(env: ApiEnv) -> None:
    from ui.app import create_server

    app = create_server(env.recommender, env.settings)
    with TestClient(app) as client:
        assert client.get("/vidrec/media/harbour_seals_sleeping").status_code == 200
        assert client.get("/vidrec/thumbnail/harbour_seals_sleeping").status_code == 200
        for kind in ("media", "thumbnail"):
            r = client.get(f"/vidrec/{kind}/hedgehogs")
            assert r.status_code == 404 and "PRIVATE" not in r.text

"""The official ``openai`` client against vidrec on a real uvicorn server (127.0.0.1, free port):
vidrec looks like a model named ``vidrec``; items also arrive structured in ``vidrec``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from api.app import create_app
from tests.agent_data import TALKS
from tests.api_support import Keys, api_settings, indexed_recommender, make_keys, serve

pytestmark = pytest.mark.integration

LIBRARY_IDS = {t.id for t in TALKS}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, models_cache: Path
) -> Iterator[tuple[str, Keys]]:
    tmp = tmp_path_factory.mktemp("openai-client")
    settings = api_settings(tmp, models_cache)
    rec = indexed_recommender(settings, tmp)
    keys = make_keys(settings)
    try:
        with serve(create_app(settings, rec)) as base:
            yield base, keys
    finally:
        rec.close()


def _client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=60)


MESSAGES: list[Any] = [
    {"role": "system", "content": "Recommend talks."},
    {"role": "user", "content": "What should I watch about schools and creativity?"},
]


def test_models_list(server: tuple[str, Keys]) -> None:
    base, keys = server
    assert [m.id for m in _client(base, keys.alice).models.list()] == ["vidrec"]


def test_completion(server: tuple[str, Keys]) -> None:
    base, keys = server
    resp = _client(base, keys.alice).chat.completions.create(
        model="vidrec", messages=MESSAGES, user="alice", extra_body={"vidrec": {"k": 3}}
    )
    content = resp.choices[0].message.content
    assert resp.model == "vidrec" and resp.choices[0].finish_reason == "stop"
    assert content
    extra = resp.model_extra or {}
    items = extra["vidrec"]["recommendations"]
    assert 1 <= len(items) <= 3 and {i["video_id"] for i in items} <= LIBRARY_IDS
    assert "creativity" in {i["video_id"] for i in items}
    assert all(i["title"] in content for i in items)


def test_streaming(server: tuple[str, Keys]) -> None:
    base, keys = server
    stream = _client(base, keys.alice).chat.completions.create(
        model="vidrec", messages=MESSAGES, stream=True
    )
    pieces: list[str] = []
    finish: list[str | None] = []
    last: Any = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk" and chunk.model == "vidrec"
        delta = chunk.choices[0].delta
        if delta.content:
            pieces.append(delta.content)
        finish.append(chunk.choices[0].finish_reason)
        last = chunk
    text = "".join(pieces)
    assert len(pieces) > 1 and text
    assert finish[-1] == "stop" and all(f is None for f in finish[:-1])
    items = (last.model_extra or {})["vidrec"]["recommendations"]
    assert items and all(i["title"] in text for i in items)


def test_errors_surface_as_openai_exceptions(server: tuple[str, Keys]) -> None:
    base, keys = server
    with pytest.raises(openai.AuthenticationError) as auth:
        _client(base, "vr_0123456789ab_" + "0" * 64).chat.completions.create(
            model="vidrec", messages=MESSAGES
        )
    assert "not valid" in str(auth.value)
    with pytest.raises(openai.PermissionDeniedError):
        _client(base, keys.alice).chat.completions.create(
            model="vidrec", messages=MESSAGES, user="bob"
        )
    with pytest.raises(openai.NotFoundError) as missing:
        _client(base, keys.alice).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "vidrec" in str(missing.value)
    with pytest.raises(openai.UnprocessableEntityError):
        _client(base, keys.alice).chat.completions.create(
            model="vidrec", messages=[{"role": "assistant", "content": "hi"}]
        )
    with pytest.raises(openai.NotFoundError):  # refused before the stream starts
        _client(base, keys.alice).chat.completions.create(
            model="nope", messages=MESSAGES, stream=True
        )


@pytest.mark.slow
def test_real_cpu_default_through_the_openai_client(tmp_path: Path, models_cache: Path) -> None:
    """The real default stack (llama.cpp Qwen2.5-0.5B, MiniLM, Chroma) behind the OpenAI route."""
    from agent.recommender import Recommender
    from agent.settings import Settings
    from tests.agent_data import write_library

    settings = Settings(data_dir=tmp_path / "data", models_cache=models_cache)
    rec = Recommender(settings)
    assert rec.ingest([], manifest=write_library(tmp_path / "library")).ok
    keys = make_keys(settings)
    try:
        with serve(create_app(settings, rec), ready_timeout=600) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key=keys.alice, timeout=900)
            pieces, last = [], None
            for chunk in client.chat.completions.create(
                model="vidrec",
                messages=[{"role": "user", "content": "Recommend a talk about the deep ocean"}],
                stream=True,
                extra_body={"vidrec": {"k": 3}},
            ):
                pieces.append(chunk.choices[0].delta.content or "")
                last = chunk
            items = (last.model_extra or {})["vidrec"]["recommendations"] if last else []
            assert "".join(pieces).strip()
            assert items and {i["video_id"] for i in items} <= LIBRARY_IDS
            assert "ocean" in {i["video_id"] for i in items}
    finally:
        rec.close()

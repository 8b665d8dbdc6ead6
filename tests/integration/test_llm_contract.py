"""One behaviour contract, run over every LLM backend that can run here.

``fake`` (the unit-test double), ``llamacpp`` (the packaged Qwen2.5 GGUF in-process) and the
OpenAI-compatible client in both flavours (``openai``, ``vllm``) talking over real HTTP to
llama.cpp's server on 127.0.0.1, which serves the same model (loaded once per session).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from agent.llm.base import LLM, Completion
from agent.llm.factory import create_llm
from agent.llm.llamacpp import LlamaCppLLM
from agent.llm.openai_compat import OpenAICompatLLM
from agent.settings import LLMSettings, Settings
from agent.types import Message
from retrieval.errors import BackendUnavailableError, MissingDependencyError

pytestmark = pytest.mark.integration

RECIPE = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "minutes": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "minutes", "tags"],
    "additionalProperties": False,
}
ASK_JSON = [
    Message("system", "You answer in JSON."),
    Message("user", "Suggest a quick pasta recipe: its title, minutes to cook and 2 tags."),
]
ASK_TEXT = [Message("user", "Name three colours of the rainbow.")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def llamacpp(models_cache: Path) -> Iterator[LlamaCppLLM]:
    """The packaged model, loaded once; its llama.cpp server listens on a chosen local port."""
    # One thread: llama.cpp's threads spin-wait on each other, which collapses on a shared,
    # oversubscribed CPU (measured 0.2 vs 2.6 tokens/s with 2 vs 1 threads under load).
    settings = LLMSettings(backend="llamacpp", n_ctx=2048, max_tokens=64, threads=1)
    try:
        llm = create_llm(settings, models_cache)
    except MissingDependencyError as exc:
        pytest.skip(f"packaged GGUF not installed: {exc}")
    assert isinstance(llm, LlamaCppLLM)
    llm.port = _free_port()
    llm.load()
    yield llm
    llm.close()


@pytest.fixture(params=["fake", "llamacpp", "openai", "vllm"])
def llm(request: pytest.FixtureRequest) -> Iterator[LLM]:
    if request.param == "fake":
        yield create_llm(Settings(llm={"backend": "fake"}).llm, Settings().models_dir)
        return
    local: LlamaCppLLM = request.getfixturevalue("llamacpp")
    if request.param == "llamacpp":
        yield local
        return
    client = OpenAICompatLLM(
        local.listening_address + "/v1",
        local.model,
        backend=request.param,
        timeout_s=600,  # a shared, busy CPU can be slow; correctness is what is tested here
        max_retries=0,
        max_tokens=64,
    )
    yield client
    client.close()


def test_llama_server_listens_on_the_chosen_port(llamacpp: LlamaCppLLM) -> None:
    assert llamacpp.listening_address == f"http://127.0.0.1:{llamacpp.port}"


def test_text_completion(llm: LLM) -> None:
    done = llm.complete(ASK_TEXT, max_tokens=12, tag="contract@1")
    assert isinstance(done, Completion)
    assert done.text.strip()
    assert done.data is None
    assert done.completion_tokens > 0 and done.prompt_tokens > 0
    assert (done.backend, done.model) == (llm.backend, llm.model)


def test_schema_completion_is_valid_json(llm: LLM) -> None:
    done = llm.complete(ASK_JSON, schema=RECIPE, max_tokens=80, tag="contract@1")
    assert isinstance(done.data, dict)
    jsonschema.validate(done.data, RECIPE)
    assert done.data["title"].strip()


def test_stream_yields_pieces(llm: LLM) -> None:
    pieces = list(llm.stream(ASK_TEXT, max_tokens=12, tag="contract@1"))
    assert len(pieces) > 1
    assert "".join(pieces).strip()


def test_abandoned_stream_leaves_the_backend_usable(llm: LLM) -> None:
    stream = llm.stream([Message("user", "Tell a long story about a dragon.")], max_tokens=200)
    assert next(stream) and next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert llm.complete(ASK_TEXT, max_tokens=4).text.strip()


@pytest.mark.parametrize("backend", ["openai", "vllm"])
def test_unreachable_base_url(backend: str) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    settings = LLMSettings(backend=backend, base_url=url, max_retries=0, timeout_s=3)
    client = create_llm(settings, Settings().models_dir)
    with pytest.raises(BackendUnavailableError, match="Cannot reach") as info:
        client.complete(ASK_TEXT)
    assert url in str(info.value)

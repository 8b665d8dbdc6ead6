"""The OpenAI-compatible client against a scripted HTTP server on 127.0.0.1: retries with
backoff, error mapping, structured-output fallbacks and streaming."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent.llm.openai_compat import OpenAICompatLLM
from agent.types import Message
from retrieval.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
)

ASK = [Message("user", "hi")]
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
FAST_RETRY = {"retry-after-ms": "10"}  # keep the tests quick; the client honours it


def answer(content: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return 200, body, {}


def failure(
    status: int, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return (
        status,
        {"error": {"message": f"scripted {status}", "type": "x", "code": status}},
        headers or {},
    )


class Scripted(ThreadingHTTPServer):
    """Answers POSTs with scripted responses in order (a callable decides from the body)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[Any] = []
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "served-a", "object": "model"}]}, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.requests.append(body)
        step = self.server.script.pop(0) if len(self.server.script) > 1 else self.server.script[0]
        if callable(step):
            step = step(body)
        if step == "sse":
            self._sse(["Hel", "lo", " there"])
            return
        self._send(*step)

    def _sse(self, pieces: list[str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for piece in pieces:
            chunk = {
                "id": "s1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        usage = {
            "id": "s1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
        }
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(server: Scripted, *, retries: int = 2, backend: str = "openai") -> OpenAICompatLLM:
    return OpenAICompatLLM(server.url, "m", timeout_s=5, max_retries=retries, backend=backend)


def test_fails_twice_then_answers(server: Scripted) -> None:
    server.script = [failure(503, FAST_RETRY), failure(500, FAST_RETRY), answer("ok")]
    done = client(server, retries=2).complete(ASK)
    assert done.text == "ok"
    assert (done.prompt_tokens, done.completion_tokens) == (3, 2)
    assert len(server.requests) == 3


def test_rate_limit_is_retried(server: Scripted) -> None:
    server.script = [failure(429, FAST_RETRY), answer("ok")]
    assert client(server, retries=1).complete(ASK).text == "ok"
    assert len(server.requests) == 2


def test_backoff_waits_between_tries(server: Scripted) -> None:
    server.script = [failure(503), answer("ok")]  # no Retry-After: exponential backoff (>=0.375 s)
    start = time.perf_counter()
    client(server, retries=1).complete(ASK)
    assert time.perf_counter() - start >= 0.3
    assert len(server.requests) == 2


def test_gives_up_after_the_retries_with_a_clear_error(server: Scripted) -> None:
    server.script = [failure(503, FAST_RETRY)]
    with pytest.raises(BackendUnavailableError, match="failed \\(503\\) after retries") as info:
        client(server, retries=1).complete(ASK)
    assert server.url in str(info.value)
    assert len(server.requests) == 2


def test_unreachable_server_says_how_to_start_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    llm = OpenAICompatLLM(url, "m", timeout_s=2, max_retries=0, backend="vllm")
    with pytest.raises(BackendUnavailableError, match="Cannot reach the vllm server") as info:
        llm.complete(ASK)
    assert url in str(info.value) and "vllm serve" in str(info.value)
    with pytest.raises(BackendUnavailableError):
        list(llm.stream(ASK))


def test_unknown_model_lists_the_served_ones(server: Scripted) -> None:
    server.script = [failure(404)]
    with pytest.raises(ConfigError, match="does not serve the model 'm'") as info:
        client(server).complete(ASK)
    assert "served-a" in (info.value.expected or "")


def test_refused_key(server: Scripted) -> None:
    server.script = [failure(401)]
    with pytest.raises(AuthenticationError, match="VIDREC_LLM__API_KEY"):
        client(server).complete(ASK)


def test_bad_request_is_not_retried(server: Scripted) -> None:
    server.script = [failure(400)]
    with pytest.raises(InvalidInputError, match="rejected the request \\(400\\)"):
        client(server).complete(ASK)
    assert len(server.requests) == 1


def test_schema_goes_as_response_format(server: Scripted) -> None:
    server.script = [answer('{"n": 4}')]
    done = client(server).complete(ASK, schema=SCHEMA)
    assert done.data == {"n": 4}
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == SCHEMA


def test_vllm_falls_back_to_its_structured_outputs_and_remembers(server: Scripted) -> None:
    def only_structured_outputs(body: dict[str, Any]) -> Any:
        if "response_format" in body:
            return failure(400)
        assert body["structured_outputs"] == {"json": SCHEMA}
        return answer('{"n": 1}')

    server.script = [only_structured_outputs]
    llm = client(server, backend="vllm")
    assert llm.complete(ASK, schema=SCHEMA).data == {"n": 1}
    assert llm.complete(ASK, schema=SCHEMA).data == {"n": 1}
    assert len(server.requests) == 3  # one rejected try, then straight to the form that works


def test_vllm_oldest_form_is_guided_json(server: Scripted) -> None:
    server.script = [lambda b: answer('{"n": 2}') if "guided_json" in b else failure(400)]
    assert client(server, backend="vllm").complete(ASK, schema=SCHEMA).data == {"n": 2}
    assert len(server.requests) == 3


def test_openai_falls_back_to_json_object(server: Scripted) -> None:
    def json_object_only(body: dict[str, Any]) -> Any:
        if body.get("response_format", {}).get("type") == "json_object":
            return answer('{"n": 3}')
        return failure(400)

    server.script = [json_object_only]
    assert client(server).complete(ASK, schema=SCHEMA).data == {"n": 3}


def test_streaming(server: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    server.script = ["sse"]
    with caplog.at_level(logging.INFO, logger="agent.llm.base"):
        pieces = list(client(server).stream(ASK, tag="reply@1"))
    assert pieces == ["Hel", "lo", " there"]
    assert server.requests[0]["stream"] is True
    line = caplog.records[-1].getMessage()
    assert "reply@1" in line and "prompt_tokens=4" in line and "completion_tokens=3" in line

"""BaseLLM: message validation, schema handling with one retry, token counts, the log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from agent.llm.base import (
    LLM,
    BaseLLM,
    ChatCall,
    Completion,
    LLMOutputError,
    RawCompletion,
    StreamUsage,
)
from agent.llm.schema import parse_json, response_format
from agent.types import Message
from retrieval.errors import InvalidInputError, VidrecError

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "minutes": {"type": "integer"}},
    "required": ["title", "minutes"],
    "additionalProperties": False,
}
ASK = [Message("system", "Be brief."), Message("user", "A recipe please")]


class Scripted(BaseLLM):
    """Answers with the scripted texts in order; records what it was sent."""

    backend = "scripted"

    def __init__(self, *answers: str, usage: tuple[int, int] | None = (7, 3)) -> None:
        super().__init__("scripted-1", max_tokens=64, temperature=0.0)
        self.answers = list(answers)
        self.usage = usage
        self.sent: list[dict[str, Any]] = []

    def _chat(self, call: ChatCall) -> RawCompletion:
        self.sent.append(
            {
                "messages": call.messages,
                "schema": call.schema,
                "max_tokens": call.max_tokens,
                "temp": call.temperature,
            }
        )
        text = self.answers.pop(0)
        if self.usage is None:
            return RawCompletion(text)
        return RawCompletion(text, *self.usage)

    def _stream(self, call: ChatCall) -> Iterator[str | StreamUsage]:
        for word in self.answers.pop(0).split(" "):
            yield word + " "
        yield StreamUsage(11, 5)


def test_satisfies_the_protocol() -> None:
    assert isinstance(Scripted("x"), LLM)


def test_text_completion_with_defaults_and_overrides() -> None:
    llm = Scripted("hello", "again")
    done = llm.complete(ASK)
    assert isinstance(done, Completion)
    assert (done.text, done.data, done.backend, done.model) == (
        "hello",
        None,
        "scripted",
        "scripted-1",
    )
    assert (done.prompt_tokens, done.completion_tokens) == (7, 3)
    assert done.latency_s >= 0
    assert llm.sent[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "A recipe please"},
    ]
    assert (llm.sent[0]["max_tokens"], llm.sent[0]["temp"]) == (64, 0.0)
    llm.complete(ASK, max_tokens=5, temperature=0.7)
    assert (llm.sent[1]["max_tokens"], llm.sent[1]["temp"]) == (5, 0.7)


def test_schema_is_passed_parsed_and_validated() -> None:
    llm = Scripted('{"title": "Soup", "minutes": 20}')
    done = llm.complete(ASK, schema=SCHEMA)
    assert done.data == {"title": "Soup", "minutes": 20}
    assert llm.sent[0]["schema"] == SCHEMA


def test_code_fence_is_tolerated() -> None:
    assert parse_json('```json\n{"a": 1}\n```') == {"a": 1}


def test_invalid_output_is_retried_once_with_the_error_shown() -> None:
    llm = Scripted('{"title": "Soup"}', '{"title": "Soup", "minutes": 5}')
    done = llm.complete(ASK, schema=SCHEMA, tag="recipe@1")
    assert done.data == {"title": "Soup", "minutes": 5}
    assert len(llm.sent) == 2
    retry = llm.sent[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"title": "Soup"}'}
    assert "'minutes' is a required property" in retry[-1]["content"]
    assert (done.prompt_tokens, done.completion_tokens) == (14, 6)  # both tries counted


def test_still_invalid_after_retry_raises_a_clear_error() -> None:
    llm = Scripted("not json at all", '{"title": 3, "minutes": 1}')
    with pytest.raises(LLMOutputError) as info:
        llm.complete(ASK, schema=SCHEMA, tag="recipe@1")
    err = info.value
    assert isinstance(err, VidrecError)
    assert "recipe@1" in str(err) and "2 tries" in str(err)
    assert "invalid at title" in (err.got or "")
    assert err.hint
    assert len(llm.sent) == 2


def test_invalid_schema_is_rejected_before_calling() -> None:
    llm = Scripted("{}")
    with pytest.raises(InvalidInputError, match="not a valid JSON schema"):
        llm.complete(ASK, schema={"type": "bogus"})
    assert llm.sent == []


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "No messages"),
        ("hello", "sequence of Message"),
        ([{"role": "user", "content": "hi"}], "not a Message"),
        ([Message("robot", "hi")], "unknown role"),  # type: ignore[arg-type]
        ([Message("user", 3)], "not text"),  # type: ignore[arg-type]
        ([Message("system", "only rules")], "only system"),
    ],
)
def test_bad_messages(messages: Any, match: str) -> None:
    llm = Scripted("x")
    with pytest.raises(InvalidInputError, match=match):
        llm.complete(messages)
    with pytest.raises(InvalidInputError, match=match):
        llm.stream(messages)  # checked at call time, before iteration


def test_every_call_logs_tag_backend_model_tokens_latency(caplog: pytest.LogCaptureFixture) -> None:
    llm = Scripted("hello")
    with caplog.at_level(logging.INFO, logger="agent.llm.base"):
        llm.complete(ASK, tag="understand@3")
    line = caplog.records[-1].getMessage()
    assert "understand@3" in line
    assert "backend=scripted" in line and "model=scripted-1" in line
    assert "prompt_tokens=7" in line and "completion_tokens=3" in line
    assert "latency=" in line


def test_missing_usage_falls_back_to_a_word_count() -> None:
    done = Scripted("two words", usage=None).complete([Message("user", "one two three")])
    assert (done.prompt_tokens, done.completion_tokens) == (3, 2)


def test_stream_yields_pieces_and_logs_usage_after(caplog: pytest.LogCaptureFixture) -> None:
    llm = Scripted("one two three")
    with caplog.at_level(logging.INFO, logger="agent.llm.base"):
        pieces = list(llm.stream(ASK, tag="reply@1"))
    assert pieces == ["one ", "two ", "three "]  # the usage record is not passed on
    line = caplog.records[-1].getMessage()
    assert "reply@1" in line and "prompt_tokens=11" in line and "completion_tokens=5" in line
    assert "first_token=" in line


def test_stream_is_lazy() -> None:
    llm = Scripted("a b")
    stream = llm.stream(ASK)
    assert llm.answers == ["a b"]  # nothing consumed until iteration
    assert next(stream) == "a "
    assert llm.answers == []


def test_response_format_shape() -> None:
    fmt = response_format({"title": "Turn understanding!", "type": "object"})
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Turn_understanding_"
    assert fmt["json_schema"]["schema"]["type"] == "object"

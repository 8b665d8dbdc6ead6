"""The fake LLM is deterministic, scriptable and schema-valid by default."""

from __future__ import annotations

import jsonschema
import pytest

from agent.llm.base import LLM, LLMOutputError
from agent.llm.factory import create_llm
from agent.settings import Settings
from agent.types import Message
from retrieval.errors import BackendUnavailableError
from tests.fakes.llm import FakeLLM, default_for_schema, word_pieces

ASK = [
    Message("system", "rules"),
    Message("user", "earlier"),
    Message("assistant", "ok"),
    Message("user", "calm ocean documentaries"),
]

UNDERSTAND = {
    "type": "object",
    "properties": {
        "search_text": {"type": "string"},
        "wants_recommendations": {"type": "boolean"},
        "max_minutes": {"type": ["integer", "null"], "minimum": 1},
        "mood": {"type": "string", "enum": ["calm", "upbeat"]},
        "ranking": {"type": "array", "items": {"type": "string", "enum": ["v3", "v1", "v2"]}},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "score": {"type": "number", "exclusiveMinimum": 0},
        "nested": {"$ref": "#/$defs/Item"},
        "pick": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": -2}]},
    },
    "required": ["search_text", "ranking"],
    "$defs": {"Item": {"type": "object", "properties": {"id": {"type": "string", "maxLength": 4}}}},
}


def test_created_through_the_factory(settings: Settings) -> None:
    llm = create_llm(settings.llm, settings.models_dir)
    assert isinstance(llm, FakeLLM) and isinstance(llm, LLM)
    assert (llm.backend, llm.model) == ("fake", "fake")


def test_default_schema_answer_is_valid_and_deterministic() -> None:
    llm = FakeLLM()
    first = llm.complete(ASK, schema=UNDERSTAND)
    jsonschema.validate(first.data, UNDERSTAND)
    assert first.data == llm.complete(ASK, schema=UNDERSTAND).data
    data = first.data
    assert isinstance(data, dict)
    assert data["search_text"] == "calm ocean documentaries"  # free text: the last user message
    assert data["ranking"] == ["v3", "v1", "v2"]  # choices keep the given order
    assert data["mood"] == "calm"
    assert data["wants_recommendations"] is True
    assert data["max_minutes"] == 1 and data["score"] == 0.5 and data["pick"] == -2
    assert data["topics"] == ["calm ocean documentaries"] * 2
    assert data["nested"] == {"id": "calm"}


def test_default_text_and_stream() -> None:
    llm = FakeLLM()
    text = llm.complete(ASK).text
    assert text == "Fake reply: calm ocean documentaries"
    pieces = list(llm.stream(ASK))
    assert len(pieces) > 1 and "".join(pieces) == text


def test_queued_responses_in_order() -> None:
    llm = FakeLLM().enqueue("first", {"title": "x", "minutes": 1})
    assert llm.pending == 2
    assert llm.complete(ASK).text == "first"
    done = llm.complete(ASK, schema={"type": "object", "required": ["title"]})
    assert done.data == {"title": "x", "minutes": 1}
    assert llm.pending == 0


def test_queued_text_streams_in_word_pieces() -> None:
    llm = FakeLLM().enqueue("Here are  three talks.\n")
    assert list(llm.stream(ASK)) == ["Here ", "are  ", "three ", "talks.\n"]


def test_queued_exception_is_raised() -> None:
    llm = FakeLLM().enqueue(BackendUnavailableError("down"))
    with pytest.raises(BackendUnavailableError, match="down"):
        llm.complete(ASK)


def test_invalid_queued_answer_goes_through_the_base_retry() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    llm = FakeLLM().enqueue("oops", {"n": 2})
    assert llm.complete(ASK, schema=schema).data == {"n": 2}
    llm.enqueue("bad", "worse")
    with pytest.raises(LLMOutputError):
        llm.complete(ASK, schema=schema)


def test_calls_are_recorded() -> None:
    llm = FakeLLM()
    llm.complete(ASK, schema=UNDERSTAND, tag="understand@1", max_tokens=9)
    list(llm.stream(ASK, tag="reply@2"))
    first, second = llm.calls
    assert (first.kind, first.tag, first.schema, first.max_tokens) == (
        "complete",
        "understand@1",
        UNDERSTAND,
        9,
    )
    assert first.last_user == "calm ocean documentaries"
    assert first.messages[0] == {"role": "system", "content": "rules"}
    assert (second.kind, second.tag, second.schema) == ("stream", "reply@2", None)
    llm.reset()
    assert llm.calls == [] and llm.pending == 0


def test_word_pieces_round_trip() -> None:
    for text in ("", "one", "  lead and trail  ", "a\nb c"):
        assert "".join(word_pieces(text)) == text


def test_default_for_schema_respects_lengths() -> None:
    schema = {"type": "array", "items": {"type": "string", "minLength": 30}, "maxItems": 1}
    value = default_for_schema(schema, "short")
    jsonschema.validate(value, schema)

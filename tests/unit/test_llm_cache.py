"""The evaluation's LLM cache keeps an answer that failed the schema too: another row (or run)
asking the same gets the same error without calling the model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.llm.base import LLMOutputError
from agent.types import Message
from evaluation.cache import CachingLLM, JsonCache


class _Failing:
    backend = "fake"
    model = "degenerate"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, messages: Any, **_: Any) -> Any:
        self.calls += 1
        raise LLMOutputError(
            "not valid against the schema", expected="JSON", got="cut off", hint="shorter"
        )


def test_a_failed_answer_is_cached_and_raised_again(tmp_path: Path) -> None:
    inner = _Failing()
    messages = [Message("user", "psychological thrillers")]
    schema = {"type": "object"}
    for attempt in range(2):  # a second evaluation row, then a second run with a new cache object
        llm = CachingLLM(inner, JsonCache(tmp_path / "llm.sqlite"))  # type: ignore[arg-type]
        for _ in range(2):
            with pytest.raises(LLMOutputError) as raised:
                llm.complete(messages, schema=schema, tag="understand@3")
            assert (raised.value.got, raised.value.hint) == ("cut off", "shorter")
        assert llm.calls == (1 if attempt == 0 else 0)
    assert inner.calls == 1
    other = CachingLLM(inner, JsonCache(tmp_path / "llm.sqlite"))  # type: ignore[arg-type]
    with pytest.raises(LLMOutputError):
        other.complete(messages, schema=schema, tag="understand@4")  # another input: asked
    assert inner.calls == 2

"""A deterministic LLM for unit tests, registered as the ``"fake"`` backend of ``agent.llm.LLMS``.

It goes through :class:`agent.llm.base.BaseLLM` like every real backend, so message validation,
schema validation (with its one retry), token counts and the log line are exercised too.

* ``enqueue(x)`` queues a response: a ``str`` is returned as is, any other value is sent as JSON,
  an exception instance is raised by the call that takes it. A schema call whose queued answer is
  not schema-valid is retried by the base, which takes the next queued item (or the default).
* ``route(text, x, ...)`` queues responses for the calls whose last user message contains
  ``text`` only (taken before the general queue), so concurrent calls (one reasons request per
  card) get their own answers whatever order they arrive in.
* With nothing queued: for a schema, a schema-valid object built from the schema (free-text strings
  are the last user message, enum choices and array items keep the order the schema gives them,
  booleans are ``true``, numbers minimal); for text, ``"Fake reply: <last user message>"``.
* ``stream`` yields the same text in word pieces.
* ``calls`` records every call (messages, schema, tag) for assertions.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.llm.base import BaseLLM, ChatCall, Completion, RawCompletion
from agent.llm.factory import LLMS
from agent.settings import LLMSettings
from agent.types import Message


@dataclass(frozen=True)
class FakeCall:
    """One recorded call."""

    kind: str  # "complete" or "stream"
    messages: list[dict[str, str]]
    schema: dict[str, Any] | None
    tag: str
    max_tokens: int
    temperature: float

    @property
    def last_user(self) -> str:
        return _last_user(self.messages)


def _last_user(messages: list[dict[str, str]]) -> str:
    for msg in reversed(messages):
        if msg["role"] == "user":
            return msg["content"]
    return ""


def word_pieces(text: str) -> list[str]:
    """Split ``text`` into pieces that join back to it exactly (each word with its spacing)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class FakeLLM(BaseLLM):
    """Deterministic stand-in for a real backend (see the module docstring)."""

    backend = "fake"
    max_recorded = 1000  # ``calls`` keeps the latest ones, so a long-running server stays flat

    def _record(self, call: FakeCall) -> None:
        self.calls.append(call)
        if len(self.calls) > self.max_recorded:
            del self.calls[: len(self.calls) - self.max_recorded]

    def __init__(self, model: str = "fake", *, max_tokens: int = 512, temperature: float = 0.0):
        super().__init__(model, max_tokens=max_tokens, temperature=temperature)
        self._queue: deque[Any] = deque()
        self._routes: dict[str, deque[Any]] = {}
        self.calls: list[FakeCall] = []
        self._tag = ""

    def enqueue(self, *responses: Any) -> FakeLLM:
        """Queue responses, taken one per call in order. Returns ``self`` for chaining."""
        self._queue.extend(responses)
        return self

    def route(self, text: str, *responses: Any) -> FakeLLM:
        """Queue responses for the calls whose last user message contains ``text``."""
        self._routes.setdefault(text, deque()).extend(responses)
        return self

    @property
    def pending(self) -> int:
        """How many queued responses are left (routed ones included)."""
        return len(self._queue) + sum(len(q) for q in self._routes.values())

    def reset(self) -> None:
        self._queue.clear()
        self._routes.clear()
        self.calls.clear()

    # The base does not hand the tag to backends; note it on the way in for ``calls``.
    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Completion:
        self._tag = tag
        return super().complete(
            messages, schema=schema, max_tokens=max_tokens, temperature=temperature, tag=tag
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Iterator[str]:
        self._tag = tag
        return super().stream(messages, max_tokens=max_tokens, temperature=temperature, tag=tag)

    def _next_text(self, messages: list[dict[str, str]], schema: dict[str, Any] | None) -> str:
        user = _last_user(messages)
        routed = next((q for t, q in self._routes.items() if q and t in user), None)
        if routed is not None or self._queue:
            item = (routed or self._queue).popleft()
            if isinstance(item, BaseException):
                raise item
            return item if isinstance(item, str) else json.dumps(item)
        if schema is not None:
            return json.dumps(default_for_schema(schema, user))
        return f"Fake reply: {user}".strip() if user else "Fake reply."

    def _chat(self, call: ChatCall) -> RawCompletion:
        self._record(
            FakeCall(
                "complete",
                list(call.messages),
                call.schema,
                self._tag,
                call.max_tokens,
                call.temperature,
            )
        )
        text = self._next_text(call.messages, call.schema)
        return RawCompletion(text=text)

    def _stream(self, call: ChatCall) -> Iterator[str]:
        self._record(
            FakeCall(
                "stream", list(call.messages), None, self._tag, call.max_tokens, call.temperature
            )
        )
        yield from word_pieces(self._next_text(call.messages, None))


# --- schema-valid defaults ------------------------------------------------------------------------


def default_for_schema(schema: dict[str, Any], text: str) -> Any:
    """A deterministic value valid against ``schema`` (common keywords; local ``$ref`` only)."""
    return _default(schema, schema, text)


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"FakeLLM resolves only local $ref, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


def _default(schema: dict[str, Any], root: dict[str, Any], text: str) -> Any:
    if "$ref" in schema:
        return _default(_resolve(schema["$ref"], root), root, text)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            non_null = [o for o in options if o.get("type") != "null"]
            return _default((non_null or options)[0], root, text)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
        return _default(merged, root, text)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {name: _default(sub, root, text) for name, sub in props.items()}
    if kind == "array":
        return _array(schema, root, text)
    if kind == "string":
        value = text
        max_len = schema.get("maxLength")
        if max_len is not None:
            value = value[:max_len]
        return value.ljust(schema.get("minLength", 0), "x")
    if kind in ("integer", "number"):
        return _number(schema, kind)
    if kind == "boolean":
        return True
    return None


def _array(schema: dict[str, Any], root: dict[str, Any], text: str) -> list[Any]:
    lo = int(schema.get("minItems", 0))
    hi = schema.get("maxItems")
    items: dict[str, Any] = schema.get("items", {})
    if "$ref" in items:
        items = _resolve(items["$ref"], root)
    if "enum" in items:
        values = list(items["enum"])
    elif "prefixItems" in schema:
        values = [_default(s, root, text) for s in schema["prefixItems"]]
    else:
        values = [_default(items, root, text)] * max(lo, 1)
    if hi is not None:
        values = values[: int(hi)]
    while len(values) < lo:
        values.append(values[-1] if values else _default(items, root, text))
    return values


def _number(schema: dict[str, Any], kind: str) -> int | float:
    step = 1 if kind == "integer" else 0.5
    if "minimum" in schema:
        value: float = schema["minimum"]
    elif "exclusiveMinimum" in schema:
        value = schema["exclusiveMinimum"] + step
    elif "maximum" in schema:
        value = min(0, schema["maximum"])
    elif "exclusiveMaximum" in schema:
        value = min(0, schema["exclusiveMaximum"] - step)
    else:
        value = 0
    return int(value) if kind == "integer" else float(value)


def create(settings: LLMSettings, models_dir: Path) -> FakeLLM:
    return FakeLLM(max_tokens=settings.max_tokens, temperature=settings.temperature)


def register() -> None:
    LLMS.register("fake", create)

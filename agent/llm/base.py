"""The one LLM interface of vidrec and the base class every backend builds on.

A backend implements two methods, :meth:`BaseLLM._chat` and :meth:`BaseLLM._stream`. Everything
else lives here, once: message validation, JSON-schema handling (the schema goes to the backend's
structured output; the answer is parsed and validated with ``jsonschema``, :mod:`agent.llm.schema`;
an invalid answer is retried once with the validation error shown to the model, then a clear
:class:`LLMOutputError`), timing, token counts, and one log line per call::

    llm call understand@1 backend=llamacpp model=qwen2.5-0.5b prompt_tokens=312 completion_tokens=41 latency=1.12s
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from agent.llm.schema import check_schema, schema_error, schema_name
from agent.types import Message
from retrieval.errors import InvalidInputError, VidrecError

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")

#: How many times an answer that is not valid against the schema is asked for again.
SCHEMA_RETRIES = 1


class LLMOutputError(VidrecError):
    """The model answered, but not with JSON valid against the requested schema (after a retry)."""

    http_status = 502
    code = "llm_bad_output"


@dataclass(frozen=True)
class Completion:
    """One finished LLM call.

    Attributes:
        text: the raw text the model produced (for a schema call: the JSON text).
        data: the parsed, schema-valid JSON when a schema was given, else ``None``.
        prompt_tokens: tokens in the prompt, as the backend counted them (summed over a retry).
        completion_tokens: tokens generated (summed over a retry).
        latency_s: wall time of the whole call, retries included.
        model: the model that answered.
        backend: the backend name (``llamacpp``, ``vllm``, ``openai``, ``transformers``, ``fake``).
    """

    text: str
    data: Any | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    model: str
    backend: str


@dataclass(frozen=True)
class ChatCall:
    """What :meth:`BaseLLM.complete` and :meth:`BaseLLM.stream` hand a backend, checked and with
    the defaults filled in.

    Attributes:
        messages: OpenAI-style ``{"role", "content"}`` dicts (:func:`validate_messages`).
        max_tokens: cap on generated tokens.
        temperature: sampling temperature (0 = greedy).
        schema: a valid JSON schema to constrain the answer to if the backend can (only for
            :meth:`BaseLLM._chat`), else ``None``.
    """

    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class RawCompletion:
    """What a backend's :meth:`BaseLLM._chat` returns; token counts ``None`` when unknown."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class StreamUsage:
    """Token counts a backend's :meth:`BaseLLM._stream` may yield last (not passed to callers)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@runtime_checkable
class LLM(Protocol):
    """Chat messages in; text, schema-valid JSON, or a lazy token stream out."""

    backend: str
    model: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Completion:
        """Answer ``messages``; with ``schema``, ``Completion.data`` is JSON valid against it.

        ``tag`` names the prompt (``"name@version"``) for the log.
        """
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Iterator[str]:
        """Yield the answer lazily, piece by piece (tokens or small groups of them)."""
        ...


def validate_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Check ``messages`` and turn them into OpenAI-style ``{"role", "content"}`` dicts."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidInputError(
            "LLM messages must be a sequence of Message",
            expected="a list of agent.types.Message",
            got=type(messages).__name__,
            hint="Wrap text as [Message('user', text)] or render a prompt with prompts.load_prompt",
        )
    if not messages:
        raise InvalidInputError(
            "No messages to send to the LLM",
            expected="at least one Message",
            got="an empty list",
            hint="Render a prompt with prompts.load_prompt(name).render(...)",
        )
    out: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, Message):
            raise InvalidInputError(
                f"LLM message {i} is not a Message",
                expected="agent.types.Message(role, content)",
                got=f"{type(msg).__name__} {str(msg)[:60]!r}",
                hint="Build messages with agent.types.Message",
            )
        if msg.role not in ROLES:
            raise InvalidInputError(
                f"LLM message {i} has an unknown role",
                expected="one of " + ", ".join(ROLES),
                got=repr(msg.role),
            )
        if not isinstance(msg.content, str):
            raise InvalidInputError(
                f"LLM message {i} content is not text",
                expected="str",
                got=type(msg.content).__name__,
            )
        out.append({"role": msg.role, "content": msg.content})
    if all(m["role"] == "system" for m in out):
        raise InvalidInputError(
            "LLM messages hold only system instructions",
            expected="at least one user or assistant message",
            got=f"{len(out)} system message(s)",
        )
    return out


def count_words(text: str) -> int:
    """A rough token count for backends that report none (one per word piece)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


class BaseLLM(ABC):
    """Base of every backend: implement :meth:`_chat` and :meth:`_stream`, nothing else.

    Args:
        model: the model name or path, as reported in completions and logs.
        max_tokens: default cap on generated tokens.
        temperature: default sampling temperature (0 = greedy, reproducible).
    """

    backend: str = "base"

    def __init__(self, model: str, *, max_tokens: int = 512, temperature: float = 0.0) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._lock = threading.Lock()

    # --- what a backend implements -------------------------------------------------------------

    @abstractmethod
    def _chat(self, call: ChatCall) -> RawCompletion:
        """Answer ``call.messages`` in one go; with ``call.schema``, constrain the output to it if
        possible."""

    @abstractmethod
    def _stream(self, call: ChatCall) -> Iterator[str | StreamUsage]:
        """Yield the answer's text pieces as they are generated, then optionally its usage."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing to free
        """Free what the backend holds (a loaded model, an HTTP pool). Safe to call twice."""

    # --- the public interface --------------------------------------------------------------------

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Completion:
        """Answer ``messages``; with ``schema``, ``Completion.data`` is JSON valid against it.

        Raises:
            InvalidInputError: malformed messages or schema.
            LLMOutputError: the answer was not schema-valid JSON, even after one retry.
            BackendUnavailableError: the backend cannot be reached or loaded.
        """
        chat = validate_messages(messages)
        if schema is not None:
            check_schema(schema)
        call = self._call(chat, max_tokens, temperature, schema)
        start = time.perf_counter()
        prompt_tokens = completion_tokens = 0
        data: Any = None
        attempt = 0
        while True:
            raw = self._chat(call)
            prompt_tokens += raw.prompt_tokens or sum(
                count_words(m["content"]) for m in call.messages
            )
            completion_tokens += (
                raw.completion_tokens
                if raw.completion_tokens is not None
                else count_words(raw.text)
            )
            if schema is None:
                break
            data, why = schema_error(raw.text, schema)
            if why is None:
                break
            log.warning(
                "llm call %s backend=%s model=%s: output %s (attempt %d)",
                tag or "-",
                self.backend,
                self.model,
                why,
                attempt + 1,
            )
            if attempt >= SCHEMA_RETRIES:
                raise LLMOutputError(
                    f"The {self.backend} model {self.model!r} did not answer with JSON valid "
                    f"against the schema for {tag or 'this call'} after {attempt + 1} tries",
                    expected=f"JSON matching schema {schema_name(schema)!r}",
                    got=f"{why}; output began {raw.text[:120]!r}",
                    hint="Use a larger model or a backend with constrained decoding "
                    "(llamacpp, vllm), or raise llm.max_tokens if the JSON was cut off",
                )
            attempt += 1
            retry = [
                {"role": "assistant", "content": raw.text},
                {
                    "role": "user",
                    "content": f"That answer was {why}. Reply again with only a JSON value "
                    f"valid against this JSON schema, nothing else:\n{json.dumps(schema)}",
                },
            ]
            call = replace(call, messages=[*call.messages, *retry])
        latency = time.perf_counter() - start
        self._log(tag, prompt_tokens, completion_tokens, latency)
        return Completion(
            text=raw.text,
            data=data,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            model=self.model,
            backend=self.backend,
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Iterator[str]:
        """Yield the answer lazily. Messages are checked now; generation starts on first ``next``."""
        call = self._call(validate_messages(messages), max_tokens, temperature)
        return self._logged_stream(call, tag)

    def _call(
        self,
        chat: list[dict[str, str]],
        max_tokens: int | None,
        temperature: float | None,
        schema: dict[str, Any] | None = None,
    ) -> ChatCall:
        """The backend's call: the checked messages, this instance's defaults where none given."""
        return ChatCall(
            chat,
            max_tokens=max_tokens if max_tokens is not None else self.max_tokens,
            temperature=temperature if temperature is not None else self.temperature,
            schema=schema,
        )

    def _logged_stream(self, call: ChatCall, tag: str) -> Iterator[str]:
        start = time.perf_counter()
        first: float | None = None
        pieces = 0
        usage = StreamUsage()
        try:
            for piece in self._stream(call):
                if isinstance(piece, StreamUsage):
                    usage = piece
                    continue
                if not piece:
                    continue
                if first is None:
                    first = time.perf_counter() - start
                pieces += 1
                yield piece
        finally:
            latency = time.perf_counter() - start
            prompt_tokens = usage.prompt_tokens
            if prompt_tokens is None:
                prompt_tokens = sum(count_words(m["content"]) for m in call.messages)
            self._log(
                tag,
                prompt_tokens,
                usage.completion_tokens if usage.completion_tokens is not None else pieces,
                latency,
                first_token_s=first,
            )

    def _log(
        self,
        tag: str,
        prompt_tokens: int,
        completion_tokens: int,
        latency: float,
        *,
        first_token_s: float | None = None,
    ) -> None:
        extra = f" first_token={first_token_s:.2f}s" if first_token_s is not None else ""
        log.info(
            "llm call %s backend=%s model=%s prompt_tokens=%d completion_tokens=%d latency=%.2fs%s",
            tag or "-",
            self.backend,
            self.model,
            prompt_tokens,
            completion_tokens,
            latency,
            extra,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, model={self.model!r})"

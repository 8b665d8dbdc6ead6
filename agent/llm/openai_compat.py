"""One client for every OpenAI-compatible chat endpoint: ``vllm serve`` (the production GPU path),
llama.cpp's server, or any hosted API. A local vLLM, a remote one and any compatible server differ
only by ``base_url`` and ``model``.

Built on the official ``openai`` package, which owns timeouts and retries: connection errors, 408,
409, 429 and 5xx answers are retried ``max_retries`` times with exponential backoff (0.5 s doubling,
at most 8 s, with jitter; a server's ``Retry-After`` is honoured).

Structured output: the schema is sent as ``response_format`` ``{"type": "json_schema", ...}``.
If the server rejects that (HTTP 400), the client falls back, once per client, to the next form the
backend knows and remembers the one that worked: for vLLM its own extra parameter
(``structured_outputs: {json: schema}`` since vLLM 0.10.2, ``guided_json`` before), for other servers
``{"type": "json_object"}``; the base class validates the answer against the schema either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai

from agent.llm.base import BaseLLM, ChatCall, RawCompletion, StreamUsage
from agent.llm.schema import response_format
from agent.settings import LLMSettings
from retrieval.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
    RateLimitedError,
    VidrecError,
)

log = logging.getLogger(__name__)

VLLM_DEFAULT_URL = "http://127.0.0.1:8000/v1"

#: How each backend may ask for JSON matching a schema, tried in this order.
STRUCTURED_FORMS: dict[str, tuple[str, ...]] = {
    "vllm": ("response_format", "structured_outputs", "guided_json"),
    "openai": ("response_format", "json_object"),
}

_START_HINTS = {
    "vllm": "Start it with `vllm serve <model> --host 0.0.0.0 --port 8000` (README: Serving on a "
    "GPU with vLLM), or set VIDREC_LLM__BASE_URL to where it runs",
    "openai": "Check VIDREC_LLM__BASE_URL and that the server is running",
}


def _structured_args(form: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create`` asking for ``schema`` in ``form``."""
    if form == "response_format":
        return {"response_format": response_format(schema)}
    if form == "json_object":
        return {"response_format": {"type": "json_object"}}
    if form == "structured_outputs":
        return {"extra_body": {"structured_outputs": {"json": schema}}}
    if form == "guided_json":
        return {"extra_body": {"guided_json": schema}}
    raise ValueError(form)


class OpenAICompatLLM(BaseLLM):
    """A client of an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Args:
        base_url: the endpoint root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the served model id (``--served-model-name`` for vLLM).
        api_key: the server's key; local servers without one accept any value.
        timeout_s: per-request timeout.
        max_retries: retries on connection errors, 408/409/429 and 5xx (exponential backoff).
        backend: ``"vllm"`` or ``"openai"``: names the backend in logs, picks the structured
            output fallbacks and the start hint.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backend: str = "openai",
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        super().__init__(model, max_tokens=max_tokens, temperature=temperature)
        if backend not in STRUCTURED_FORMS:
            raise ConfigError(
                "Unknown OpenAI-compatible backend flavour",
                expected="one of " + ", ".join(STRUCTURED_FORMS),
                got=repr(backend),
            )
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self._forms = list(STRUCTURED_FORMS[backend])

    def close(self) -> None:
        self.client.close()

    # --- errors ----------------------------------------------------------------------------------

    def _error(self, exc: Exception) -> VidrecError:
        """A vidrec error for what the ``openai`` client raised (after its own retries)."""
        where = f"{self.backend} server at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailableError(
                f"The {where} did not answer in time",
                hint="Raise VIDREC_LLM__TIMEOUT_S, or check the server's load",
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendUnavailableError(
                f"Cannot reach the {where}",
                expected="an OpenAI-compatible server answering at " + self.base_url,
                got=str(exc.__cause__ or exc),
                hint=_START_HINTS[self.backend],
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return AuthenticationError(
                f"The {where} refused the API key ({exc.status_code})",
                hint="Set VIDREC_LLM__API_KEY to the key the server expects",
            )
        if isinstance(exc, openai.NotFoundError):
            return ConfigError(
                f"The {where} does not serve the model {self.model!r}",
                expected="one of " + ", ".join(self._served_models() or ["(could not list)"]),
                got=repr(self.model),
                hint="Set VIDREC_LLM__MODEL to the served model id (vLLM: --served-model-name)",
            )
        if isinstance(exc, openai.RateLimitError):
            return RateLimitedError(
                f"The {where} keeps rate-limiting requests", hint="Try again later"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if 400 <= status < 500:
                return InvalidInputError(
                    f"The {where} rejected the request ({status}): {exc.message}"
                )
            return BackendUnavailableError(
                f"The {where} failed ({status}) after retries: {exc.message}",
                hint="Check the server's log",
            )
        return BackendUnavailableError(f"The {where} failed: {exc}")

    def _served_models(self) -> list[str]:
        try:
            return [m.id for m in self.client.models.list()]
        except openai.OpenAIError:
            return []

    # --- the two backend methods -------------------------------------------------------------

    def _args(self, call: ChatCall) -> dict[str, Any]:
        """The ``chat.completions.create`` arguments every request carries."""
        return {
            "model": self.model,
            "messages": call.messages,
            "max_tokens": call.max_tokens,
            "temperature": call.temperature,
        }

    def _chat(self, call: ChatCall) -> RawCompletion:
        base = self._args(call)
        schema = call.schema
        while True:
            form = self._forms[0] if schema is not None else None
            extra = _structured_args(form, schema) if form and schema is not None else {}
            try:
                response = self.client.chat.completions.create(**base, **extra)
                break
            except openai.BadRequestError as exc:
                if form is None or len(self._forms) == 1:
                    raise self._error(exc) from exc
                log.warning(
                    "%s server at %s rejected structured output as %s (%s); trying %s",
                    self.backend,
                    self.base_url,
                    form,
                    exc.message,
                    self._forms[1],
                )
                self._forms.pop(0)
            except openai.OpenAIError as exc:
                raise self._error(exc) from exc
        choice = response.choices[0]
        usage = response.usage
        return RawCompletion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    def _stream(self, call: ChatCall) -> Iterator[str | StreamUsage]:
        request = {**self._args(call), "stream": True, "stream_options": {"include_usage": True}}
        try:
            stream: Any = self.client.chat.completions.create(**request)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        try:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                if chunk.usage:
                    yield StreamUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        finally:
            stream.close()


def _api_key(settings: LLMSettings) -> str | None:
    return settings.api_key.get_secret_value() if settings.api_key else None


def create_vllm(settings: LLMSettings, models_dir: Path) -> OpenAICompatLLM:
    """The ``vllm`` backend: a ``vllm serve`` endpoint (default ``http://127.0.0.1:8000/v1``)."""
    return OpenAICompatLLM(
        settings.base_url or VLLM_DEFAULT_URL,
        settings.model,
        api_key=_api_key(settings),
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backend="vllm",
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    )


def create_openai(settings: LLMSettings, models_dir: Path) -> OpenAICompatLLM:
    """The ``openai`` backend: any OpenAI-compatible endpoint named by ``llm.base_url``."""
    if not settings.base_url:
        raise ConfigError(
            "The openai backend needs the endpoint's URL",
            expected="llm.base_url, e.g. https://api.openai.com/v1 or http://host:8080/v1",
            got="nothing",
            hint="Set VIDREC_LLM__BASE_URL (and VIDREC_LLM__API_KEY, VIDREC_LLM__MODEL)",
        )
    return OpenAICompatLLM(
        settings.base_url,
        settings.model,
        api_key=_api_key(settings),
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backend="openai",
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    )

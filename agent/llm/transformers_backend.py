"""Any Hugging Face causal LM from a local folder, in-process, on CPU or CUDA.

Loads with ``AutoTokenizer`` / ``AutoModelForCausalLM`` (``local_files_only``: nothing is
downloaded), formats the conversation with the tokenizer's chat template, and streams through
``TextIteratorStreamer``. Needs ``torch`` and ``transformers`` (``pip install 'vidrec[gpu]'``),
imported on first load so that choosing the backend stays cheap.

Structured output is weaker here than with ``llamacpp`` or ``vllm``: generation is not constrained
by the schema. The schema is put into the instructions, and the base class validates the answer and
asks once more with the validation error when it is not valid JSON for the schema. Small models may
still fail (then :class:`agent.llm.base.LLMOutputError`); prefer a constrained backend for them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.llm.base import BaseLLM, ChatCall, RawCompletion, StreamUsage
from agent.settings import LLMSettings
from retrieval.errors import BackendUnavailableError, ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

SCHEMA_INSTRUCTION = (
    "Answer with only a JSON value valid against this JSON schema, no prose and no code fence:\n"
)


def with_schema_instruction(
    messages: list[dict[str, str]], schema: dict[str, Any]
) -> list[dict[str, str]]:
    """``messages`` with the schema instruction added to the system message (or a new one)."""
    instruction = SCHEMA_INSTRUCTION + json.dumps(schema)
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": messages[0]["content"] + "\n\n" + instruction}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


class TransformersLLM(BaseLLM):
    """A local Hugging Face causal LM.

    Args:
        model_path: folder with ``config.json``, weights and a tokenizer with a chat template.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        model: the name reported in completions and logs (defaults to the folder name).
    """

    backend = "transformers"

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        model: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        super().__init__(model or model_path.name, max_tokens=max_tokens, temperature=temperature)
        self.model_path = model_path
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self.load_s: float | None = None

    def load(self) -> tuple[Any, Any]:
        """Load ``(tokenizer, model)`` now (otherwise on the first call); thread-safe, once."""
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                "The transformers backend is set to run on CUDA, but no CUDA device is available",
                expected="llm.device = cpu on this machine",
                got=repr(self.device),
                hint="Set VIDREC_LLM__DEVICE=cpu, or install a CUDA build of torch",
            )
        start = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
            model: Any = AutoModelForCausalLM.from_pretrained(
                self.model_path, local_files_only=True, dtype=dtype
            )
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(
                f"transformers could not load the model at {self.model_path}",
                expected="a Hugging Face causal LM folder (config.json, weights, tokenizer)",
                got=str(exc).splitlines()[0],
                hint="Point VIDREC_LLM__MODEL at a local model folder (nothing is downloaded)",
            ) from exc
        model.to(self.device).eval()
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"The tokenizer at {self.model_path} has no chat template",
                expected="an instruction-tuned model whose tokenizer_config.json has chat_template",
                got="no chat_template",
                hint="Use the -Instruct / -Chat variant of the model",
            )
        self.load_s = time.perf_counter() - start
        log.info("transformers loaded %s on %s in %.2fs", self.model_path, self.device, self.load_s)
        return tokenizer, model

    def close(self) -> None:
        with self._lock:
            self._loaded = None

    def _inputs(self, messages: list[dict[str, str]]) -> tuple[Any, Any, dict[str, Any]]:
        tokenizer, model = self.load()
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        return tokenizer, model, dict(inputs)

    @staticmethod
    def _generation_args(tokenizer: Any, call: ChatCall) -> dict[str, Any]:
        args: dict[str, Any] = {"max_new_tokens": call.max_tokens}
        if call.temperature > 0:
            args.update(do_sample=True, temperature=call.temperature)
        else:
            args.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        if pad is not None:
            args["pad_token_id"] = pad
        return args

    def _chat(self, call: ChatCall) -> RawCompletion:
        import torch

        messages = call.messages
        if call.schema is not None:
            messages = with_schema_instruction(messages, call.schema)
        tokenizer, model, inputs = self._inputs(messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        with torch.inference_mode():
            output = model.generate(**inputs, **self._generation_args(tokenizer, call))
        new = output[0, prompt_len:]
        return RawCompletion(
            text=tokenizer.decode(new, skip_special_tokens=True),
            prompt_tokens=prompt_len,
            completion_tokens=int(new.shape[0]),
        )

    def _stream(self, call: ChatCall) -> Iterator[str | StreamUsage]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class StopWhenAbandoned(StoppingCriteria):
            """Ends generation once the caller stops reading the stream."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device
                )

        tokenizer, model, inputs = self._inputs(call.messages)
        stop = threading.Event()
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        args = {
            **inputs,
            **self._generation_args(tokenizer, call),
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([StopWhenAbandoned()]),
        }
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    model.generate(**args)
            except BaseException as exc:
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="transformers-stream", daemon=True)
        thread.start()
        try:
            for text in streamer:
                if text:
                    yield text
        finally:
            stop.set()  # ends generation at the next token when the caller stops reading
            thread.join(timeout=60)
        if failure:
            raise BackendUnavailableError(f"transformers generation failed: {failure[0]}")
        yield StreamUsage(int(inputs["input_ids"].shape[1]), None)


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: hidden in sys.modules
        return False


def create(settings: LLMSettings, models_dir: Path) -> TransformersLLM:
    """The ``transformers`` backend: ``llm.model`` must be a local Hugging Face model folder."""
    missing = [p for p in ("torch", "transformers") if not _installed(p)]
    if missing:
        raise MissingDependencyError(
            f"The transformers LLM backend needs {' and '.join(missing)}, not installed",
            hint="Install them with: pip install 'vidrec[gpu]' (or use backend llamacpp)",
        )
    path = Path(settings.model).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"The transformers backend needs a local Hugging Face model folder, not {settings.model!r}",
            expected="a folder with config.json, weights and tokenizer files",
            got=repr(settings.model)
            + (
                " (a packaged GGUF name: use backend llamacpp)" if "/" not in settings.model else ""
            ),
            hint="Set VIDREC_LLM__MODEL=/path/to/model (e.g. a Qwen2.5-Instruct snapshot)",
        )
    return TransformersLLM(
        path,
        device=settings.device,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    )

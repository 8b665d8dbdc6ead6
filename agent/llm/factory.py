"""Choose the LLM backend by name from settings.

Real backends register lazily as ``"module:attr"`` strings, so importing this module never imports
llama.cpp, torch or the HTTP client. Each backend module exposes ``create(settings, models_dir)``.
The unit-test fake registers itself here too, under ``"fake"`` (``tests/fakes/llm.py``).
"""

from __future__ import annotations

from pathlib import Path

from agent.llm.base import LLM
from agent.settings import LLMSettings
from retrieval.registry import Registry

LLMS: Registry[LLM] = Registry("llm")
LLMS.register("llamacpp", "agent.llm.llamacpp:create")
LLMS.register("vllm", "agent.llm.openai_compat:create_vllm")
LLMS.register("openai", "agent.llm.openai_compat:create_openai")
LLMS.register("transformers", "agent.llm.transformers_backend:create", extra="gpu")


def create_llm(settings: LLMSettings, models_dir: Path) -> LLM:
    """Build the backend ``settings.backend`` names (nothing loads until the first call).

    Raises:
        ConfigError: unknown backend name (the message lists the valid ones).
        MissingDependencyError: the backend's optional package is not installed.
    """
    return LLMS.create(settings.backend, settings, models_dir)

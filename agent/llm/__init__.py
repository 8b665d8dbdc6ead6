"""LLM backends behind one Protocol: ``llamacpp`` (embedded CPU default), ``vllm`` / ``openai``
(OpenAI-compatible HTTP), ``transformers`` (any local Hugging Face causal LM).

``from agent.llm import create_llm, LLM, Completion``; heavy backends import lazily.
"""

from __future__ import annotations

from agent.llm.base import LLM, BaseLLM, ChatCall, Completion, LLMOutputError, RawCompletion
from agent.llm.factory import LLMS, create_llm

__all__ = [
    "LLM",
    "LLMS",
    "BaseLLM",
    "ChatCall",
    "Completion",
    "LLMOutputError",
    "RawCompletion",
    "create_llm",
]

"""Every prompt of vidrec as a versioned template file (``<name>.toml``); no logic beyond loading."""

from __future__ import annotations

from prompts.loader import Prompt, PromptError, list_prompts, load_prompt

__all__ = ["Prompt", "PromptError", "list_prompts", "load_prompt"]

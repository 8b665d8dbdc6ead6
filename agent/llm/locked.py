"""One LLM shared between threads: every call serialised by one lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from agent.llm.base import LLM, Completion
from agent.types import Message

__all__ = ["LockedLLM"]


class LockedLLM:
    """Serialises every call to one LLM across threads (a stream holds the lock until it ends).

    The lock is re-entrant and so thread-owned: a stream must be stepped on one thread, which
    ``Recommender.stream`` guarantees by running the turn on its own (:mod:`agent.relay`).
    """

    def __init__(self, llm: LLM, lock: threading.RLock | None = None) -> None:
        self.inner = llm
        self._lock = lock if lock is not None else threading.RLock()
        self.backend = llm.backend
        self.model = llm.model

    def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        with self._lock:
            return self.inner.complete(messages, **kwargs)

    def stream(self, messages: Sequence[Message], **kwargs: Any) -> Iterator[str]:
        with self._lock:
            yield from self.inner.stream(messages, **kwargs)

    def close(self) -> None:
        """Close the wrapped model when it holds resources (a server process, a file)."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

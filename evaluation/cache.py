"""Content-keyed caches that make a re-run of an evaluation cheap.

- ``CachingLLM`` wraps any ``LLM``: a completion (or a streamed answer, once read to its end) is
  stored under the hash of everything that decides it (backend, model, prompt tag
  ``name@version``, messages, schema, max_tokens, temperature), so a changed prompt version, input
  or model misses and anything else hits.
- ``JsonCache`` keeps small JSON results (e.g. a system's ranking of one case) under a key.
- ``file_sha256`` / ``text_sha256`` key data files and catalogues by content.

Indexes and embeddings are cached by giving each catalogue its own eval data folder named by the
catalogue's hash (``evaluation.workspace``): the ingest there is idempotent, so the second run finds
every item unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agent.llm.base import LLM, Completion, LLMOutputError
from agent.types import Message

log = logging.getLogger(__name__)


def text_sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (relative names + contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8") + b"\x00")
        with file.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


class JsonCache:
    """A tiny persistent key -> JSON store (one SQLite file, safe across threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value TEXT)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cache (key, value) VALUES (?, ?)", (key, text))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM cache").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachingLLM:
    """An ``LLM`` that answers repeated calls from a ``JsonCache`` (streams pass through).

    It also records which prompt tags (``name@version``) were used, for the report.
    """

    def __init__(self, inner: LLM, cache: JsonCache) -> None:
        self.inner = inner
        self.cache = cache
        self.backend = inner.backend
        self.model = inner.model
        self.tags: set[str] = set()
        self.calls = 0
        self.generated_tokens = 0

    def key(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any] | None,
        max_tokens: int | None,
        temperature: float | None,
        tag: str,
    ) -> str:
        payload = json.dumps(
            {
                "backend": self.backend,
                "model": self.model,
                "tag": tag,
                "messages": [[m.role, m.content] for m in messages],
                "schema": schema,
                "max_tokens": max_tokens,
                "temperature": temperature,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return text_sha256(payload)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Completion:
        if tag:
            self.tags.add(tag)
        key = self.key(messages, schema, max_tokens, temperature, tag)
        hit = self.cache.get(key)
        if hit is not None and "failed" in hit:
            raise LLMOutputError(**hit["failed"])
        if hit is not None:
            return Completion(**hit)
        self.calls += 1
        try:
            done = self.inner.complete(
                messages, schema=schema, max_tokens=max_tokens, temperature=temperature, tag=tag
            )
        except LLMOutputError as exc:
            failed = {"message": exc.message, "expected": exc.expected, "got": exc.got}
            self.cache.put(key, {"failed": {**failed, "hint": exc.hint}})
            raise
        self.generated_tokens += done.completion_tokens
        self.cache.put(
            key,
            {
                "text": done.text,
                "data": done.data,
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "latency_s": done.latency_s,
                "model": done.model,
                "backend": done.backend,
            },
        )
        return done

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tag: str = "",
    ) -> Iterator[str]:
        """Replay a cached answer as one piece, or stream and store it once it is complete."""
        if tag:
            self.tags.add(tag)
        key = "stream:" + self.key(messages, None, max_tokens, temperature, tag)
        hit = self.cache.get(key)
        if hit is not None:
            return iter([str(hit)] if hit else [])
        inner = self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature, tag=tag)
        return self._record(key, inner)

    def _record(self, key: str, inner: Iterator[str]) -> Iterator[str]:
        self.calls += 1
        pieces: list[str] = []
        for piece in inner:
            pieces.append(piece)
            yield piece
        self.cache.put(key, "".join(pieces))  # only a stream read to its end is stored

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

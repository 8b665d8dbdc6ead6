"""The labelled sets kept as JSON lines in ``evaluation/data/``: one reader for all of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from retrieval.errors import VidrecError

__all__ = ["read_labelled"]

T = TypeVar("T")


def read_labelled(
    path: Path,
    build: Callable[[dict[str, Any]], T],
    *,
    what: str,
    expected: str,
    error: type[VidrecError],
) -> list[tuple[int, T]]:
    """Each non-blank line of ``path`` made into a row by ``build``, with its line number; a
    line that is not JSON or lacks a field raises ``error`` naming the file and the line."""
    out: list[tuple[int, T]] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((line_no, build(json.loads(line))))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise error(
                f"{path}:{line_no}: not {what}",
                expected=expected,
                got=f"{type(exc).__name__}: {exc}",
            ) from exc
    return out

"""Parts of a facade built on first use, once, however many threads ask at the same time."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

__all__ = ["built_once"]

T = TypeVar("T")


def built_once(
    owner: object, attr: str, lock: AbstractContextManager[Any], build: Callable[[], T]
) -> T:
    """``owner.attr``, set to ``build()`` first if it is ``None``.

    Double-checked: the lock is taken only while the part is missing, and the attribute is read
    again under it, so two threads never build the same part twice.
    """
    value = getattr(owner, attr)
    if value is None:
        with lock:
            value = getattr(owner, attr)
            if value is None:
                value = build()
                setattr(owner, attr, value)
    return cast(T, value)

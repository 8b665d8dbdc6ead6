"""Consume a blocking iterator from async code while it runs start-to-end on ONE thread.

The facade's ``stream()`` holds the LLM's re-entrant lock across its yields, and an ``RLock``
acquired on one thread cannot be released on another; stepping it with ``to_thread.run_sync(next)``
would land steps on whichever worker is free. Here a dedicated thread runs the iterator and hands
items over through a bounded queue. When the consumer goes away (client disconnect), the thread stops
at the next item and closes the iterator itself, so its ``finally`` blocks (and the lock release)
run on the thread that entered them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import anyio.to_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
END: Any = object()
"""Returned by :meth:`OneThreadIterator.next` once the iterator is exhausted."""


class OneThreadIterator(Generic[T]):
    """``start()`` is called, and its iterator driven, on one dedicated daemon thread."""

    def __init__(
        self, start: Callable[[], Iterator[T]], *, buffer: int = 256, name: str = "vidrec-stream"
    ) -> None:
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=buffer)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(start,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, start: Callable[[], Iterator[T]]) -> None:
        it: Iterator[T] | None = None
        try:
            it = start()
            for item in it:
                if not self._put(("item", item)):
                    break  # the consumer left: stop here
        except BaseException as exc:
            self._put(("error", exc))
        finally:
            close = getattr(it, "close", None)
            if callable(close):
                try:
                    close()  # on this thread: generator finally blocks release their locks here
                except Exception:
                    log.warning("closing the stream failed", exc_info=True)
            self._done.set()
            self._put(("end", None))

    def _get(self) -> tuple[str, Any]:
        while True:
            try:
                return self._items.get(timeout=0.2)
            except queue.Empty:
                if self._done.is_set() and self._items.empty():
                    return ("end", None)

    def next_blocking(self) -> T:
        """The next item (``END`` when done); re-raises what the iterator raised."""
        kind, value = self._get()
        if kind == "error":
            raise value
        return END if kind == "end" else value

    async def next(self) -> T:
        """Await the next item without blocking the event loop (``END`` when done)."""
        return await anyio.to_thread.run_sync(self.next_blocking, abandon_on_cancel=True)

    def close(self) -> None:
        """Tell the worker to stop at its next item (it closes the iterator on its own thread)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

"""Run an iterator start-to-end on ONE thread while any thread (or an event loop) consumes it.

The facade's answer stream holds the LLM's re-entrant lock across its yields, and an ``RLock``
acquired on one thread cannot be released on another; a Gradio generator callback is advanced on
whichever pool thread is free and an async server steps blocking iterators on worker threads.
:class:`Relay` makes that a non-issue for every caller: a dedicated thread runs the iterator and
hands items over through a bounded queue, so the consumer may step it from any thread. When the
consumer goes away (:meth:`Relay.close`, or the relay is garbage-collected), the thread stops at the
next item and closes the iterator itself, so its ``finally`` blocks (and the lock release) run on
the thread that entered them. ``Recommender.stream`` returns one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
END: Any = object()
"""Returned by :meth:`Relay.next_blocking` once the iterator is exhausted."""


def _put(items: queue.Queue[tuple[str, Any]], stop: threading.Event, item: tuple[str, Any]) -> bool:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _work(
    start: Callable[[], Iterator[Any]],
    items: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
    done: threading.Event,
) -> None:
    it: Iterator[Any] | None = None
    try:
        it = start()
        for item in it:
            if not _put(items, stop, ("item", item)):
                break  # the consumer left: stop here
    except BaseException as exc:
        _put(items, stop, ("error", exc))
    finally:
        close = getattr(it, "close", None)
        if callable(close):
            try:
                close()  # on this thread: generator finally blocks release their locks here
            except Exception:
                log.warning("closing the stream failed", exc_info=True)
        done.set()
        _put(items, stop, ("end", None))


class Relay(Generic[T]):
    """``start()`` is called, and its iterator driven, on one dedicated daemon thread.

    Iterate it like any iterator (from any thread, one step at a time), or call
    :meth:`next_blocking` where raising ``StopIteration`` is awkward (e.g. through
    ``anyio.to_thread.run_sync``). :meth:`close` may be called from any thread, at any time.
    """

    def __init__(
        self, start: Callable[[], Iterator[T]], *, buffer: int = 256, name: str = "vidrec-stream"
    ) -> None:
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=buffer)
        self._stop = threading.Event()
        self._done = threading.Event()
        # the worker holds the queue and the events, not this object, so a relay its consumer
        # dropped is collected and __del__ tells the worker to stop
        self._thread = threading.Thread(
            target=_work, args=(start, self._items, self._stop, self._done), name=name, daemon=True
        )
        self._thread.start()

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

    def __iter__(self) -> Relay[T]:
        return self

    def __next__(self) -> T:
        item = self.next_blocking()
        if item is END:
            raise StopIteration
        return item

    def __enter__(self) -> Relay[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a consumer that broke out of its loop: let the worker finish
        self._stop.set()

    def close(self) -> None:
        """Tell the worker to stop at its next item (it closes the iterator on its own thread)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

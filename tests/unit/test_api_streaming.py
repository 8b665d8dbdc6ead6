"""The one-thread bridge the chat stream uses: every step of the facade's generator runs on the same
thread (it holds an RLock across yields), errors and early closes are handled there too."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

from api.streaming import END, OneThreadIterator


def _locked_counter(lock: threading.RLock, seen: list[int], n: int) -> Iterator[int]:
    with lock:  # held across yields, like the facade's LLM stream
        for i in range(n):
            seen.append(threading.get_ident())
            yield i


def test_every_step_runs_on_one_thread_while_consumers_hop_threads() -> None:
    lock = threading.RLock()
    runs: list[list[int]] = [[] for _ in range(6)]

    async def consume(seen: list[int], out: list[int]) -> None:
        it = OneThreadIterator(lambda: _locked_counter(lock, seen, 50))
        while (item := await it.next()) is not END:
            out.append(item)
            await anyio.sleep(0)

    async def main() -> list[list[int]]:
        outs: list[list[int]] = [[] for _ in runs]
        async with anyio.create_task_group() as tg:
            for seen, out in zip(runs, outs, strict=True):
                tg.start_soon(consume, seen, out)
        return outs

    outs = anyio.run(main)
    assert all(out == list(range(50)) for out in outs)
    assert all(len(set(seen)) == 1 for seen in runs)  # one producer thread per stream
    assert lock.acquire(blocking=False)  # released properly by every stream
    lock.release()


def test_errors_are_raised_to_the_consumer() -> None:
    def boom() -> Iterator[int]:
        yield 1
        raise ValueError("bad turn")

    it = OneThreadIterator(boom)
    assert it.next_blocking() == 1
    with pytest.raises(ValueError, match="bad turn"):
        it.next_blocking()
    assert it.next_blocking() is END

    def refuses() -> Iterator[int]:
        raise LookupError("before the first item")

    with pytest.raises(LookupError):
        OneThreadIterator(refuses).next_blocking()


def test_closing_early_stops_the_worker_and_releases_on_its_thread() -> None:
    lock = threading.RLock()
    closed_on: list[int] = []

    def endless() -> Iterator[int]:
        with lock:
            try:
                i = 0
                while True:
                    yield i
                    i += 1
            finally:
                closed_on.append(threading.get_ident())

    it = OneThreadIterator(endless, buffer=4)
    assert it.next_blocking() == 0
    it.close()
    assert it.join(timeout=5)
    assert closed_on and closed_on[0] != threading.get_ident()
    assert lock.acquire(blocking=False)
    lock.release()

"""agent.relay: every step of a relayed generator runs on one thread (the facade's answer stream
holds an RLock across yields) while consumers hop threads; errors and early closes are handled."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agent.relay import END, Relay


def _locked_counter(lock: threading.RLock, seen: list[int], n: int) -> Iterator[int]:
    with lock:  # held across yields, like the facade's LLM stream
        for i in range(n):
            seen.append(threading.get_ident())
            yield i


def test_every_step_runs_on_one_thread_while_consumers_hop_threads() -> None:
    lock = threading.RLock()
    runs: list[list[int]] = [[] for _ in range(6)]

    async def consume(seen: list[int], out: list[int]) -> None:
        it = Relay(lambda: _locked_counter(lock, seen, 50))
        while (item := await anyio.to_thread.run_sync(it.next_blocking)) is not END:
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

    it = Relay(boom)
    assert it.next_blocking() == 1
    with pytest.raises(ValueError, match="bad turn"):
        it.next_blocking()
    assert it.next_blocking() is END

    def refuses() -> Iterator[int]:
        raise LookupError("before the first item")

    with pytest.raises(LookupError):
        Relay(refuses).next_blocking()


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

    it = Relay(endless, buffer=4)
    assert it.next_blocking() == 0
    it.close()
    assert it.join(timeout=5)
    assert closed_on and closed_on[0] != threading.get_ident()
    assert lock.acquire(blocking=False)
    lock.release()


def test_it_is_an_iterator_and_a_dropped_relay_stops_its_worker() -> None:
    assert list(Relay(lambda: iter(range(5)))) == [0, 1, 2, 3, 4]
    stopped = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            stopped.set()

    it = Relay(endless, buffer=2)
    assert next(it) == 1
    del it  # a consumer that broke out of its loop without closing
    gc.collect()
    assert stopped.wait(timeout=5)


def test_the_facade_stream_can_be_stepped_from_a_different_thread_each_time(
    tmp_path: Path,
) -> None:
    """What the UI and the API do: every event is pulled by whichever worker thread is free."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.agent_data import build_recommender
    from tests.fakes.llm import FakeLLM

    rec = build_recommender(tmp_path, FakeLLM())
    for turn in range(2):  # the LLM lock is released after the first stream, so a second runs
        events = rec.stream("whales and the ocean", f"hopper-{turn}", k=2)
        kinds = []
        with ThreadPoolExecutor(max_workers=4) as pool:
            while (event := pool.submit(events.next_blocking).result(timeout=30)) is not END:
                kinds.append(event.kind)
        assert kinds[0] == "understanding" and kinds[-1] == "done"
    rec.close()

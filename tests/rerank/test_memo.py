"""The one LRU and single-flight memo every cache in rerank uses, and its failure rule."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rerank.memo import LRU, SingleFlight


def test_lru_forgets_the_least_recently_used_key():
    cache: LRU[str, int] = LRU(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"] and "b" not in cache and len(cache) == 2
    assert cache.get("b", "gone") == "gone"


def test_lru_does_not_remember_a_failed_computation():
    cache: LRU[str, int] = LRU(maxsize=4)
    calls = []

    def broken() -> int:
        calls.append(1)
        raise RuntimeError("boom")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            cache.get_or_compute("k", broken)
    assert len(calls) == 2 and "k" not in cache
    assert cache.get_or_compute("k", lambda: 7) == 7
    assert cache.get_or_compute("k", broken) == 7  # remembered: no third call
    assert len(calls) == 2


def test_lru_is_safe_across_threads():
    cache: LRU[int, int] = LRU(maxsize=50)

    def fill(offset: int) -> None:
        for i in range(2000):
            cache.put((offset + i) % 120, i)
            cache.get(i % 120)

    threads = [threading.Thread(target=fill, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50


def test_lru_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        LRU(maxsize=0)


def test_single_flight_shares_one_computation_and_charges_it_once():
    started = []

    async def main():
        memo: SingleFlight[str, int] = SingleFlight(maxsize=4)
        gate = asyncio.Event()

        async def slow() -> int:
            started.append(1)
            await gate.wait()
            return 5

        waiting = [asyncio.ensure_future(memo.get("q", slow)) for _ in range(4)]
        await asyncio.sleep(0)
        gate.set()
        first = await asyncio.gather(*waiting)
        again = await memo.get("q", slow)
        return first, again

    first, again = asyncio.run(main())
    assert [v for v, _ in first] == [5] * 4
    assert sum(fresh for _, fresh in first) == 1 and again == (5, False)
    assert len(started) == 1


def test_single_flight_hands_a_failure_to_every_waiter_then_forgets_it():
    attempts = []

    async def main():
        memo: SingleFlight[str, int] = SingleFlight(maxsize=4)

        async def flaky() -> int:
            attempts.append(1)
            await asyncio.sleep(0.01)
            if len(attempts) == 1:
                raise ConnectionError("down")
            return 9

        results = await asyncio.gather(
            *(memo.get("q", flaky) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ConnectionError) for r in results)
        assert "q" not in memo
        return await memo.get("q", flaky)

    assert asyncio.run(main()) == (9, True)
    assert len(attempts) == 2


def test_single_flight_survives_a_cancelled_caller():
    """The caller that started a computation is cancelled; the others still get the result."""

    async def main():
        memo: SingleFlight[str, str] = SingleFlight(maxsize=4)
        gate = asyncio.Event()

        async def answer() -> str:
            await gate.wait()
            return "done"

        starter = asyncio.ensure_future(memo.get("k", answer))
        await asyncio.sleep(0)
        other = asyncio.ensure_future(memo.get("k", answer))
        await asyncio.sleep(0)
        starter.cancel()
        gate.set()
        value = await other
        with pytest.raises(asyncio.CancelledError):
            await starter
        return value, "k" in memo

    assert asyncio.run(main()) == (("done", False), True)

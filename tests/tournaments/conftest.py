"""Scripted comparators and scorers for the strategy tests: no LLM, fully deterministic."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

#: Upper bound on one strategy run; a run that waits forever fails instead of hanging.
GUARD_SECONDS = 10.0


def perfect(strength: Sequence[float]) -> Callable[[int, int], Awaitable[str]]:
    """A transitive judge: the stronger candidate wins, equal strengths tie."""

    async def compare(a: int, b: int) -> str:
        if strength[a] == strength[b]:
            return "tie"
        return "a" if strength[a] > strength[b] else "b"

    return compare


def constant(outcome: str) -> Callable[[int, int], Awaitable[str]]:
    """A judge that always answers ``outcome`` ("a" is a pure position bias)."""

    async def compare(a: int, b: int) -> str:
        return outcome

    return compare


def noisy(
    strength: Sequence[float], error: float, seed: int
) -> Callable[[int, int], Awaitable[str]]:
    """A perfect judge that errs with probability ``error``, decided per displayed pair.

    The draw depends on (seed, a, b) only, so it does not depend on the call order.
    """
    truth = perfect(strength)

    async def compare(a: int, b: int) -> str:
        verdict = await truth(a, b)
        if random.Random(f"{seed}:{a}:{b}").random() >= error:
            return verdict
        return {"a": "b", "b": "a"}.get(verdict, "a")

    return compare


def chaotic(seed: int) -> Callable[[int, int], Awaitable[str]]:
    """A judge answering any of the four outcomes at random, decided per displayed pair."""

    async def compare(a: int, b: int) -> str:
        return random.Random(f"{seed}:{a}:{b}").choice(["a", "b", "tie", "invalid"])

    return compare


def shuffled_finish(compare: Callable[[int, int], Awaitable[Any]], seed: int):
    """Wrap a comparator so that concurrent calls finish in a scrambled order."""
    rng = random.Random(seed)

    async def wrapped(a: int, b: int) -> Any:
        for _ in range(rng.randrange(8)):
            await asyncio.sleep(0)
        return await compare(a, b)

    return wrapped


class Recorder:
    """A comparator (or scorer) wrapper that records every call's arguments."""

    def __init__(self, inner: Callable[..., Awaitable[Any]]) -> None:
        self.inner = inner
        self.calls: list[tuple[int, ...]] = []

    async def __call__(self, *args: int) -> Any:
        self.calls.append(args)
        return await self.inner(*args)


class RoundBarrier:
    """A comparator whose calls complete only once every call of their round has started.

    ``sizes`` are the numbers of calls per round. Run sequentially, the first call of a
    round with more than one call waits forever, which the run guard turns into a failure.
    """

    def __init__(self, sizes: Sequence[int], inner: Callable[..., Awaitable[Any]]) -> None:
        self.ends = list(itertools.accumulate(sizes))
        self.inner = inner
        self.started = 0
        self.condition: asyncio.Condition | None = None

    async def __call__(self, *args: int) -> Any:
        if self.condition is None:
            self.condition = asyncio.Condition()
        async with self.condition:
            self.started += 1
            end = next(e for e in self.ends if e >= self.started)
            self.condition.notify_all()
            await self.condition.wait_for(lambda: self.started >= end)
        return await self.inner(*args)


def hidden_order(n: int, seed: int) -> list[int]:
    """A hidden total order: distinct strengths 0..n-1 in a seeded arrangement."""
    strength = list(range(n))
    random.Random(seed).shuffle(strength)
    return strength


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a strategy to completion, failing (not hanging) past the guard."""
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


@pytest.fixture
def scripted() -> SimpleNamespace:
    """The scripted judges and helpers above, as one namespace for the tests."""
    return SimpleNamespace(
        perfect=perfect,
        constant=constant,
        noisy=noisy,
        chaotic=chaotic,
        shuffled_finish=shuffled_finish,
        hidden_order=hidden_order,
        run=run,
        Recorder=Recorder,
        RoundBarrier=RoundBarrier,
    )

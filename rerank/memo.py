"""Bounded memory of computed results: one LRU mapping, and one async single-flight memo.

Every cache in rerank (evidence per item, answer equivalence, code runs, dedup verdicts,
own answers, vote support) is one of these two, so they share one failure rule:

* **a failure is never remembered.** The caller that computed it, and every caller that
  was waiting on the same computation, gets the exception; the next call computes again.
* **a result is remembered** until ``maxsize`` newer keys have pushed it out (least
  recently used first).

Examples
--------
>>> cache = LRU(maxsize=2)
>>> cache.put("a", 1); cache.put("b", 2); cache.get("a")
1
>>> cache.put("c", 3)  # "b" was used least recently
>>> sorted(cache.keys())
['a', 'c']
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Final, Generic, TypeVar, overload

__all__ = ["LRU", "SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


class LRU(Generic[K, V]):
    """A mapping of at most ``maxsize`` keys that forgets the least recently used one.

    Thread-safe: verifiers fill their caches from worker threads.

    Parameters
    ----------
    maxsize : how many keys to keep (at least 1).
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, not {maxsize}")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        """The value of ``key`` (now the most recently used), else ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key``, forgetting the oldest keys past ``maxsize``."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key`` (no error if it is not there)."""
        with self._lock:
            self._data.pop(key, None)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The value of ``key``, computing and remembering it if absent.

        ``compute`` runs outside the lock, so two threads may compute one key at once (the
        second result wins; both are equal for the pure computations cached here). If it
        raises, nothing is remembered.
        """
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        value = compute()
        self.put(key, value)
        return value

    def keys(self) -> list[K]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())


class SingleFlight(Generic[K, V]):
    """Async memo: concurrent calls for one key share one computation.

    The computation runs as a task of its own, so a caller that is cancelled does not
    cancel it for the others. Results are kept in an :class:`LRU`; a failure reaches every
    caller waiting on it and is then forgotten.

    Parameters
    ----------
    maxsize : how many results to keep.

    Examples
    --------
    >>> import asyncio
    >>> calls = []
    >>> async def answer():
    ...     calls.append(1)
    ...     return 42
    >>> async def main():
    ...     memo = SingleFlight(maxsize=8)
    ...     return await asyncio.gather(*(memo.get("q", answer) for _ in range(3)))
    >>> asyncio.run(main()), len(calls)
    ([(42, True), (42, False), (42, False)], 1)
    """

    def __init__(self, maxsize: int) -> None:
        self._done: LRU[K, V] = LRU(maxsize)
        self._flying: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The value of ``key`` and whether this call computed it.

        Exactly one of the calls that share a computation gets ``True`` (the one that
        started it), so a cost can be charged once.
        """
        found = self._done.get(key, _MISSING)
        if found is not _MISSING:
            return found, False
        flight = self._flying.get(key)
        started = flight is None
        if flight is None:
            flight = asyncio.ensure_future(_call(compute))
            self._flying[key] = flight
            flight.add_done_callback(lambda done: self._land(key, done))
        return await asyncio.shield(flight), started

    def _land(self, key: K, flight: asyncio.Future[V]) -> None:
        if self._flying.get(key) is flight:
            del self._flying[key]
        if not flight.cancelled() and flight.exception() is None:
            self._done.put(key, flight.result())

    def __contains__(self, key: object) -> bool:
        return key in self._done

    def __len__(self) -> int:
        return len(self._done)


async def _call(compute: Callable[[], Awaitable[V]]) -> V:
    return await compute()


class _Missing(enum.Enum):
    """No value for the key (an enum, so the type checker narrows ``is not _MISSING``)."""

    MISSING = enum.auto()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing.MISSING

"""An event loop of our own in a daemon thread, for sync entry points that trainers call.

A trainer calls a reward function or a judge adapter synchronously, step after step, for
a whole run. Running each call under ``asyncio.run`` would give every call a new loop,
while an LLM judge's HTTP clients and the evidence judge's caches belong to the loop they
were made on. So the sync entry points run their coroutines here, on one loop that lives
as long as they do, and work whether or not the caller runs a loop of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["BackgroundLoop"]

T = TypeVar("T")


class BackgroundLoop:
    """A running event loop in a daemon thread; :meth:`run` blocks until a coroutine ends.

    >>> loop = BackgroundLoop()
    >>> async def two() -> int:
    ...     return 2
    >>> loop.run(two())
    2
    >>> loop.stop()
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="rerank-loop", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        """Stop the loop and its thread (what is still scheduled on it is dropped)."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

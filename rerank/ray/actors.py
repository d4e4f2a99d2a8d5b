"""The long-lived worker actors of a cluster run: starting them, sending them items,
stopping them. ``rerank select --ray`` (:mod:`rerank.ray.select`) and ``rerank report
--ray`` (:mod:`rerank.ray.report`) both run on :func:`workers_on_cluster`.

- **Restart and retry.** A worker whose process dies is restarted by Ray
  (``max_restarts=-1``) and its unfinished calls are sent again (``TASK_RETRIES``); an
  item whose worker died more often than that fails with :class:`WorkerLost`.
- **Back-pressure.** :class:`Dispatch` sends each item to the worker with the fewest in
  flight, at most ``per_worker`` each, and waits for a free slot when all are full.
- **One start for every worker.** Each builds its judges and checks its node's sandbox
  in its constructor; :func:`start_workers` waits for all of them (``ready``), and a
  problem one found reaches the driver as itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rerank.errors import ConfigError, JudgeError
from rerank.items import Item
from rerank.ray.cluster import cluster_cpus, connect, disconnect, require_ray
from rerank.ray.judging import JudgeRecipe

__all__ = [
    "START_TIMEOUT",
    "TASK_RETRIES",
    "Dispatch",
    "WorkerLost",
    "Workers",
    "cause",
    "start_workers",
    "stop_workers",
    "workers_on_cluster",
]

#: Times an item is retried on a restarted worker after its worker process died.
TASK_RETRIES = 3
#: Seconds to wait for the workers to start (a busy or autoscaling cluster is slower).
START_TIMEOUT = 300.0

T = TypeVar("T")


class WorkerLost(JudgeError):
    """The worker running an item died more often than it may be retried."""


@dataclass
class Workers:
    """Started workers: their handles and what each said when ready (``node``,
    ``node_id``, ``sandbox``, and what its class adds)."""

    handles: list[Any]
    infos: list[dict[str, Any]]
    cpus_per_worker: float

    @property
    def nodes(self) -> int:
        return len({i["node_id"] for i in self.infos})

    @property
    def sandboxes(self) -> list[str]:
        return sorted({i["sandbox"] for i in self.infos if i["sandbox"]})

    def describe(self) -> str:
        """``ray: W workers on N node(s), sandbox: ...``: what the driver says at the start."""
        sandbox = f", sandbox: {', '.join(self.sandboxes)}" if self.sandboxes else ""
        return f"ray: {len(self.handles)} workers on {self.nodes} node(s){sandbox}"

    def provenance(self) -> dict[str, Any]:
        """Where a run ran, for the records it leaves (a report's ``metrics.json``)."""
        return {
            "workers": len(self.handles),
            "nodes": self.nodes,
            "cpus_per_worker": self.cpus_per_worker,
            "sandbox": self.sandboxes,
        }


def start_workers(
    actor_class: type,
    arguments: Mapping[str, Any],
    *,
    workers: int,
    cpus_per_worker: float,
    per_worker: int,
) -> Workers:
    """Start ``workers`` actors of ``actor_class`` (each built with ``arguments``, taking
    ``per_worker`` items at once) spread over the nodes, and wait until each is ready."""
    ray = require_ray()
    actor = ray.remote(actor_class).options(
        num_cpus=cpus_per_worker,
        max_restarts=-1,
        max_task_retries=TASK_RETRIES,
        max_concurrency=per_worker + 2,  # its items, and ready/close calls
        scheduling_strategy="SPREAD",
    )
    handles = [actor.remote(**arguments) for _ in range(workers)]
    refs = [h.ready.remote() for h in handles]
    done, waiting = ray.wait(refs, num_returns=len(refs), timeout=START_TIMEOUT)
    if waiting:
        stop_workers(handles)
        raise ConfigError(
            f"only {len(done)} of {workers} Ray workers started within {START_TIMEOUT:.0f}s "
            f"({cpus_per_worker:g} CPU each): the cluster lacks free CPUs; ask for fewer workers"
        )
    try:
        infos = ray.get(refs)
    except Exception as exc:
        stop_workers(handles)
        raise cause(exc) from None
    return Workers(handles, infos, cpus_per_worker)


def stop_workers(handles: Sequence[Any], *, timeout: float = 30.0) -> None:
    """Let each worker close its judges (sandbox pools, clients), then end it."""
    ray = require_ray()
    refs = [h.close.remote() for h in handles]
    ray.wait(refs, num_returns=len(refs), timeout=timeout)
    for handle in handles:
        ray.kill(handle)


def cause(exc: BaseException) -> BaseException:
    """The exception a worker raised, as itself (not wrapped in Ray's, with its traceback
    in the message); a dead worker as :class:`WorkerLost`."""
    from ray.exceptions import RayActorError, RayTaskError

    if isinstance(exc, RayTaskError) and exc.cause is not None:
        return exc.cause
    if isinstance(exc, RayActorError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return WorkerLost(
            f"its Ray worker died (retried {TASK_RETRIES} times on a restarted one): {first}"
        )
    return exc


class Dispatch(Generic[T]):
    """Sends each item to the worker with the fewest items in flight (its ``method``), at
    most ``per_worker`` each; waits for a free slot when all are full. ``observe(item,
    result)`` sees each result on the driver as it comes back."""

    def __init__(
        self,
        handles: Sequence[Any],
        method: str,
        per_worker: int,
        observe: Callable[[Item, T], None] | None = None,
    ) -> None:
        self.handles = list(handles)
        self.method = method
        self.load = [0] * len(self.handles)
        self.slots = asyncio.Semaphore(len(self.handles) * per_worker)
        self.observe = observe

    async def __call__(self, item: Item) -> T:
        async with self.slots:
            index = min(range(len(self.load)), key=self.load.__getitem__)
            self.load[index] += 1
            try:
                result: T = await getattr(self.handles[index], self.method).remote(item)
            except Exception as exc:
                raise cause(exc) from None
            finally:
                self.load[index] -= 1
        if self.observe is not None:
            self.observe(item, result)
        return result


@contextmanager
def workers_on_cluster(
    actor_class: type,
    recipes: Sequence[JudgeRecipe],
    arguments: Callable[[list[JudgeRecipe]], Mapping[str, Any]],
    *,
    address: str | None,
    runtime_env: dict[str, Any] | None,
    workers: int | None,
    cpus_per_worker: float,
    per_worker: int,
    say: Callable[[str], None],
) -> Iterator[Workers]:
    """Connect (see :func:`~rerank.ray.cluster.connect`), start the workers, and stop them
    (and a cluster this started) when the block ends.

    ``workers`` defaults to one per ``cpus_per_worker`` CPUs of the cluster, fewer when an
    LLM endpoint's cap in ``recipes`` is smaller (each worker needs a slot of it).
    ``arguments(shares)`` gives the actors' constructor arguments from the recipes as one
    of ``workers`` workers builds them (its share of every endpoint cap).
    """
    if cpus_per_worker <= 0:
        raise ConfigError("cpus_per_worker must be positive")
    if workers is not None and workers < 1:
        raise ConfigError("workers must be at least 1")
    connected = connect(address, runtime_env=runtime_env)
    started: Workers | None = None
    try:
        if workers is None:
            workers = max(1, int(cluster_cpus() // cpus_per_worker))
            caps = [cap for cap in (r.max_workers() for r in recipes) if cap is not None]
            workers = min([workers, *caps])
        shares = [recipe.for_workers(workers) for recipe in recipes]
        started = start_workers(
            actor_class,
            arguments(shares),
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            per_worker=per_worker,
        )
        say(started.describe())
        yield started
    finally:
        if started is not None:
            stop_workers(started.handles)
        disconnect(connected)

"""``rerank select --ray``: a whole file selected on a Ray cluster, written by the driver.

The driver reads the items, sends each to the least busy worker (:class:`ItemWorker`
actors, one per ``cpus_per_worker`` CPUs of the cluster), and writes the rows it gets back
in input order with :func:`rerank.run.run_select`, so ``--out``, ``--trace``, ``--resume``
and the closing summary behave exactly as in one process. Back-pressure: each worker has
at most ``2 * concurrency`` items in flight, and the driver holds at most twice as many
items as all workers together (finished ones waiting for an earlier one to be written).

Faults: a worker process that dies is restarted by Ray and its unfinished items are
retried there (``max_task_retries``); only the driver writes, so nothing is written
twice. An item whose worker died more often than that fails like an item whose judge
failed (reported, not written, retried by ``--resume``). A killed driver leaves the same
files as a killed single-process run: ``--resume`` finishes them with every id once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rerank.errors import ConfigError, JudgeError
from rerank.items import Item
from rerank.judges import Judge, Score, Verdict
from rerank.ray.cluster import cluster_cpus, connect, disconnect, require_ray
from rerank.ray.judging import JudgeRecipe
from rerank.ray.worker import ItemWorker
from rerank.run import ItemRows, RunOptions, RunSummary, check_run_options, run_select

__all__ = ["WorkerLost", "run_select_on_ray", "start_workers", "stop_workers"]

#: Times an item is retried on a restarted worker after its worker process died.
TASK_RETRIES = 3
#: Seconds to wait for the workers to start (a busy or autoscaling cluster is slower).
START_TIMEOUT = 300.0


#: Called on the driver with each item and its rows as they come back (in any order).
Observer = Callable[[Item, ItemRows], None]


class WorkerLost(JudgeError):
    """The worker running an item died more often than it may be retried."""


def start_workers(
    recipe: JudgeRecipe,
    options: RunOptions,
    *,
    workers: int,
    cpus_per_worker: float,
    say: Callable[[str], None],
) -> tuple[list[Any], Judge | None]:
    """Start ``workers`` actors, wait until each has built its judge and checked its
    node's sandbox, and say where they run. Returns them, and their judge as the driver
    names the run (None: vote)."""
    ray = require_ray()
    actor = ray.remote(ItemWorker).options(
        num_cpus=cpus_per_worker,
        max_restarts=-1,
        max_task_retries=TASK_RETRIES,
        max_concurrency=2 * options.concurrency + 2,  # its items, and ready/close calls
        scheduling_strategy="SPREAD",
    )
    recipe = recipe.for_workers(workers)
    handles = [
        actor.remote(
            recipe, options.config, concurrency=options.concurrency, trace=bool(options.trace)
        )
        for _ in range(workers)
    ]
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
        raise _cause(exc) from None
    nodes = {i["node_id"] for i in infos}
    sandboxes = sorted({i["sandbox"] for i in infos if i["sandbox"]})
    sandbox = f", sandbox: {', '.join(sandboxes)}" if sandboxes else ""
    say(f"ray: {workers} workers on {len(nodes)} node(s){sandbox}")
    judge = infos[0]["judge"]
    return handles, _RunName(*judge) if judge is not None else None


def stop_workers(handles: Sequence[Any], *, timeout: float = 30.0) -> None:
    """Let each worker close its judge (sandbox pools, clients), then end it."""
    ray = require_ray()
    refs = [h.close.remote() for h in handles]
    ray.wait(refs, num_returns=len(refs), timeout=timeout)
    for handle in handles:
        ray.kill(handle)


def _cause(exc: BaseException) -> BaseException:
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


class _Dispatch:
    """Sends each item to the worker with the fewest items in flight, at most
    ``per_worker`` each; waits for a free slot when all are full."""

    def __init__(
        self, handles: Sequence[Any], per_worker: int, observe: Observer | None = None
    ) -> None:
        self.handles = list(handles)
        self.load = [0] * len(self.handles)
        self.slots = asyncio.Semaphore(len(self.handles) * per_worker)
        self.observe = observe

    async def __call__(self, item: Item) -> ItemRows:
        async with self.slots:
            index = min(range(len(self.load)), key=self.load.__getitem__)
            self.load[index] += 1
            try:
                rows: ItemRows = await self.handles[index].run.remote(item)
            except Exception as exc:
                raise _cause(exc) from None
            finally:
                self.load[index] -= 1
        if self.observe is not None:
            self.observe(item, rows)
        return rows


@dataclass
class _RunName:
    """The workers' judge as the driver names the run (spec, labels read) for resume and
    the summary; it never judges."""

    spec: str
    reads_labels: bool

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        raise RuntimeError("the driver of a Ray run names the judge; workers judge")

    async def score(self, item: Item, index: int) -> Score:
        raise RuntimeError("the driver of a Ray run names the judge; workers judge")

    async def explain(self, item: Item) -> dict[str, Any] | None:
        return None

    async def aclose(self) -> None:
        return None


def run_select_on_ray(
    options: RunOptions,
    *,
    address: str | None = None,
    judge_options: Mapping[str, Any] | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    runtime_env: dict[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
    observe: Observer | None = None,
) -> RunSummary:
    """Run ``rerank select`` over ``options.paths`` on a Ray cluster; see the module.

    ``address``: ``None`` starts a local cluster (or uses the one this process is already
    connected to), ``"auto"`` joins the one running on this machine, or a cluster's
    address. ``options.judge`` is a judge spec (or ``None`` for the default) and
    ``judge_options`` the options :func:`~rerank.judges.create_judge` takes with it (an
    LLM judge's ``base_url``, ``api_key``, ``cache``, ``timeout``, and ``concurrency``: the
    requests in flight per endpoint for the whole cluster); each worker builds its own
    judge from them, code candidates running on ``options.exec_python``.
    ``options.concurrency`` is each worker's cap on judge calls in flight, as in one
    process. ``workers`` defaults to one per ``cpus_per_worker`` CPUs of the cluster
    (fewer for an LLM judge whose endpoint cap is smaller). ``runtime_env`` is Ray's, for
    the job's workers (environment variables, packages), when this call connects.
    ``observe(item, rows)`` sees each finished item on the driver (e.g. to count the
    labels of the chosen candidates).
    """
    say = say or (lambda message: print(message, file=sys.stderr))
    check_run_options(options)
    if cpus_per_worker <= 0:
        raise ConfigError("cpus_per_worker must be positive")
    if workers is not None and workers < 1:
        raise ConfigError("workers must be at least 1")
    recipe = JudgeRecipe.resolve(
        options.judge, options.config, judge_options, exec_python=options.exec_python
    )
    connected = connect(address, runtime_env=runtime_env)
    handles: list[Any] = []
    try:
        if workers is None:
            workers = max(1, int(cluster_cpus() // cpus_per_worker))
            cap = recipe.max_workers()
            if cap is not None:
                workers = min(workers, cap)
        handles, named = start_workers(
            recipe,
            options,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            say=say,
        )
        per_worker = 2 * options.concurrency
        run = run_select(
            replace(options, judge=named),
            say=say,
            execute=_Dispatch(handles, per_worker, observe),
            window=2 * workers * per_worker,
        )
        return asyncio.run(run)
    finally:
        if handles:
            stop_workers(handles)
        disconnect(connected)

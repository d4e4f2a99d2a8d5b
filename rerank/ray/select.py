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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rerank.items import Item
from rerank.judges import Score, Verdict
from rerank.ray.actors import Dispatch, WorkerLost, workers_on_cluster
from rerank.ray.judging import JudgeRecipe
from rerank.ray.worker import ItemWorker
from rerank.run import ItemRows, RunOptions, RunSummary, check_run_options, run_select

__all__ = ["WorkerLost", "run_select_on_ray"]


#: Called on the driver with each item and its rows as they come back (in any order).
Observer = Callable[[Item, ItemRows], None]


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
    recipe = JudgeRecipe.resolve(
        options.judge, options.config, judge_options, exec_python=options.exec_python
    )
    per_worker = 2 * options.concurrency
    with workers_on_cluster(
        ItemWorker,
        [recipe],
        lambda shares: {
            "recipe": shares[0],
            "config": options.config,
            "concurrency": options.concurrency,
            "trace": bool(options.trace),
        },
        address=address,
        runtime_env=runtime_env,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        per_worker=per_worker,
        say=say,
    ) as started:
        judge = started.infos[0]["judge"]
        run = run_select(
            replace(options, judge=_RunName(*judge) if judge is not None else None),
            say=say,
            execute=Dispatch[ItemRows](started.handles, "run", per_worker, observe),
            window=2 * len(started.handles) * per_worker,
        )
        return asyncio.run(run)

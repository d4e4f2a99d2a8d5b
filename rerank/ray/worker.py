"""The long-lived workers of a cluster run: judges, their caches and sandbox pool, for
every item a worker is given.

:class:`NodeWorker` is what every worker shares: where it runs, its node's sandbox,
checked when it starts, and a problem found while starting kept for every call.
:class:`ItemWorker` selects items (``rerank select --ray``);
:class:`rerank.ray.report.ReportWorker` makes a report's records. They are plain classes;
:func:`rerank.ray.actors.start_workers` makes them Ray actors (restarted when their
process dies, their unfinished items retried there). An ``ItemWorker`` selects exactly as
one process does (:func:`rerank.selector.select_item`, the item's own seed), so where an
item runs never changes its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from rerank.items import Item
from rerank.judges import Judge
from rerank.ray.cluster import describe_node, require_ray
from rerank.ray.judging import JudgeRecipe, SandboxGuard, check_sandbox
from rerank.run import ItemRows, item_rows
from rerank.selector import StrategyConfig, select_item

__all__ = ["ItemWorker", "NodeWorker"]


class NodeWorker:
    """A worker's node, its sandbox and its judges.

    A subclass builds its judges in :meth:`build` (verifiers failing closed through
    ``self.guard``), called once by :meth:`start`; a problem found while starting (an
    unusable judge spec, a node that cannot sandbox code) is kept and raised by every call
    (:meth:`check`), so that it reaches the driver as itself rather than as a dead actor
    (Ray retries a constructor that raises)."""

    def __init__(self) -> None:
        self.node = describe_node()
        self.guard = SandboxGuard(self.node)
        self.sandbox: str | None = None
        self.problem: Exception | None = None

    def start(self, *, runs_code: bool, exec_python: str | None) -> None:
        """Build the judges, and with ``runs_code`` check that this node can sandbox
        code on ``exec_python``."""
        try:
            self.build()
            if runs_code:
                self.sandbox = check_sandbox(self.guard, exec_python)
        except Exception as exc:  # raised by every call: a constructor that raises is retried
            self.problem = exc

    def build(self) -> None:
        """Build the judges (a subclass's)."""

    def judges(self) -> Iterable[Judge | None]:
        """The judges to close when the worker ends (a subclass's)."""
        return ()

    def check(self) -> None:
        """Raise the problem found while starting, if any."""
        if self.problem is not None:
            raise self.problem

    def where(self) -> dict[str, Any]:
        """Where this worker runs and how it sandboxes code (or why it cannot work)."""
        self.check()
        node_id = require_ray().get_runtime_context().get_node_id()
        return {"node": self.node, "node_id": node_id, "sandbox": self.sandbox}

    async def close(self) -> None:
        """Stop what the judges started (sandbox workers, HTTP clients, a local server)."""
        for judge in {id(j): j for j in self.judges() if j is not None}.values():
            await judge.aclose()


class ItemWorker(NodeWorker):
    """Selects items with a judge built once from ``recipe``; ``concurrency`` caps its
    judge calls in flight, ``trace`` adds each item's trace row."""

    def __init__(
        self, recipe: JudgeRecipe, config: StrategyConfig, *, concurrency: int, trace: bool
    ) -> None:
        super().__init__()
        self.recipe = recipe
        self.config = config
        self.trace = trace
        self.limiter = asyncio.Semaphore(concurrency)
        self.judge: Any = None
        self.evidence: Any = None
        self.start(runs_code=recipe.runs_code, exec_python=recipe.exec_python)

    def build(self) -> None:
        self.judge, self.evidence = self.recipe.build(self.guard)

    def judges(self) -> Iterable[Judge | None]:
        return (self.judge, self.evidence)

    async def ready(self) -> dict[str, Any]:
        """:meth:`where`, and the judge's spec and whether it reads labels (None: vote)."""
        info = self.where()
        judge = (self.judge.spec, self.judge.reads_labels) if self.judge is not None else None
        return {**info, "judge": judge}

    async def run(self, item: Item) -> ItemRows:
        """Select one item; its output row and, when traced, its trace row."""
        self.check()
        result = await select_item(
            item, self.config, self.judge, limiter=self.limiter, evidence=self.evidence
        )
        return item_rows(result, trace=self.trace)

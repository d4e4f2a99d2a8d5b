"""The long-lived worker of a cluster run: one judge, its caches and sandbox pool, for
every item it is given.

:class:`ItemWorker` is a plain class; :func:`rerank.ray.select.start_workers` makes it a
Ray actor (restarted when its process dies, its unfinished items retried there). It
selects exactly as one process does (:func:`rerank.selector.select_item`, the item's own
seed), so where an item runs never changes its result.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rerank.items import Item
from rerank.ray.cluster import describe_node, require_ray
from rerank.ray.judging import JudgeRecipe, SandboxGuard, check_sandbox
from rerank.run import ItemRows, item_rows
from rerank.selector import StrategyConfig, select_item

__all__ = ["ItemWorker"]


class ItemWorker:
    """Selects items with a judge built once from ``recipe``; ``concurrency`` caps its
    judge calls in flight, ``trace`` adds each item's trace row.

    A problem found while starting (an unusable judge spec, a node that cannot sandbox
    code) is kept and raised by every call, so that it reaches the driver as itself
    rather than as a dead actor."""

    def __init__(
        self, recipe: JudgeRecipe, config: StrategyConfig, *, concurrency: int, trace: bool
    ) -> None:
        self.config = config
        self.trace = trace
        self.node = describe_node()
        self.guard = SandboxGuard(self.node)
        self.limiter = asyncio.Semaphore(concurrency)
        self.judge: Any = None
        self.evidence: Any = None
        self.sandbox: str | None = None
        self.problem: Exception | None = None
        try:
            self.judge, self.evidence = recipe.build(self.guard)
            if recipe.runs_code:
                self.sandbox = check_sandbox(self.guard, recipe.exec_python)
        except Exception as exc:  # raised by every call: a constructor that raises is retried
            self.problem = exc

    async def ready(self) -> dict[str, Any]:
        """Where this worker runs and how it sandboxes code (or why it cannot work)."""
        if self.problem is not None:
            raise self.problem
        judge = (self.judge.spec, self.judge.reads_labels) if self.judge is not None else None
        node_id = require_ray().get_runtime_context().get_node_id()
        return {"node": self.node, "node_id": node_id, "sandbox": self.sandbox, "judge": judge}

    async def run(self, item: Item) -> ItemRows:
        """Select one item; its output row and, when traced, its trace row."""
        if self.problem is not None:
            raise self.problem
        result = await select_item(
            item, self.config, self.judge, limiter=self.limiter, evidence=self.evidence
        )
        return item_rows(result, trace=self.trace)

    async def close(self) -> None:
        """Stop what the judge started (sandbox workers, HTTP clients, a local server)."""
        for judge in {id(j): j for j in (self.judge, self.evidence) if j is not None}.values():
            await judge.aclose()

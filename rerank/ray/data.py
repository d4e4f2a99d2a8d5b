"""Selection as a Ray Data stage: one ``map_batches`` over prompts and candidate lists.

An RL or data pipeline adds one stage::

    import ray.data
    from rerank.ray import select_dataset

    ds = ray.data.read_parquet("rollouts/")  # columns: id, prompt, candidates (list), ...
    picked = select_dataset(ds, strategy="knockout", judge="evidence", seed=0)
    picked.write_parquet("picked/")  # id, selected, selection (the output row as JSON)

Each actor of the stage builds its judge once (:class:`~rerank.ray.judging.JudgeRecipe`,
verifiers that fail closed) and selects every batch it is given with
:func:`rerank.batch.aselect_many`, the function behind ``select_many``: same judges, same
strategies, the same per-item seed (from the run seed and the item's id, or a digest of
prompt and candidates without one), so a row equals the single-process one.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rerank.background_loop import BackgroundLoop
from rerank.batch import aselect_many
from rerank.errors import ConfigError
from rerank.ray.cluster import cluster_cpus, connect, describe_node, require_ray
from rerank.ray.judging import JudgeRecipe, NodeSandboxError, SandboxGuard, check_sandbox
from rerank.selector import DEFAULT_STRATEGY, StrategyConfig

__all__ = ["OUTPUT_COLUMNS", "SelectBatch", "select_dataset"]

#: What the stage adds to each row (``trace`` only when asked for).
OUTPUT_COLUMNS = ("id", "selected", "selection")


class SelectBatch:
    """A ``map_batches`` callable class (``batch_format="pyarrow"``): selects the best
    candidate of every row of a batch.

    Reads ``prompt_column`` (a string) and ``candidates_column`` (a list of strings), and
    where given ``id_column`` (the item's id, which seeds it; without one, a digest of
    prompt and candidates), ``scores_column`` (labels, read only by the simulated judge),
    ``kind_column`` (the task kind; or ``kind``, one for all rows) and
    ``resources_column`` (the task's visible resources, such as ``tests``: a struct or
    JSON text, checked as ``select_many`` checks them). Returns ``id``, ``selected`` (the
    chosen index, null when the row failed), ``selection`` (the output row of ``rerank
    select`` as JSON, or an error row saying why), ``trace`` with ``trace=True``, and the
    columns named in ``keep``.
    ``workers`` is the size of the actor pool, which LLM endpoint caps are split over.
    """

    def __init__(
        self,
        *,
        strategy: str = DEFAULT_STRATEGY,
        judge: str | None = None,
        seed: int = 0,
        judge_options: Mapping[str, Any] | None = None,
        exec_python: str | None = None,
        prompt_column: str = "prompt",
        candidates_column: str = "candidates",
        id_column: str | None = "id",
        scores_column: str | None = None,
        kind: str | None = None,
        kind_column: str | None = None,
        resources_column: str | None = None,
        keep: Sequence[str] = (),
        trace: bool = False,
        concurrency: int = 8,
        workers: int = 1,
        **strategy_options: Any,
    ) -> None:
        self.config = StrategyConfig(name=strategy, seed=seed, **strategy_options)
        recipe = JudgeRecipe.resolve(judge, self.config, judge_options, exec_python)
        self.columns = (prompt_column, candidates_column, id_column, scores_column)
        self.kind = kind
        self.kind_column = kind_column
        self.resources_column = resources_column
        self.keep = tuple(keep)
        self.trace = trace
        self.concurrency = concurrency
        self.guard = SandboxGuard(describe_node())
        built, evidence = recipe.for_workers(workers).build(self.guard)
        # vote reads its keys from the evidence judge it is handed as its judge
        self.judge = built if built is not None else evidence
        self.loop = BackgroundLoop()
        if recipe.runs_code:
            # Kept in the guard and raised by the first batch: Ray retries a constructor
            # that fails for ever, while a batch that fails fails the stage.
            with contextlib.suppress(NodeSandboxError):
                check_sandbox(self.guard, exec_python)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if self.guard.lost is not None:  # no row is selected without the sandbox
            raise self.guard.lost

        prompt, candidates, id_column, scores = self.columns
        names = set(batch.column_names)

        def column(name: str | None) -> list[Any] | None:
            return batch.column(name).to_pylist() if name is not None and name in names else None

        resources = column(self.resources_column)
        rows = self.loop.run(
            aselect_many(
                column(prompt) or [],
                column(candidates) or [],
                ids=column(id_column),
                strategy=self.config.name,
                judge=self.judge,
                seed=self.config.seed,
                kind=column(self.kind_column) or self.kind,
                resources=[_resources(r) for r in resources] if resources is not None else None,
                scores=column(scores),
                concurrency=self.concurrency,
                trace=self.trace,
                **_strategy_options(self.config),
            )
        )
        if self.guard.lost is not None:  # lost during the batch: its rows are not kept
            raise self.guard.lost
        traces = [row.pop("trace", None) for row in rows]
        out: dict[str, Any] = {
            "id": pa.array([row["id"] for row in rows], pa.string()),
            "selected": pa.array([row["selected"] for row in rows], pa.int64()),
            "selection": pa.array([json.dumps(row, ensure_ascii=False) for row in rows]),
        }
        if self.trace:
            out["trace"] = pa.array([json.dumps(t, ensure_ascii=False) for t in traces])
        for name in self.keep:
            out[name] = batch.column(name)
        return pa.table(out)

    def __del__(self) -> None:
        loop = getattr(self, "loop", None)
        if loop is None:
            return
        try:
            if self.judge is not None:
                loop.run(self.judge.aclose())
        except Exception:  # the actor is going away; nothing is left to report to
            pass
        finally:
            loop.stop()


def _resources(value: Any) -> dict[str, Any] | None:
    """A row's task resources: a dict, or JSON text of one (absent fields dropped: an Arrow
    struct column gives every row every field, null where the row had none)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return {k: v for k, v in dict(value).items() if v is not None}


#: The StrategyConfig fields a selection takes besides its name and seed.
_STRATEGY_FIELDS = ("both_orders", "aggregate", "checkpoints")


def _strategy_options(config: StrategyConfig) -> dict[str, Any]:
    """The StrategyConfig fields other than name and seed, as keyword arguments."""
    return {name: getattr(config, name) for name in _STRATEGY_FIELDS}


def _plan(options: Mapping[str, Any]) -> JudgeRecipe:
    """The judge recipe :class:`SelectBatch` would build from ``options``, checked now (an
    unknown option, strategy or judge fails before the dataset runs)."""
    named = inspect.signature(SelectBatch).parameters
    known = {n for n, p in named.items() if p.kind is p.KEYWORD_ONLY} | set(_STRATEGY_FIELDS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"select_dataset has no option {unknown[0]!r} (its options: {', '.join(sorted(known))})"
        )
    strategy = {k: v for k, v in options.items() if k in _STRATEGY_FIELDS}
    config = StrategyConfig(
        name=options.get("strategy", DEFAULT_STRATEGY), seed=options.get("seed", 0), **strategy
    )
    if options.get("concurrency", 1) < 1:
        raise ConfigError("concurrency must be at least 1")
    return JudgeRecipe.resolve(
        options.get("judge"), config, options.get("judge_options"), options.get("exec_python")
    )


def select_dataset(
    ds: Any,
    *,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    batch_size: int = 64,
    **options: Any,
) -> Any:
    """``ds`` with the best candidate of each row selected: a lazy ``ray.data.Dataset`` of
    :class:`SelectBatch`'s columns, one row per input row; ``options`` are
    :class:`SelectBatch`'s (strategy, judge, seed, columns, ...).

    ``workers`` actors (default: one per ``cpus_per_worker`` CPUs of the cluster but one
    CPU, which the stages feeding this one need: an actor pool holding every CPU leaves
    a read nowhere to run; fewer for an LLM judge whose endpoint cap is smaller) each
    build the judge once and take ``batch_size`` rows at a time; ``concurrency`` caps each
    one's judge calls in flight. Ray Data restarts a worker whose process dies and retries
    its batch.
    """
    require_ray()
    import ray.data

    recipe = _plan(options)
    if workers is None:  # leave a CPU to the stages that feed this one (reads, maps)
        connect(None)
        workers = max(1, int((cluster_cpus() - 1) // cpus_per_worker))
        cap = recipe.max_workers()
        if cap is not None:
            workers = min(workers, cap)
    recipe.for_workers(workers)  # an endpoint cap too small for the workers fails here
    return ds.map_batches(
        SelectBatch,
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_worker,
        fn_constructor_kwargs={**options, "judge": recipe.spec, "workers": workers},
    )

"""``rerank report --ray``: a report's per-item records made on a Ray cluster.

The driver is :func:`rerank.report.run.arun_report`, unchanged: it reads the items, keeps
their order, computes the metrics and writes the files. Only the records come from
elsewhere: each item goes to the least busy :class:`ReportWorker` (one per
``cpus_per_worker`` CPUs of the cluster), which holds a
:class:`~rerank.report.run.ReportRunner` built once for the run from the
:class:`~rerank.report.types.ReportConfig` and the judges' recipes, with one evidence
judge (its sandbox pool and evidence cache) shared by the majority vote, the evidence
judge and the model judges, as the single-process report shares it. An item's seeds come
from the run seed and its id, so every record, and so every metric, equals the
single-process one.

Back-pressure: each worker has at most ``config.concurrency`` items in flight (the
single-process report's cap); the driver waits when all are full. Progress counts items
done across the cluster. Faults are :mod:`rerank.ray.actors`': a dead worker is
restarted and its items sent again; a node that cannot sandbox code stops the report
with :class:`~rerank.ray.judging.NodeSandboxError` before any item (or at the first item
its sandbox fails on). A report has no resume: a report that stops writes nothing.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges import EvidenceJudge, Judge
from rerank.ray.actors import Dispatch, Workers, workers_on_cluster
from rerank.ray.judging import JudgeRecipe
from rerank.ray.worker import NodeWorker
from rerank.report.run import ReportPlan, ReportRunner, arun_report, find_sources
from rerank.report.types import ItemRecord, ProgressCallback, ReportConfig
from rerank.selector import StrategyConfig

__all__ = ["ReportWorker", "run_report_on_ray"]


class ReportWorker(NodeWorker):
    """Makes report records with a :class:`~rerank.report.run.ReportRunner` built once
    from ``config`` and ``recipes`` (one per judge compared); code candidates run on
    ``exec_python`` in this node's sandbox, which fails closed."""

    def __init__(
        self, config: ReportConfig, recipes: Sequence[JudgeRecipe], exec_python: str | None
    ) -> None:
        super().__init__()
        self.config = config
        self.recipes = list(recipes)
        self.exec_python = exec_python
        self.evidence: EvidenceJudge | None = None
        self.runner: ReportRunner | None = None
        # A report always computes evidence (the majority vote): the sandbox is checked.
        self.start(runs_code=True, exec_python=exec_python)

    def build(self) -> None:
        # One evidence judge for the worker: the vote's, the plain evidence judge's and
        # the one model judges build on (one sandbox pool, evidence computed once).
        recipe = JudgeRecipe("evidence", exec_python=self.exec_python)
        _, evidence = recipe.build(self.guard)
        assert evidence is not None  # an evidence recipe builds one
        judges: list[Judge] = []
        for recipe in self.recipes:
            if recipe.spec is not None and recipe.spec.strip() == "evidence":
                judges.append(evidence)
                continue
            judge, _ = recipe.build(self.guard, evidence)
            if judge is None:  # only vote has no judge, and a report's vote is a strategy
                raise ConfigError("a report's judges are named by their specs")
            judges.append(judge)
        self.evidence = evidence
        self.runner = ReportRunner(self.config, judges, evidence=evidence)

    def judges(self) -> Iterable[Judge | None]:
        if self.runner is None:
            return (self.evidence,)
        return (*self.runner.judges.values(), self.runner.evidence, self.evidence)

    async def ready(self) -> dict[str, Any]:
        """:meth:`where`, and the report's plan (judges and selectors) as built here."""
        info = self.where()
        assert self.runner is not None  # built, or where() raised the problem
        return {**info, "plan": self.runner.plan}

    async def record(self, item: Item) -> ItemRecord:
        """One item's record: baselines, every selector's row, the curves."""
        self.check()
        assert self.runner is not None
        return await self.runner.record(item)


class _ClusterRecords:
    """The records of a report made by started :class:`ReportWorker` actors (a
    :class:`~rerank.report.run.RecordExecutor`)."""

    def __init__(self, workers: Workers, per_worker: int) -> None:
        self.plan: ReportPlan = workers.infos[0]["plan"]
        self.runs_on = {"ray": workers.provenance()}
        self.dispatch = Dispatch[ItemRecord](workers.handles, "record", per_worker)

    async def record(self, item: Item) -> ItemRecord:
        return await self.dispatch(item)


#: What a judge's recipe is resolved against: any strategy but vote (which takes none).
_JUDGED = StrategyConfig()


def run_report_on_ray(
    inputs: Sequence[str | Path],
    config: ReportConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: ProgressCallback | None = None,
    judge_options: Mapping[str, Mapping[str, Any]] | None = None,
    exec_python: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    runtime_env: dict[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """:func:`~rerank.report.run.run_report` with the records made on a Ray cluster;
    see the module. Returns what ``metrics.json`` holds, whose ``run`` says ``ray``
    (workers, nodes, CPUs each, sandbox).

    Parameters
    ----------
    inputs, config, out, progress : as :func:`~rerank.report.run.arun_report`'s; the
        judges are ``config.judges`` (specs), each worker building its own.
    judge_options : by judge spec (one of ``config.judges``), the options
        :func:`~rerank.judges.create_judge` takes with it: an LLM judge's ``base_url``,
        ``api_key``, ``cache``, ``timeout``, and ``concurrency``, the requests in flight
        on each endpoint for the whole cluster (split between the workers).
    exec_python : the interpreter code candidates run on, on every node (None: the
        sandbox's own).
    address : ``None`` starts a local cluster (or uses the one this process is connected
        to), ``"auto"`` joins the one running on this machine, or a cluster's address.
    workers : default one per ``cpus_per_worker`` CPUs of the cluster (fewer for an LLM
        judge whose endpoint cap is smaller).
    runtime_env : Ray's, for the job's workers, when this call connects.
    say : where to say how many workers started (default: stderr).

    Raises
    ------
    ConfigError
        Options for a judge the report does not compare, an unusable judge, no cluster.
    NodeSandboxError
        A node cannot sandbox code candidates.
    InputError
        As :func:`~rerank.report.run.arun_report`.
    """
    say = say or (lambda message: print(message, file=sys.stderr))
    config = config or ReportConfig()
    options = dict(judge_options or {})
    unknown = sorted(set(options) - set(config.judges))
    if unknown:
        raise ConfigError(
            f"judge_options for {unknown[0]!r}, which the report does not compare "
            f"(its judges: {', '.join(config.judges)})"
        )
    recipes = [
        JudgeRecipe.resolve(spec, _JUDGED, options.get(spec), exec_python) for spec in config.judges
    ]
    find_sources(inputs)  # a missing input fails before the cluster starts
    with workers_on_cluster(
        ReportWorker,
        recipes,
        lambda shares: {"config": config, "recipes": shares, "exec_python": exec_python},
        address=address,
        runtime_env=runtime_env,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        per_worker=config.concurrency,
        say=say,
    ) as started:
        run = arun_report(
            inputs,
            config,
            out=out,
            progress=progress,
            execute=_ClusterRecords(started, config.concurrency),
            window=len(started.handles) * config.concurrency,
        )
        return asyncio.run(run)

"""``rerank report``: run strategies and judges over labelled candidate files and score them.

Labels are read here and only here: every judge is handed ``item.public()`` unless it
declares ``reads_labels`` (the simulated judge), and the report says which judges did and
which hidden fields were exposed. Per dataset and generator it gives the baselines
(first, pass@k, Random@N, Oracle@N, the majority vote, which is ``-s vote``) and, per
strategy and judge, the selected accuracy, the accuracy against k on subsets of the
candidates (:mod:`rerank.report.subsample`), the share of the Random-to-Oracle gap closed
(bootstrap 95% intervals), paired differences, costs and verdict rates (see
:mod:`rerank.report.metrics`).

Python users call :func:`run_report` (or :func:`arun_report` inside an event loop)::

    from rerank.report.run import ReportConfig, run_report
    report = run_report(["../shared/data/candidates"], ReportConfig(), out="report/")
    report["groups"][0]["selectors"][0]["accuracy"]

To score selections already made by ``rerank select`` instead of running strategies, see
:mod:`rerank.report.selections`.

Each item's record is made by a :class:`ReportRunner` (every selector on the item); a
:class:`RecordExecutor` given as ``execute=`` makes them elsewhere instead
(:mod:`rerank.ray` on a cluster) while :func:`arun_report` reads the items, keeps their
order, scores and writes, exactly as in one process.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from rerank.errors import ConfigError, InputError
from rerank.items import Item
from rerank.judges import EvidenceJudge, Judge, create_judge, parse_spec
from rerank.outputs import result_row
from rerank.readers import Fields, detect_format, read_items
from rerank.report.metrics import group_metrics
from rerank.report.provenance import provenance
from rerank.report.render import write_outputs
from rerank.report.subsample import SubsampledRun, record_curves
from rerank.report.types import (
    Group,
    ItemRecord,
    ProgressCallback,
    ReportConfig,
    Selector,
    Source,
    selector_name,
)
from rerank.selector import MODEL_JUDGES, StrategyConfig, resolve_judge, select_item
from rerank.sources import is_dataset_folder, source_rows

__all__ = [
    "RecordExecutor",
    "ReportPlan",
    "ReportRunner",
    "arun_report",
    "baseline_record",
    "find_sources",
    "finish_report",
    "gather_records",
    "label_use",
    "read_labelled",
    "run_report",
]

#: The files a folder of candidate files holds (other files in it are left alone).
_CANDIDATE_FILE = re.compile(r"\.(jsonl|ndjson|parquet|csv|tsv)(\.gz)?$")


def _source(path: Path) -> Source:
    location, _, split = str(path.name).partition("::")
    stem = _CANDIDATE_FILE.sub("", location)
    dataset, _, generator = stem.partition("_")
    generator = generator or "-"
    return Source(path, dataset, f"{generator}::{split}" if split else generator)


def find_sources(inputs: Iterable[str | Path]) -> list[Source]:
    """Candidate files from files, ``save_to_disk`` folders and folders of files.

    Parameters
    ----------
    inputs : files; folders written by ``datasets``' ``save_to_disk`` (or
        ``folder::split``), each one source; other folders, whose ``*.jsonl[.gz]``,
        ``*.parquet``, ``*.csv`` and ``*.tsv`` files are read (sorted).

    Returns
    -------
    One source per file or dataset folder, in the order given. The dataset is the name up
    to the first underscore, the generator the rest (``gsm8k_gpt3-4solutions_dev400.jsonl.gz``:
    ``gsm8k``, ``gpt3-4solutions_dev400``; a split follows it: ``gen::test``).

    Raises
    ------
    InputError
        A missing path, or a folder with no candidate files.
    """
    sources: list[Source] = []
    for given in inputs:
        path = Path(given)
        if is_dataset_folder(given):
            sources.append(_source(path))
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if _CANDIDATE_FILE.search(p.name))
            if not found:
                raise InputError(
                    "no candidate files here (*.jsonl[.gz], *.parquet, *.csv, *.tsv), and not "
                    "a folder written by datasets' save_to_disk",
                    file=str(path),
                )
            sources += [_source(p) for p in found]
        elif path.is_file():
            sources.append(_source(path))
        else:
            raise InputError("no such file or directory", file=str(path))
    return sources


def read_labelled(source: Source, config: ReportConfig, expose: Iterable[str]) -> Iterable[Item]:
    """The items of ``source``, read with ``config.fields``.

    Raises
    ------
    InputError
        Field options given for a JETTS file: its shape is fixed (labels in
        ``responses[].metadata.score``), so they would be ignored.
    """
    name = str(source.path)
    if config.fields != Fields():
        first = next(iter(source_rows(name)), None)
        if first is not None and detect_format(first[1], config.fields) == "jetts":
            raise InputError(
                "a JETTS file, whose fields are fixed (labels in responses[].metadata.score): "
                "--scores-field, --tests-field and --inputs-field are for other tables",
                file=name,
            )
    return read_items(name, fields=config.fields, expose=expose)


def _labels(item: Item) -> list[float]:
    scores = item.labels.scores if item.labels is not None else ()
    labels = [float(s) for s in scores if s is not None]
    if len(labels) != item.n:
        raise InputError(
            "a report needs a label (score) on every candidate",
            file=item.source or "",
            line=item.line,
        )
    return labels


async def baseline_record(
    item: Item, evidence: EvidenceJudge, seed: int, judges: Iterable[Judge] = ()
) -> ItemRecord:
    """An item's labels and majority vote, with no selector rows yet.

    Parameters
    ----------
    item : the item, labels included.
    evidence : the evidence judge whose signatures the majority vote counts.
    seed : the run seed (the vote's ties).
    judges : other judges whose evidence to compute now (those that assess candidates).

    Returns
    -------
    The item's record, ``rows`` empty.

    Raises
    ------
    InputError
        A candidate without a label.

    Notes
    -----
    The evidence is computed here, once per item, and timed apart from the selectors.
    The majority vote is ``-s vote`` itself (:func:`rerank.selector.vote_signatures` on
    this evidence, the same seed), so the two agree on every item.
    """
    labels = _labels(item)
    start = time.perf_counter()
    kind, _ = await evidence.assess(item.public())
    for judge in judges:
        assess = getattr(judge, "assess", None)
        if assess is not None and judge is not evidence:
            await assess(item.public())
    seconds = time.perf_counter() - start
    vote = StrategyConfig(name="vote", seed=seed)
    voted = await select_item(item, vote, None, evidence=evidence, explain=False)
    return ItemRecord(item.id, labels, kind, voted.selection.winner, seconds)


def _asks_a_model(judge: Judge | None) -> bool:
    return judge is not None and parse_spec(judge.spec)[0] in MODEL_JUDGES


@dataclass(frozen=True)
class ReportPlan:
    """What every record of a report holds, known before any item runs: the judges
    compared (spec: whether it reads labels), and the selectors (strategy, judge spec)."""

    judges: dict[str, bool]
    selectors: list[Selector]


class RecordExecutor(Protocol):
    """Makes items' records (:class:`ReportRunner` in this process; ``rerank.ray`` sends
    them to a cluster). :func:`arun_report` reads the items, keeps their order, scores and
    writes."""

    @property
    def plan(self) -> ReportPlan:
        """The judges and selectors every record has rows for."""
        ...

    @property
    def runs_on(self) -> dict[str, Any]:
        """Where the records were made, added to ``metrics.json``'s ``run`` (``{}``: here)."""
        ...

    async def record(self, item: Item) -> ItemRecord:
        """The item's record: baselines, every selector's row, the curves."""
        ...


class ReportRunner:
    """Runs every selector on every item, with one judge instance per spec for the run.

    Parameters
    ----------
    config : what to compare.
    judges : judges or specs (default ``config.judges``).
    evidence : the evidence judge of the majority vote when none of ``judges`` is one
        (default: a new one); a cluster worker passes its own, whose sandbox fails closed.
    """

    def __init__(
        self,
        config: ReportConfig,
        judges: Sequence[Judge | str] | None,
        evidence: EvidenceJudge | None = None,
    ) -> None:
        self.config = config
        self.judges: dict[str, Judge] = {}
        for given in config.judges if judges is None else judges:
            # ConfigError naming the known judges
            judge = create_judge(given) if isinstance(given, str) else given
            self.judges[judge.spec] = judge
        # Majority vote reads evidence signatures: share the evidence judge when it is one
        # of the judges compared, so evidence is computed once per item.
        shared = next((j for j in self.judges.values() if isinstance(j, EvidenceJudge)), None)
        self.evidence = shared or evidence or EvidenceJudge()
        self.selectors: list[tuple[StrategyConfig, Judge | None]] = []
        for name in config.strategies:
            strategy = config.strategy(name)
            for judge in self.judges.values():
                chosen = resolve_judge(judge, strategy)
                if (strategy, chosen) not in self.selectors:
                    self.selectors.append((strategy, chosen))
        # Judges that ask a model are not run on subsets of k candidates (calls for every
        # subset); their sequential checkpoints give their curves (rerank.report.subsample).
        self.subsampled: list[SubsampledRun] = [
            (selector_name((s.name, j.spec if j else None)), s, j)
            for s, j in self.selectors
            if not _asks_a_model(j)
        ]

    @property
    def plan(self) -> ReportPlan:
        return ReportPlan(
            {spec: judge.reads_labels for spec, judge in self.judges.items()},
            [(s.name, j.spec if j else None) for s, j in self.selectors],
        )

    @property
    def runs_on(self) -> dict[str, Any]:
        return {}

    async def record(self, item: Item) -> ItemRecord:
        record = await baseline_record(item, self.evidence, self.config.seed, self.judges.values())
        for strategy, judge in self.selectors:
            result = await select_item(item, strategy, judge, evidence=self.evidence)
            record.rows[(strategy.name, judge.spec if judge else None)] = result_row(result)
        await record_curves(record, item, self.subsampled, self.evidence, self.config)
        return record

    async def aclose(self) -> None:
        for judge in {id(j): j for j in [*self.judges.values(), self.evidence]}.values():
            await judge.aclose()


async def gather_records(
    items: Sequence[Item],
    record: Callable[[Item], Awaitable[ItemRecord]],
    source: Source,
    *,
    concurrency: int,
    progress: ProgressCallback | None = None,
) -> list[ItemRecord]:
    """``record`` of every item, at most ``concurrency`` at once, in item order.

    Parameters
    ----------
    items : one file's items.
    record : makes an item's record.
    source : the file (for ``progress``).
    concurrency : records in the making at once.
    progress : called after each item.

    Returns
    -------
    The records, in item order.
    """
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: Item) -> ItemRecord:
        nonlocal done
        async with gate:
            result = await record(item)
        done += 1
        if progress is not None:
            progress(source, done, len(items))
        return result

    return list(await asyncio.gather(*(one(item) for item in items)))


async def _source_records(
    record: Callable[[Item], Awaitable[ItemRecord]],
    source: Source,
    config: ReportConfig,
    window: int,
    progress: ProgressCallback | None,
) -> list[ItemRecord]:
    items: list[Item] = []
    for item in read_labelled(source, config, config.expose):
        if config.limit is not None and len(items) >= config.limit:
            break
        items.append(item)
    if not items:
        raise InputError("no items to report on", file=str(source.path))
    return await gather_records(items, record, source, concurrency=window, progress=progress)


def label_use(
    readers: Iterable[str], blind: Iterable[str], exposed: Iterable[str], groups: Sequence[Group]
) -> dict[str, Any]:
    """Who read labels and what the judges could see.

    Parameters
    ----------
    readers : the specs of the judges that read labels.
    blind : the specs of the judges that did not.
    exposed : the hidden fields granted (``--expose``).
    groups : the report's groups, whose rows say which task resources were visible.

    Returns
    -------
    ``metrics.json``'s ``label_use``.
    """
    visible = {
        name
        for _, records, _ in groups
        for record in records
        for row in record.rows.values()
        for name in row["visible_resources"]
    }
    return {
        "judges_reading_labels": sorted(readers),
        "judges_blind_to_labels": sorted(blind),
        "exposed_resources": list(exposed),
        "visible_resources": sorted(visible),
    }


def finish_report(
    report: dict[str, Any], groups: Sequence[Group], out: str | Path | None
) -> dict[str, Any]:
    """Add the groups' metrics to ``report`` and, given ``out``, write the files there.

    Parameters
    ----------
    report : ``config`` and ``label_use`` so far.
    groups : the report's groups, with their metrics.
    out : the report folder (None: write nothing).

    Returns
    -------
    ``report``, completed: what ``metrics.json`` holds.
    """
    report["groups"] = [metrics for _, _, metrics in groups]
    if out is not None:
        write_outputs(Path(out), report, [(s, r) for s, r, _ in groups])
    return report


async def arun_report(
    inputs: Sequence[str | Path],
    config: ReportConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: ProgressCallback | None = None,
    judges: Sequence[Judge | str] | None = None,
    execute: RecordExecutor | None = None,
    window: int | None = None,
    evidence: EvidenceJudge | None = None,
) -> dict[str, Any]:
    """Run every strategy with every judge on labelled candidate files, and score them.

    Parameters
    ----------
    inputs : candidate files, or directories of them (:func:`find_sources`).
    config : what to compare and how (default: :class:`ReportConfig`'s defaults).
    out : a folder to write ``metrics.json``, ``summary.md``, ``accuracy_vs_k.png`` and
        ``rows.jsonl`` into (None: write nothing).
    progress : called after each item.
    judges : the judges (default ``config.judges``); may hold judges built by the
        caller, such as an LLM judge with its endpoints. The report closes them when it
        ends.
    execute : makes the items' records elsewhere, with judges of its own (default: a
        :class:`ReportRunner` here, on ``judges``); ``rerank.ray`` passes one that sends
        each item to a cluster worker. Reading, item order, scoring and the files are the
        same either way; where it ran is added to ``metrics.json``'s ``run``.
    window : items whose records are in the making at once (default
        ``config.concurrency``).
    evidence : the evidence judge the majority vote reads when none of ``judges`` is
        one (default: a new one), such as one running code in another environment.

    Returns
    -------
    What ``metrics.json`` holds.

    Raises
    ------
    InputError
        A missing or empty file, a malformed row, a candidate without a label.
    ConfigError
        An unknown judge or bad judge arguments; both ``judges`` and ``execute``.
    """
    config = config or ReportConfig()
    if execute is not None and judges is not None:
        raise ConfigError("arun_report takes judges or an executor (with its own), not both")
    started = provenance()
    runner: ReportRunner | None = None
    if execute is None:
        runner = execute = ReportRunner(config, judges, evidence)
    plan = execute.plan
    groups: list[Group] = []
    try:
        sources = find_sources(inputs)
        for source in sources:
            records = await _source_records(
                execute.record, source, config, window or config.concurrency, progress
            )
            groups.append((source, records, group_metrics(source, records, plan.selectors, config)))
    finally:
        if runner is not None:
            await runner.aclose()
    readers = [spec for spec, reads in plan.judges.items() if reads]
    blind = [spec for spec in plan.judges if spec not in readers]
    report = {
        "run": {**started.finish(), **execute.runs_on},
        "config": {
            **asdict(config),
            "judges": list(plan.judges),
            "inputs": [str(s.path) for s in sources],
        },
        "label_use": label_use(readers, blind, config.expose, groups),
    }
    return finish_report(report, groups, out)


def run_report(
    inputs: Sequence[str | Path], config: ReportConfig | None = None, **kwargs: Any
) -> dict[str, Any]:
    """A blocking :func:`arun_report`."""
    return asyncio.run(arun_report(inputs, config, **kwargs))

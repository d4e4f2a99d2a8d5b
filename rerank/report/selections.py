"""``rerank report --selections``: score the choices ``rerank select`` already made.

The output rows of ``rerank select`` (:func:`rerank.outputs.result_row`) say which candidate
was chosen, by which strategy and judge, what it cost and what the judge could see; they
carry no labels. Labels come from the candidate files the selections were made on
(``--labels``): a row goes to the labels file its ``file`` names (same path, else same file
name) and to the item with its ``id``. Rows made with the same strategy, options, judge and
seed form one column wherever they sit, so one selection file per dataset fills one column
across datasets. The numbers are those of :mod:`rerank.report.metrics`, exactly as for a
report that runs the strategies itself; the majority vote is recomputed from evidence.

Every malformed row, and every row whose item is not in its labels file, is an
:class:`~rerank.errors.InputError` naming the selection file and line::

    from rerank.report.selections import run_selection_report
    report = run_selection_report(["knockout.jsonl"], ["toy_gen.jsonl"], out="report/")
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rerank.errors import InputError
from rerank.items import Item
from rerank.judges import EvidenceJudge
from rerank.readers import jsonl_rows
from rerank.report.metrics import ROW_COUNTS, group_metrics
from rerank.report.provenance import provenance
from rerank.report.run import (
    baseline_record,
    find_sources,
    finish_report,
    gather_records,
    label_use,
    read_labelled,
)
from rerank.report.subsample import record_curves
from rerank.report.types import Group, ProgressCallback, ReportConfig, Source
from rerank.selector import STRATEGIES

__all__ = ["arun_selection_report", "read_selection_rows", "run_selection_report"]

_NUMBER = (int, float)
#: What a row must hold to be scored, and the JSON types each field may have.
_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str, int),
    "selected": (int,),
    "n": (int,),
    "strategy": (str,),
    "strategy_options": (dict,),
    "judge": (str, type(None)),
    "labels_used": (bool,),
    "visible_resources": (list,),
    "exposed": (list,),
    "seed": (int,),
    "elapsed": _NUMBER,
    **dict.fromkeys(ROW_COUNTS, _NUMBER),
}
_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", dict: "an object"}
_JSON_NAMES |= {list: "a list", bool: "true or false", type(None): "null"}


@dataclass(frozen=True)
class SelectionRow:
    """One output row of ``rerank select`` and where it was read."""

    path: str
    line: int
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def error(self, message: str, field: str | None = None) -> InputError:
        return InputError(message, file=self.path, line=self.line, field=field)


def _check(row: SelectionRow) -> SelectionRow:
    data = row.data
    for name, kinds in _FIELDS.items():
        if name not in data:
            raise row.error("missing: is this an output file of `rerank select`?", name)
        value = data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(_JSON_NAMES[k] for k in kinds)
            raise row.error(f"expected {expected}, got {json.dumps(value)}", name)
    if data["strategy"] not in STRATEGIES:
        raise row.error(f"unknown strategy {data['strategy']!r}", "strategy")
    n = data["n"]
    if n < 1:
        raise row.error(f"expected at least 1 candidate, got {n}", "n")
    if not 0 <= data["selected"] < n:
        raise row.error(f"{data['selected']} is not a candidate index (n = {n})", "selected")
    checkpoints = data.get("checkpoints")
    if checkpoints is not None and not (
        isinstance(checkpoints, dict)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in checkpoints.values())
        and all(0 <= v < n for v in checkpoints.values())
    ):
        raise row.error("expected an object of candidate indices by k", "checkpoints")
    if not isinstance(data.get("file"), str | None):
        raise row.error(f"expected a string, got {json.dumps(data['file'])}", "file")
    return row


def read_selection_rows(path: str | Path) -> Iterator[SelectionRow]:
    """The rows of one ``rerank select`` output file (plain or ``.gz``), each checked.

    Parameters
    ----------
    path : the selection file.

    Yields
    ------
    Each row with its file and line.

    Raises
    ------
    InputError
        A missing file, or a row that is not JSON or lacks a field a report needs.
    """
    name = str(path)
    if not Path(path).is_file():
        raise InputError("no such selection file", file=name)
    for number, data in jsonl_rows(Path(path)):
        if isinstance(data, InputError):
            raise data
        yield _check(SelectionRow(name, number, data))


@dataclass
class _Column:
    """The rows of one strategy, options, judge and seed: one selector of the report."""

    strategy: str
    options: dict[str, Any]
    judge: str | None
    seed: int
    label: str = ""
    files: list[str] = field(default_factory=list)
    rows: dict[tuple[int, str], SelectionRow] = field(default_factory=dict)

    @property
    def selector(self) -> tuple[str, str | None]:
        return (self.label, self.judge)


def _label_columns(columns: Sequence[_Column]) -> None:
    """``strategy``, or ``strategy[option=value]`` naming what tells apart columns that
    share a strategy and judge (``knockout[both_orders=true]``)."""
    alike: dict[tuple[str, str | None], list[_Column]] = defaultdict(list)
    for column in columns:
        alike[(column.strategy, column.judge)].append(column)
    for same in alike.values():
        settings = [{**c.options, "seed": c.seed} for c in same]
        names = sorted({k for s in settings for k in s})
        differ = [k for k in names if len({json.dumps(s.get(k)) for s in settings}) > 1]
        for column, setting in zip(same, settings, strict=True):
            shown = ",".join(f"{k}={json.dumps(setting.get(k))}" for k in differ)
            column.label = f"{column.strategy}[{shown}]" if shown else column.strategy


def _labels_index(row: SelectionRow, sources: Sequence[Source]) -> int:
    """The labels file a row's item comes from: same path, else same file name."""
    file = row.data.get("file")
    if file is None and len(sources) == 1:
        return 0
    if file is not None:
        named = Path(file)
        for same in (
            lambda s: str(s.path) == file or s.path.resolve() == named.resolve(),
            lambda s: s.path.name == named.name,
        ):
            found = [i for i, s in enumerate(sources) if same(s)]
            if len(found) == 1:
                return found[0]
    names = ", ".join(str(s.path) for s in sources)
    raise row.error(
        f"the item comes from {file!r}, which is not one of the --labels files ({names}): "
        "give the candidate file the selection was made on",
        "file",
    )


def _columns(paths: Sequence[str | Path], sources: Sequence[Source]) -> list[_Column]:
    columns: dict[tuple, _Column] = {}
    for path in paths:
        count = 0
        for row in read_selection_rows(path):
            count += 1
            data = row.data
            options = data["strategy_options"]
            key = (
                data["strategy"],
                json.dumps(options, sort_keys=True),
                data["judge"],
                data["seed"],
            )
            column = columns.setdefault(
                key, _Column(data["strategy"], options, data["judge"], data["seed"])
            )
            if row.path not in column.files:
                column.files.append(row.path)
            where = (_labels_index(row, sources), row.id)
            first = column.rows.setdefault(where, row)
            if first is not row:
                raise row.error(
                    f"a second row for item {row.id!r} with the same strategy, options, "
                    f"judge and seed (the first is {first.path}:{first.line})",
                    "id",
                )
        if not count:
            raise InputError("no selection rows", file=str(path))
    _label_columns(list(columns.values()))
    return list(columns.values())


def _group_items(
    index: int, source: Source, columns: Sequence[_Column], config: ReportConfig
) -> tuple[list[Item], list[_Column]]:
    """The labelled items every column present in this group selected on, in file order."""
    present = [c for c in columns if any(i == index for i, _ in c.rows)]
    if not present:
        raise InputError("no selection row comes from this labels file", file=str(source.path))
    rows = [row for c in present for (i, _), row in c.rows.items() if i == index]
    expose = sorted({name for row in rows for name in row.data["exposed"]})
    wanted = {row.id for row in rows}
    items = {item.id: item for item in read_labelled(source, config, expose) if item.id in wanted}
    for row in rows:
        item = items.get(row.id)
        if item is None:
            raise row.error(f"item {row.id!r} is not in the labels file {source.path}", "id")
        if item.n != row.data["n"]:
            message = f"{row.data['n']} candidates here, {item.n} in the labels file {source.path}"
            raise row.error(message, "n")
    for column in present:
        missing = wanted - {item_id for i, item_id in column.rows if i == index}
        if missing:
            other = next(c for c in present if (index, min(missing)) in c.rows)
            raise InputError(
                f"no row for item {min(missing)!r} of {source.path}, which {other.label}/"
                f"{other.judge} has: a report compares selections on the same items "
                "(`rerank select --resume` finishes an interrupted run)",
                file=", ".join(column.files),
            )
    return [item for item in items.values()], present


async def arun_selection_report(
    selections: Sequence[str | Path],
    labels: Sequence[str | Path],
    config: ReportConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Score ``rerank select`` output files against the labels of the candidate files they
    were made on.

    Parameters
    ----------
    selections : ``rerank select`` output files.
    labels : the candidate files the selections were made on.
    config : only its seed (majority-vote ties, bootstrap), ``bootstrap`` and
        ``concurrency`` (evidence) apply: the rows say which strategies and judges ran.
    out : a folder for the report files, as :func:`rerank.report.run.arun_report`'s.
    progress : called after each item.

    Returns
    -------
    What ``metrics.json`` holds.

    Raises
    ------
    InputError
        A malformed row, a row whose item is not in its labels file, or selections that
        do not cover the same items (naming the selection file and line).
    """
    config = config or ReportConfig()
    started = provenance()
    sources = find_sources(labels)
    columns = _columns(selections, sources)
    rows = [row.data for c in columns for row in c.rows.values()]
    recorded = {k for c in columns for k in c.options.get("checkpoints", ())}
    config = replace(
        config,
        strategies=tuple(dict.fromkeys(c.strategy for c in columns)),
        judges=tuple(dict.fromkeys(c.judge for c in columns if c.judge is not None)),
        checkpoints=tuple(sorted(recorded)) or config.checkpoints,
        expose=tuple(sorted({name for row in rows for name in row["exposed"]})),
        limit=None,
    )
    evidence = EvidenceJudge()
    groups: list[Group] = []
    try:
        for index, source in enumerate(sources):
            items, present = _group_items(index, source, columns, config)

            async def record(item: Item, index: int = index, present=present) -> Any:
                result = await baseline_record(item, evidence, config.seed)
                for column in present:
                    result.rows[column.selector] = column.rows[(index, item.id)].data
                # Only Oracle@k and majority@k: the rows hold one pick per item, at N.
                await record_curves(result, item, (), evidence, config)
                return result

            records = await gather_records(
                items, record, source, concurrency=config.concurrency, progress=progress
            )
            selectors = [c.selector for c in present]
            groups.append((source, records, group_metrics(source, records, selectors, config)))
    finally:
        await evidence.aclose()
    readers = {
        c.judge for c in columns if c.judge and any(r.data["labels_used"] for r in c.rows.values())
    }
    blind = {c.judge for c in columns if c.judge and c.judge not in readers}
    settings = {k: v for k, v in asdict(config).items() if k not in ("both_orders", "aggregate")}
    report = {
        "run": started.finish(),
        "config": {
            **settings,
            "inputs": [str(s.path) for s in sources],
            "selections": [str(p) for p in selections],
        },
        "label_use": label_use(readers, blind, config.expose, groups),
    }
    return finish_report(report, groups, out)


def run_selection_report(
    selections: Sequence[str | Path],
    labels: Sequence[str | Path],
    config: ReportConfig | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A blocking :func:`arun_selection_report`."""
    return asyncio.run(arun_selection_report(selections, labels, config, **kwargs))

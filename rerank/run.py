"""``rerank select`` over files: stream items, select concurrently, write in input order.

Items are read one at a time; at most ``2 * concurrency`` are in flight and at most
``concurrency`` judge calls run at once, so memory stays flat however long the file is.
Rows are written in input order. A row that fails validation is reported and skipped
(with ``skip_invalid``); an item whose judge fails (a :class:`~rerank.errors.JudgeError`)
is reported, not written, and left for ``--resume`` to retry. Anything else (a bad row
without ``skip_invalid``, an unreadable file, a full disk, a bug) stops the run once the
items before it are written, so that ``--resume`` finishes it after the cause is fixed.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from tqdm import tqdm

from rerank.errors import ConfigError, InputError, JudgeError, OutputError
from rerank.items import Item
from rerank.judges import Judge
from rerank.outputs import (
    RowWriter,
    finished_rows,
    prune_trace,
    result_row,
    row_key,
    trace_row,
)
from rerank.readers import Fields, read_items
from rerank.selector import ItemResult, StrategyConfig, resolve_judge, select_item

__all__ = [
    "ItemExecutor",
    "ItemRows",
    "RunOptions",
    "RunSummary",
    "check_run_options",
    "how_to_finish",
    "item_rows",
    "output_row",
    "run_select",
]


@dataclass
class RunOptions:
    """Everything ``rerank select`` was asked to do."""

    paths: Sequence[str]
    out: str = "-"
    trace: str | None = None
    config: StrategyConfig = field(default_factory=StrategyConfig)
    judge: Judge | str | None = None
    format: str = "auto"
    fields: Fields = field(default_factory=Fields)
    expose: tuple[str, ...] = ()
    task_kind: str | None = None
    limit: int | None = None
    concurrency: int = 8
    resume: bool = False
    overwrite: bool = False
    skip_invalid: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal
    exec_python: str | None = None  # the interpreter code candidates run on (None: ours)


@dataclass
class RunSummary:
    """What a run did, for the closing line and the exit code."""

    selected: int = 0
    already_done: int = 0
    invalid_rows: list[InputError] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    comparisons: int = 0
    judge_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ties: int = 0
    invalid_verdicts: int = 0
    decisive_verdicts: int = 0
    first_shown_wins: int = 0
    both_orders_matches: int = 0
    swap_disagreements: int = 0
    short_circuits: int = 0
    deduplicated: int = 0
    flagged_verdicts: int = 0
    elapsed: float = 0.0
    judge_spec: str | None = None
    labels_used: bool = False

    #: Row fields the summary adds up over the items.
    TOTALS: ClassVar[tuple[str, ...]] = (
        "comparisons",
        "judge_calls",
        "prompt_tokens",
        "completion_tokens",
        "ties",
        "decisive_verdicts",
        "first_shown_wins",
        "both_orders_matches",
        "swap_disagreements",
        "short_circuits",
        "deduplicated",
        "flagged_verdicts",
    )

    def add(self, row: dict[str, Any]) -> None:
        """Count one written output row."""
        self.selected += 1
        for name in self.TOTALS:
            setattr(self, name, getattr(self, name) + row.get(name, 0))
        self.invalid_verdicts += row["invalid"]

    @property
    def a_rate(self) -> float | None:
        """Share of decisive verdicts naming the candidate shown first (0.5: no bias)."""
        return self.first_shown_wins / self.decisive_verdicts if self.decisive_verdicts else None

    @property
    def swap_disagreement_rate(self) -> float | None:
        """Share of both-orders matches whose two verdicts named different candidates."""
        if not self.both_orders_matches:
            return None
        return self.swap_disagreements / self.both_orders_matches

    def line(self) -> str:
        parts = [f"selected {self.selected} items in {self.elapsed:.2f}s"]
        if self.already_done:
            parts.append(f"{self.already_done} already done")
        if self.invalid_rows:
            parts.append(f"{len(self.invalid_rows)} invalid rows skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} failed (rerun with --resume to retry)")
        cost = f"{self.comparisons} comparisons, {self.judge_calls} judge calls, "
        if self.judge_spec is not None:
            tokens = self.prompt_tokens + self.completion_tokens
            cost += (
                f"{tokens} tokens ({self.prompt_tokens} prompt + {self.completion_tokens} "
                f"completion), {self.short_circuits} short-circuited by evidence, "
                f"{self.flagged_verdicts} flagged, {self.deduplicated} deduplicated, "
            )
        parts.append(
            f"{cost}{self.ties} ties, {self.invalid_verdicts} invalid (verdicts, or candidates "
            "without a key in a vote)"
        )
        if self.a_rate is not None:
            parts.append(f"A-rate {self.a_rate:.2f} of {self.decisive_verdicts} decisive verdicts")
        if self.swap_disagreement_rate is not None:
            parts.append(
                f"swap disagreement {self.swap_disagreement_rate:.2f} of "
                f"{self.both_orders_matches} both-orders matches"
            )
        who = self.judge_spec or "no judge (vote over evidence signatures)"
        if self.labels_used:
            who += " - READ THE LABELS (simulation, not a real judge)"
        parts.append(f"judge: {who}")
        return "; ".join(parts)


def output_row(result: ItemResult) -> dict[str, Any]:
    """The row ``rerank select`` writes for one item (:func:`rerank.outputs.result_row`),
    plus, for vote, how the vote went: the sizes of its classes, how many candidates
    abstained, and what decided (``"no votes"``: no candidate had a key, so the seeded
    order picked)."""
    row = result_row(result)
    if result.config.name == "vote":
        sizes = [len(c) for c in result.selection.classes or []]
        if not sizes:
            decided = "no votes"
        elif len(sizes) > 1 and sizes[0] == sizes[1]:
            decided = "tied classes (seeded order)"
        else:
            decided = "largest class"
        row["vote"] = {"classes": sizes, "abstained": result.selection.invalid, "decided": decided}
    return row


@dataclass(frozen=True)
class ItemRows:
    """What a run writes for one finished item: its output row and, traced, its trace row."""

    row: dict[str, Any]
    trace: dict[str, Any] | None = None


def item_rows(result: ItemResult, *, trace: bool) -> ItemRows:
    """The rows of one item's result (the trace row only when the run keeps a trace)."""
    return ItemRows(output_row(result), trace_row(result) if trace else None)


#: Selects one item somewhere and gives back its rows; :func:`run_select` takes one to run
#: items elsewhere (``rerank.ray`` runs them on a cluster) while it reads, writes and resumes.
ItemExecutor = Callable[[Item], Awaitable[ItemRows]]


def _count_rows(path: str) -> int | None:
    """Rows in a JSON lines file (for the progress bar); None when it cannot be told cheaply."""
    p = Path(path)
    if not p.is_file() or not p.name.lower().endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return None
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except (OSError, EOFError, zlib.error):
        return None  # the reader reports what is wrong with the file, at the line it is


def how_to_finish(out: str | None, trace: str | None = None, *, first: str = "") -> str:
    """How to finish a run that stopped early, in a phrase (``first``: what to do before)."""
    if out in (None, "-"):
        return (
            "the rows finished so far went to stdout, which cannot be resumed: "
            f"{first}run again to finish (with --out FILE, --resume can finish a stopped run)"
        )
    same = "--out and --trace" if trace else "--out"
    return (
        f"{out} keeps every finished row: {first}run the same command with --resume "
        f"(same {same}) to finish the run"
    )


def _items(options: RunOptions, on_invalid: Callable[[InputError], None] | None) -> Iterator[Item]:
    for path in options.paths:
        yield from read_items(
            path,
            format=options.format,
            fields=options.fields,
            expose=options.expose,
            task_kind=options.task_kind,
            on_invalid=on_invalid,
        )


def check_run_options(options: RunOptions) -> None:
    """Raise :class:`ConfigError` for options no run can start with (before anything runs)."""
    if options.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    to_file = options.out not in ("-", None)
    if options.resume and not to_file:
        raise ConfigError("--resume needs --out FILE (there is nothing to resume on stdout)")
    if to_file and Path(options.out).exists() and not (options.resume or options.overwrite):
        raise ConfigError(f"{options.out} exists: add --resume to finish it, or --overwrite")


async def run_select(
    options: RunOptions,
    *,
    say: Callable[[str], None] | None = None,
    execute: ItemExecutor | None = None,
    window: int | None = None,
) -> RunSummary:
    """Select the best candidate of every item in ``options.paths``; see :class:`RunOptions`.

    ``execute`` runs one item and returns its rows (default: :func:`select_item` here, at
    most ``options.concurrency`` judge calls at once); ``window`` bounds the items read but
    not yet written (default ``2 * options.concurrency``). Reading, writing in input order,
    progress and resume are the same either way.
    """
    say = say or (lambda message: print(message, file=sys.stderr))
    check_run_options(options)

    config = options.config
    judge = resolve_judge(options.judge, config, exec_python=options.exec_python)
    summary = RunSummary(
        judge_spec=judge.spec if judge is not None else None,
        labels_used=bool(judge is not None and judge.reads_labels),
    )
    expect = {
        "strategy": config.name,
        "strategy_options": config.options(),
        "judge": summary.judge_spec,
        "seed": config.seed,
    }
    done: set[tuple[str, str]] = set()
    if options.resume:
        done, torn = finished_rows(options.out, expect)
        if torn:
            say(f"{options.out}: cut off a torn last line left by the killed run")
        if options.trace:
            prune_trace(options.trace, done)
    append = options.resume
    out = RowWriter(options.out, append=append)
    trace = RowWriter(options.trace, append=append) if options.trace else None

    def on_invalid(err: InputError) -> None:
        summary.invalid_rows.append(err)
        say(f"skipped invalid row: {err}")

    total = None
    counts = [_count_rows(p) for p in options.paths]
    if all(c is not None for c in counts):
        total = sum(counts)  # type: ignore[arg-type]
        if options.limit is not None:
            total = min(total, options.limit)
    bar = tqdm(
        total=total,
        unit="item",
        file=sys.stderr,
        dynamic_ncols=True,
        disable=(not sys.stderr.isatty()) if options.progress is None else not options.progress,
    )

    if execute is None:
        limiter = asyncio.Semaphore(options.concurrency)

        async def select_here(item: Item) -> ItemRows:
            result = await select_item(item, config, judge, limiter=limiter)
            return item_rows(result, trace=trace is not None)

        execute = select_here

    window = window or 2 * options.concurrency
    pending: deque[tuple[Item, asyncio.Task[ItemRows]]] = deque()

    faults: list[BaseException] = []  # raised by an item but not a judge failure: stop

    def finish(item: Item, task: asyncio.Task[ItemRows]) -> None:
        bar.update(1)
        exc = task.exception()
        if isinstance(exc, JudgeError):
            summary.failed.append(row_key(item.source, item.id))
            say(f"{item.source}:{item.line}: item {item.id!r} failed: {type(exc).__name__}: {exc}")
            return
        if exc is not None:
            faults.append(exc)
            return
        rows = task.result()
        if trace is not None and rows.trace is not None:
            trace.write(rows.trace)
        out.write(rows.row)
        summary.add(rows.row)

    async def drain(keep: int) -> None:
        while len(pending) > keep:
            head_item, head = pending[0]
            await asyncio.wait([head])
            pending.popleft()
            finish(head_item, head)

    start = time.perf_counter()
    bad_input: InputError | None = None
    try:
        try:
            items = _items(options, on_invalid if options.skip_invalid else None)
            for item in islice(items, options.limit):
                if faults:
                    break
                if row_key(item.source, item.id) in done:
                    summary.already_done += 1
                    bar.update(1)
                    continue
                task = asyncio.ensure_future(execute(item))
                pending.append((item, task))
                await drain(window - 1)
        except InputError as err:
            bad_input = err
        await drain(0)  # whatever stops the run, the items before it are written
        if faults:
            raise faults[0]
        if bad_input is not None:
            raise bad_input
    except OutputError as err:
        first = "free some space, then " if err.disk_full else "fix that, then "
        hint = how_to_finish(options.out, options.trace, first=first)
        raise OutputError(err.target, err.reason, disk_full=err.disk_full, hint=hint) from err
    finally:
        for _, task in pending:
            task.cancel()
        bar.close()
        out.close()
        if trace is not None:
            trace.close()
        if judge is not None and judge is not options.judge:
            await judge.aclose()
        summary.elapsed = time.perf_counter() - start
    return summary

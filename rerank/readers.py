"""Readers: candidate files in, :class:`~rerank.items.Item` out, one row at a time.

Three shapes are understood, and detected from the first row of a file:

- JETTS: ``{"query": {"content", "metadata"}, "responses": [{"content", "metadata": {"score"}}]}``
- simple: ``{"id", "prompt", "candidates": [str | {"text", ...}], "task": {...}, "scores": [...]}``
- columns: any table: json, jsonl, parquet, csv, a folder written by ``datasets``'
  ``save_to_disk``, or a hub dataset name, read with :class:`Fields` (field paths reach
  nested fields and list items: ``query.content``, ``messages.-1.content``; see
  :mod:`rerank.fieldpaths`).

Rows come from :mod:`rerank.sources`: JSON lines (optionally gzipped) and CSV files line by
line, so that an error can name its line; other files, ``save_to_disk`` folders (one split
of a ``DatasetDict``: ``folder::test``, or its only one) and hub datasets through
``datasets``. A cell meant to hold a list or an object may hold it as text: JSON, or the
Python literal pandas' ``to_csv`` writes (:mod:`rerank.cells`). Memory stays flat in the
number of rows: even the duplicate-id check, which must remember every id of the file,
keeps them in a temporary on-disk index (:class:`_SeenIds`) rather than in a set.
A malformed row raises :class:`~rerank.errors.InputError`, or, when an ``on_invalid``
callback is given, is handed to it and skipped. A file that cannot be read on (missing, not
gzip, cut short) raises ``InputError`` whatever the callback, once the rows before the break
were yielded.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank.cells import CellError, parse_container
from rerank.errors import InputError, OutputError
from rerank.fieldpaths import FieldPathError, get_path
from rerank.items import (
    TASK_KINDS,
    VISIBLE_RESOURCES,
    Candidate,
    Item,
    Labels,
    Task,
    resource_problem,
)
from rerank.sources import csv_rows, jsonl_rows, source_rows

__all__ = ["FORMATS", "Fields", "csv_rows", "detect_format", "jsonl_rows", "read_items"]

FORMATS: tuple[str, ...] = ("auto", "jetts", "simple", "columns")


@dataclass(frozen=True)
class Fields:
    """Where the parts of a row live in the simple and columns formats: field paths
    (:mod:`rerank.fieldpaths`), such as ``query.content`` or ``messages.-1.content``.

    ``tests`` and ``inputs``, when given, are where the visible resources of those names
    live outside the task object (a column of user-supplied tests, of inputs for behaviour
    clustering); they win over the task's own ``tests`` and ``inputs``.
    """

    prompt: str = "prompt"
    candidates: str = "candidates"
    id: str = "id"
    scores: str = "scores"
    task: str = "task"
    tests: str | None = None
    inputs: str | None = None


OnInvalid = Callable[[InputError], None]


def read_items(
    source: str | Path,
    *,
    format: str = "auto",
    fields: Fields = Fields(),
    expose: Iterable[str] = (),
    task_kind: str | None = None,
    on_invalid: OnInvalid | None = None,
    split: str | None = None,
) -> Iterator[Item]:
    """Yield the items of one file, ``save_to_disk`` folder or hub dataset, validating each
    row.

    ``expose`` names hidden fields (such as ``reference``) that the caller grants to the
    judge; ``task_kind`` overrides every row's task kind. ``split`` picks the split of a
    ``DatasetDict`` folder or a hub dataset, as ``source::split`` does; without either, a
    folder's only split, and a hub dataset's ``train``.
    """
    name = str(source)
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})", file=name)
    if task_kind is not None and task_kind not in TASK_KINDS:
        raise InputError(
            f"unknown task kind {task_kind!r} (choose from {', '.join(TASK_KINDS)})", file=name
        )
    rows = source_rows(name, split)
    parser = _RowParser(name, format, fields, tuple(expose), task_kind)
    try:
        for line, row in rows:
            try:
                if isinstance(row, InputError):
                    raise row
                yield parser.parse(row, line)
            except InputError as err:
                if on_invalid is None:
                    raise
                on_invalid(err)
    finally:
        parser.seen_ids.close()


def detect_format(row: Any, fields: Fields = Fields()) -> str:
    """The format of a row: ``jetts`` or ``simple``/``columns`` (both read by field names)."""
    if isinstance(row, dict) and "query" in row and "responses" in row:
        return "jetts"
    return "simple" if fields == Fields() else "columns"


# --- duplicate ids -------------------------------------------------------------------------

#: Page cache of the duplicate-id index: the most memory it takes, however many rows.
SEEN_IDS_CACHE_KIB = 1024


class _SeenIds:
    """The ids read so far with the line each was first read on: exact, in bounded memory.

    A set of the ids grew by ~100 bytes per row (8.5 MiB per 80,000 rows, ~1 GB at 10 M).
    Here they live in a private temporary SQLite database, which keeps at most
    :data:`SEEN_IDS_CACHE_KIB` of pages in memory and spills the rest to a file in its
    temporary directory (``SQLITE_TMPDIR``, else ``TMPDIR``, else ``/var/tmp``; ~20-50
    bytes per row), unlinked as soon as it is created, so even a kill leaves nothing.
    Ids are stored whole, never hashed, so a duplicate is reported only if it is one; no
    second pass over the input is needed, so it works the same for files, pipes and hub
    datasets. Cost: one B-tree insert per row, 2-6 us (see docs/performance.md).
    """

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        # "" is a private on-disk database that SQLite deletes on close; pages stay in
        # memory until the cache is full. No journal: nothing here needs to survive a crash.
        db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA cache_size = -{SEEN_IDS_CACHE_KIB}")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        db.execute("BEGIN")  # one transaction for the whole file: no commit per row
        return db

    def add(self, item_id: str, line: int) -> int | None:
        """Record ``item_id`` as read on ``line``; if it was read before, the line it was
        first read on (and nothing is recorded)."""
        try:
            if self._db is None:
                self._db = self._open()
            cursor = self._db.execute(
                "INSERT INTO seen VALUES (?, ?) ON CONFLICT DO NOTHING", (item_id, line)
            )
        except sqlite3.OperationalError as exc:
            where = "the temporary index of row ids (in $SQLITE_TMPDIR, $TMPDIR or /var/tmp)"
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise OutputError(where, "the disk is full", disk_full=True) from exc
            raise OutputError(where, str(exc)) from exc
        if cursor.rowcount == 1:
            return None
        (first,) = self._db.execute("SELECT line FROM seen WHERE id = ?", (item_id,)).fetchone()
        return first

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# --- rows --------------------------------------------------------------------------------


#: What :meth:`_RowParser.field` returns for an absent field.
_ABSENT: Any = object()


class _RowParser:
    def __init__(
        self, file: str, format: str, fields: Fields, expose: tuple[str, ...], task_kind: str | None
    ) -> None:
        self.file = file
        self.format = format
        self.fields = fields
        self.expose = expose
        self.task_kind = task_kind
        self.seen_ids = _SeenIds()
        self.rows = 0

    def error(self, message: str, line: int, field: str | None = None) -> InputError:
        return InputError(message, file=self.file, line=line, field=field)

    def parse(self, row: dict, line: int) -> Item:
        index = self.rows
        self.rows += 1
        fmt = self.format if self.format != "auto" else detect_format(row, self.fields)
        parse = self._jetts if fmt == "jetts" else self._simple
        item = parse(row, line, index)
        first = self.seen_ids.add(item.id, line)
        if first is not None:
            raise self.error(f"duplicate id {item.id!r} (first on line {first})", line, "id")
        return item

    def _jetts(self, row: dict, line: int, index: int) -> Item:
        query = row.get("query")
        if not isinstance(query, dict):
            raise self.error("missing or not an object", line, "query")
        prompt = self._text(query.get("content"), line, "query.content")
        metadata = query.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise self.error("expected an object", line, "query.metadata")
        responses = row.get("responses")
        if not isinstance(responses, list):
            raise self.error("missing or not a list", line, "responses")
        if not responses:
            raise self.error("empty candidate list", line, "responses")
        texts, scores, hidden = [], [], []
        for i, response in enumerate(responses):
            where = f"responses[{i}]"
            if not isinstance(response, dict):
                raise self.error("expected an object with 'content'", line, where)
            texts.append(self._text(response.get("content"), line, f"{where}.content"))
            meta = response.get("metadata") or {}
            if not isinstance(meta, dict):
                raise self.error("expected an object", line, f"{where}.metadata")
            scores.append(self._score(meta.get("score"), line, f"{where}.metadata.score"))
            hidden.append(dict(meta))
        raw_id = row.get("id", metadata.get("task_id", index))
        return self._item(
            row_id=raw_id,
            prompt=prompt,
            texts=texts,
            scores=scores,
            hidden_candidates=hidden,
            task_fields=metadata,
            task_path="query.metadata",
            extra={},
            line=line,
        )

    def _simple(self, row: dict, line: int, index: int) -> Item:
        f = self.fields
        prompt = self._text(self.field(row, f.prompt, line, required=True), line, f.prompt)
        candidates = self._container(
            self.field(row, f.candidates, line, required=True), line, f.candidates
        )
        if not isinstance(candidates, list):
            raise self.error(
                f"expected a list, got {type(candidates).__name__}", line, f.candidates
            )
        if not candidates:
            raise self.error("empty candidate list", line, f.candidates)
        texts, hidden = [], []
        label_scores: list[float | None] = []
        for i, cand in enumerate(candidates):
            where = f"{f.candidates}[{i}]"
            if isinstance(cand, dict):
                value = cand.get("text", cand.get("content"))
                texts.append(self._text(value, line, f"{where}.text"))
                label_scores.append(self._score(cand.get("score"), line, f"{where}.score"))
                hidden.append({k: v for k, v in cand.items() if k not in ("text", "content")})
            else:
                texts.append(self._text(cand, line, where))
                label_scores.append(None)
                hidden.append({})
        scores_value = self._container(self.field(row, f.scores, line), line, f.scores)
        if scores_value is not _ABSENT and scores_value is not None:
            if not isinstance(scores_value, list) or len(scores_value) != len(texts):
                raise self.error(
                    f"expected a list of {len(texts)} numbers (one per candidate)", line, f.scores
                )
            label_scores = [
                self._score(s, line, f"{f.scores}[{i}]") for i, s in enumerate(scores_value)
            ]
        task = self._container(self.field(row, f.task, line), line, f.task)
        task = {} if task is _ABSENT else task
        if not isinstance(task, dict):
            raise self.error("expected an object", line, f.task)
        # Resources named by their own field paths win over the task's.
        resource_paths: dict[str, str] = {}
        for name, path in (("tests", f.tests), ("inputs", f.inputs)):
            value = _ABSENT if path is None else self.field(row, path, line)
            if path is not None and value is not _ABSENT:
                # tests may be one string: only text that reads as a list is one
                strict = name != "tests"
                task = {**task, name: self._container(value, line, path, strict=strict)}
                resource_paths[name] = path
        raw_id = self.field(row, f.id, line)
        top = {f.prompt, f.candidates, f.id, f.scores, f.task, *resource_paths.values()}
        extra = {k: v for k, v in row.items() if k not in top}
        return self._item(
            row_id=index if raw_id is _ABSENT else raw_id,
            prompt=prompt,
            texts=texts,
            scores=label_scores,
            hidden_candidates=hidden,
            task_fields=task,
            task_path=f.task,
            resource_paths=resource_paths,
            extra=extra,
            line=line,
        )

    def _item(
        self,
        *,
        row_id: Any,
        prompt: str,
        texts: list[str],
        scores: list,
        hidden_candidates: list[dict],
        task_fields: dict,
        task_path: str,
        extra: dict,
        line: int,
        resource_paths: dict[str, str] | None = None,
    ) -> Item:
        if isinstance(row_id, bool) or not isinstance(row_id, str | int):
            raise self.error("expected a string or an integer", line, "id")
        kind = self.task_kind or task_fields.get("kind")
        if kind is not None and kind not in TASK_KINDS:
            raise self.error(
                f"unknown task kind {kind!r} (choose from {', '.join(TASK_KINDS)})",
                line,
                "task.kind",
            )
        # The allowlist: only named resources, and fields the caller explicitly exposed.
        resources = {k: v for k, v in task_fields.items() if k in VISIBLE_RESOURCES}
        gold = {
            k: v
            for k, v in {**task_fields, **extra}.items()
            if k not in VISIBLE_RESOURCES and k not in ("kind", "task_id")
        }
        exposed = []
        for name in self.expose:
            if name in gold:
                resources[name] = gold[name]
                exposed.append(name)
        for name, value in resources.items():
            problem = resource_problem(name, value)
            if problem is not None:
                top = name in extra and name not in VISIBLE_RESOURCES  # exposed from the row
                where = (resource_paths or {}).get(name)
                where = where or (name if top else f"{task_path}.{name}")
                raise self.error(problem[1], line, where + problem[0])
        labels = Labels(scores=tuple(scores), gold=gold, candidates=tuple(hidden_candidates))
        return Item(
            id=str(row_id),
            prompt=prompt,
            candidates=tuple(Candidate(t) for t in texts),
            task=Task(kind=kind, resources=resources),
            labels=labels,
            source=self.file,
            line=line,
            exposed=tuple(exposed),
        )

    def field(self, row: dict, path: str, line: int, *, required: bool = False) -> Any:
        """The value at ``path`` (:func:`~rerank.fieldpaths.get_path`); :data:`_ABSENT`, or
        when ``required`` a ``missing`` error, if it is not there."""
        try:
            return get_path(row, path)
        except KeyError:
            if required:
                raise self.error("missing", line, path) from None
            return _ABSENT
        except FieldPathError as exc:
            raise self.error(str(exc), line, path) from None

    def _container(self, value: Any, line: int, field: str, *, strict: bool = True) -> Any:
        """Text holding a list or an object (a CSV cell: JSON, or a Python literal as pandas
        writes it) read as one; any other value as it is. Not ``strict``: text that does
        not read stays text."""
        if not (isinstance(value, str) and value.lstrip().startswith(("[", "{"))):
            return value
        try:
            return parse_container(value)
        except CellError as exc:
            if not strict:
                return value
            raise self.error(str(exc), line, field) from None

    def _text(self, value: Any, line: int, field: str) -> str:
        if value is None:
            raise self.error("missing", line, field)
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {type(value).__name__}", line, field)
        return value

    def _score(self, value: Any, line: int, field: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.error(f"expected a number, got {value!r}", line, field)
        return float(value)

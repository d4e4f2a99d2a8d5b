"""Readers: candidate files in, :class:`~rerank.items.Item` out, one row at a time.

Three shapes are understood, and detected from the first row of a file:

- JETTS: ``{"query": {"content", "metadata"}, "responses": [{"content", "metadata": {"score"}}]}``
- simple: ``{"id", "prompt", "candidates": [str | {"text", ...}], "task": {...}, "scores": [...]}``
- columns: any table ``datasets`` can load (json, jsonl, parquet, csv, or a hub dataset name),
  read with ``prompt_field`` / ``candidates_field`` (dotted paths reach nested fields).

JSON lines files (optionally gzipped) and CSV files are parsed here line by line so that an
error can name its line; other files stream through ``datasets``. Either way memory stays
flat in the number of rows: even the duplicate-id check, which must remember every id of
the file, keeps them in a temporary on-disk index (:class:`_SeenIds`) rather than in a set.
A malformed row raises :class:`~rerank.errors.InputError`, or, when an ``on_invalid``
callback is given, is handed to it and skipped. A file that cannot be read on (missing, not
gzip, cut short) raises ``InputError`` whatever the callback, once the rows before the break
were yielded.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import sqlite3
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank.errors import InputError, OutputError
from rerank.items import (
    TASK_KINDS,
    VISIBLE_RESOURCES,
    Candidate,
    Item,
    Labels,
    Task,
    resource_problem,
)

__all__ = ["FORMATS", "Fields", "csv_rows", "detect_format", "jsonl_rows", "read_items"]

FORMATS: tuple[str, ...] = ("auto", "jetts", "simple", "columns")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json.gz", ".ndjson.gz")
_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_DATASET_LOADERS = {
    ".parquet": "parquet",
    ".json": "json",
    ".arrow": "arrow",
}


@dataclass(frozen=True)
class Fields:
    """Where the parts of a row live in the simple and columns formats (dotted paths)."""

    prompt: str = "prompt"
    candidates: str = "candidates"
    id: str = "id"
    scores: str = "scores"
    task: str = "task"


OnInvalid = Callable[[InputError], None]


def read_items(
    source: str | Path,
    *,
    format: str = "auto",
    fields: Fields = Fields(),
    expose: Iterable[str] = (),
    task_kind: str | None = None,
    on_invalid: OnInvalid | None = None,
    split: str = "train",
) -> Iterator[Item]:
    """Yield the items of one file (or hub dataset), validating each row.

    ``expose`` names hidden fields (such as ``reference``) that the caller grants to the
    judge; ``task_kind`` overrides every row's task kind.
    """
    name = str(source)
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})", file=name)
    if task_kind is not None and task_kind not in TASK_KINDS:
        raise InputError(
            f"unknown task kind {task_kind!r} (choose from {', '.join(TASK_KINDS)})", file=name
        )
    rows = _rows(name)
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


# --- sources -------------------------------------------------------------------------------


def _rows(name: str) -> Iterator[tuple[int, dict | InputError]]:
    path = Path(name)
    lower = name.lower()
    if path.exists():
        if lower.endswith(_JSONL_SUFFIXES) or (
            lower.endswith(".json") and not _is_json_array(path)
        ):
            return jsonl_rows(path)
        delimiter = next((v for k, v in _CSV_DELIMITERS.items() if lower.endswith(k)), None)
        if delimiter is not None:
            return csv_rows(path, delimiter=delimiter)
        loader = next((v for k, v in _DATASET_LOADERS.items() if lower.endswith(k)), None)
        if loader is None:
            return jsonl_rows(path)  # unknown suffix: JSON lines is our native format
        return _dataset_rows(name, loader=loader)
    if "/" in name and not name.startswith((".", "/")) and path.suffix == "":
        return _dataset_rows(name, loader=None)
    raise InputError("no such file (and not a hub dataset name such as org/name)", file=name)


def _is_json_array(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"[")


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict | InputError]]:
    """``(line, object)`` for each non-blank line of a JSON lines file (plain or ``.gz``),
    or ``(line, InputError)`` for a line that is not UTF-8, not JSON or not an object.

    A file that cannot be read on (not gzip, cut short, a read error) raises
    :class:`~rerank.errors.InputError` after the lines before the break were yielded.
    """
    name = str(path)
    number = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                if raw.strip():
                    yield number, _json_line(raw, name, number)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(name, number, exc) from None


def _json_line(raw: bytes, name: str, number: int) -> dict | InputError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(f"invalid UTF-8 at byte {exc.start}", file=name, line=number)
    try:
        row = _parse_json(text)
    except ValueError as exc:
        return InputError(str(exc), file=name, line=number)
    if not isinstance(row, dict):
        return InputError(
            f"expected a JSON object, got {type(row).__name__}", file=name, line=number
        )
    return row


def _parse_json(text: str) -> Any:
    """``json.loads``, with every way it can fail as a ``ValueError`` saying why in a line:
    invalid JSON, nesting too deep to parse, an integer too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply to read") from None
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) for integer ..."
        limit = sys.get_int_max_str_digits()
        raise ValueError(
            f"invalid JSON: an integer of more than {limit} digits (Python's limit on "
            "converting them; the environment variable PYTHONINTMAXSTRDIGITS raises it)"
            if "digits" in str(exc)
            else f"invalid JSON: {exc}"
        ) from None


def _unreadable(name: str, reached: int, exc: BaseException) -> InputError:
    """The error for a file that cannot be read on after line ``reached`` (0: at all)."""
    if isinstance(exc, EOFError):
        why = "the file is cut short (its gzip data ends early)"
    elif isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
        why = "not a gzip file, although its name ends in .gz"
    elif isinstance(exc, gzip.BadGzipFile | zlib.error):
        why = f"the gzip data is corrupt ({exc})"
    else:
        why = f"cannot be read: {getattr(exc, 'strerror', None) or exc}"
    if reached == 0:
        return InputError(why, file=name)
    message = f"reading stopped here: {why}; the {reached} lines before were read"
    return InputError(message, file=name, line=reached + 1)


def csv_rows(path: Path, *, delimiter: str = ",") -> Iterator[tuple[int, dict | InputError]]:
    """``(line, row)`` for each data row of a CSV file, ``line`` being the file line the row
    starts on: the header is line 1, and a quoted cell may span lines. Cells are strings (a
    JSON list in one is parsed later); an empty cell is an absent field."""
    name = str(path)
    # A cell may hold a long response; the default limit of 128 KiB would refuse it.
    csv.field_size_limit(2**31 - 1)
    reached = 0
    try:
        with open(path, "rb") as f:
            # Undecodable bytes are kept as surrogates, so that one bad cell fails its row.
            lines = (raw.decode("utf-8", "surrogateescape") for raw in f)
            reader = csv.reader(lines, delimiter=delimiter)
            header = next(reader, [])
            if header:
                header[0] = header[0].removeprefix("\ufeff")  # a byte order mark
            reached = reader.line_num
            for cells in reader:
                line, reached = reached + 1, reader.line_num
                if any(cells):
                    yield line, _csv_row(header, cells, name, line)
    except csv.Error as exc:
        message = f"not valid CSV: {exc} (reading stopped in the row starting here)"
        raise InputError(message, file=name, line=reached + 1) from None
    except OSError as exc:
        raise _unreadable(name, reached, exc) from None


def _csv_row(header: list[str], cells: list[str], name: str, line: int) -> dict | InputError:
    if len(cells) > len(header):
        message = f"{len(cells)} cells, but the header names {len(header)} columns"
        return InputError(message, file=name, line=line)
    row = {}
    for column, cell in zip(header, cells, strict=False):
        try:
            cell.encode("utf-8")
        except UnicodeEncodeError:
            return InputError("invalid UTF-8", file=name, line=line, field=column)
        if cell != "":
            row[column] = cell
    return row


def _dataset_rows(name: str, *, loader: str | None) -> Iterator[tuple[int, dict | InputError]]:
    import datasets  # imported here: it takes a second, and JSON lines files never need it

    datasets.disable_progress_bars()
    try:
        if loader is None:
            ds = datasets.load_dataset(name, split="train", streaming=True)
        else:
            ds = datasets.load_dataset(loader, data_files=name, split="train", streaming=True)
        # Row numbers count data rows from 1 (a CSV header is not a row).
        yield from enumerate(iter(ds), start=1)
    except InputError:
        raise
    except Exception as exc:  # datasets raises many types; all mean "cannot read this"
        raise InputError(f"cannot be read with datasets: {exc}", file=name) from exc


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


def _get(row: Any, path: str) -> Any:
    """Follow a dotted path; a missing step raises KeyError naming the whole path."""
    value = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


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
        try:
            prompt_value = _get(row, f.prompt)
        except KeyError:
            raise self.error("missing", line, f.prompt) from None
        prompt = self._text(prompt_value, line, f.prompt)
        try:
            candidates = _get(row, f.candidates)
        except KeyError:
            raise self.error("missing", line, f.candidates) from None
        candidates = self._json_cell(candidates, line, f.candidates)
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
        try:
            scores_value = _get(row, f.scores)
        except KeyError:
            scores_value = None
        scores_value = self._json_cell(scores_value, line, f.scores)
        if scores_value is not None:
            if not isinstance(scores_value, list) or len(scores_value) != len(texts):
                raise self.error(
                    f"expected a list of {len(texts)} numbers (one per candidate)", line, f.scores
                )
            label_scores = [
                self._score(s, line, f"{f.scores}[{i}]") for i, s in enumerate(scores_value)
            ]
        try:
            task = _get(row, f.task)
        except KeyError:
            task = {}
        if not isinstance(task, dict):
            raise self.error("expected an object", line, f.task)
        try:
            raw_id = _get(row, f.id)
        except KeyError:
            raw_id = index
        top = {f.prompt, f.candidates, f.id, f.scores, f.task}
        extra = {k: v for k, v in row.items() if k not in top}
        return self._item(
            row_id=raw_id,
            prompt=prompt,
            texts=texts,
            scores=label_scores,
            hidden_candidates=hidden,
            task_fields=task,
            task_path=f.task,
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
                where = name if top else f"{task_path}.{name}"
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

    def _json_cell(self, value: Any, line: int, field: str) -> Any:
        """A string holding a JSON list (a CSV cell) parsed; any other value as it is."""
        if not (isinstance(value, str) and value.lstrip().startswith("[")):
            return value
        try:
            return _parse_json(value)
        except ValueError as exc:
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

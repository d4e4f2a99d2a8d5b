"""Sources: a file, a folder or a hub dataset in, numbered rows out, one at a time.

- JSON lines (plain or gzipped) and CSV/TSV files are parsed here, line by line, so that
  an error can name the file's line; a row that cannot be read is yielded as an
  :class:`~rerank.errors.InputError` in its place, for the reader to report or skip.
- parquet, JSON arrays and arrow files stream through ``datasets``; rows are numbered
  from 1.
- a folder written by ``datasets``' ``save_to_disk`` is read with ``load_from_disk``
  (memory-mapped, not loaded): a Dataset, or one split of a DatasetDict, named as
  ``folder::test`` (or with ``split``), else its only one; rows are numbered from 1.
- ``org/name`` (no such file) is a hub dataset, streamed (``org/name::test`` for a split).

A source that cannot be read on (missing, not gzip, cut short, not a dataset folder)
raises ``InputError`` once the rows before the break were yielded.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rerank.cells import CellError, parse_json
from rerank.errors import InputError

__all__ = ["csv_rows", "is_dataset_folder", "jsonl_rows", "source_rows"]

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json.gz", ".ndjson.gz")
_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_DATASET_LOADERS = {
    ".parquet": "parquet",
    ".json": "json",
    ".arrow": "arrow",
}


def source_rows(name: str, split: str | None = None) -> Iterator[tuple[int, dict | InputError]]:
    """``(row number, row)`` for each row of a file, ``save_to_disk`` folder or hub dataset,
    or ``(row number, InputError)`` for a row that cannot be read (see the module's notes).

    ``split`` picks the split of a DatasetDict folder or a hub dataset, as ``name::split``
    does; without either, a folder's only split and a hub dataset's ``train``."""
    location, split = _split_suffix(name, split)
    path = Path(location)
    lower = location.lower()
    if path.is_dir():
        return _folder_rows(name, path, split)
    if path.exists() and split is not None and location != name:
        raise InputError("a split (::name) is for a dataset folder or a hub dataset", file=name)
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
    if "/" in location and not location.startswith((".", "/")) and path.suffix == "":
        return _dataset_rows(name, loader=None, hub=location, split=split or "train")
    raise InputError("no such file (and not a hub dataset name such as org/name)", file=name)


def _split_suffix(name: str, split: str | None) -> tuple[str, str | None]:
    """``(location, split)`` of a source: ``folder::test`` names the split ``test``."""
    if "::" not in name or Path(name).exists():
        return name, split
    location, _, named = name.rpartition("::")
    if not named:
        raise InputError("no split named after '::'", file=name)
    if split is not None and split != named:
        raise InputError(f"two splits: {named!r} after '::', and {split!r}", file=name)
    return location, named


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
        row = parse_json(text)
    except CellError as exc:
        return InputError(str(exc), file=name, line=number)
    if not isinstance(row, dict):
        return InputError(
            f"expected a JSON object, got {type(row).__name__}", file=name, line=number
        )
    return row


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
    list or an object in one, as JSON or a Python literal, is read later); an empty cell is
    an absent field."""
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


def _datasets() -> Any:
    import datasets  # imported here: it takes a second, and JSON lines files never need it

    datasets.disable_progress_bars()
    return datasets


def _dataset_rows(
    name: str, *, loader: str | None, hub: str = "", split: str = "train"
) -> Iterator[tuple[int, dict | InputError]]:
    datasets = _datasets()
    try:
        if loader is None:
            ds = datasets.load_dataset(hub, split=split, streaming=True)
        else:
            ds = datasets.load_dataset(loader, data_files=name, split="train", streaming=True)
        # Row numbers count data rows from 1 (a CSV header is not a row).
        yield from enumerate(iter(ds), start=1)
    except Exception as exc:  # datasets raises many types; all mean "cannot read this"
        raise InputError(f"cannot be read with datasets: {exc}", file=name) from exc


#: What ``save_to_disk`` writes into a folder: a Dataset's state, a DatasetDict's splits.
_SAVED_MARKERS = ("state.json", "dataset_dict.json")


def _folder_rows(
    name: str, folder: Path, split: str | None
) -> Iterator[tuple[int, dict | InputError]]:
    """Rows of a folder written by ``save_to_disk``: its Dataset, or one split of its
    DatasetDict (``split``, else the only one). Arrow files are memory-mapped, not loaded."""
    if not _is_saved(folder):
        raise InputError(
            "a folder, but not one written by datasets' save_to_disk (no state.json or "
            "dataset_dict.json in it): name a file in it instead",
            file=name,
        )
    datasets = _datasets()
    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as exc:  # a broken or foreign folder; all mean "cannot read this"
        raise InputError(f"cannot be read with datasets.load_from_disk: {exc}", file=name) from exc
    if isinstance(loaded, datasets.DatasetDict):
        loaded = loaded[_pick_split(name, list(loaded), split)]
    elif split is not None:
        raise InputError(
            f"a Dataset folder, which has no splits: drop the split {split!r}", file=name
        )
    try:
        yield from enumerate(loaded, start=1)
    except Exception as exc:
        raise InputError(f"cannot be read with datasets: {exc}", file=name) from exc


def is_dataset_folder(name: str | Path) -> bool:
    """Whether ``name`` is a folder written by ``save_to_disk``, or ``folder::split`` of
    one: a table to read whole, not a folder of files.

    >>> is_dataset_folder("/no/such/folder::train")
    False
    """
    location = str(name)
    if "::" in location and not Path(location).exists():
        location = location.rpartition("::")[0]
    return _is_saved(Path(location))


def _is_saved(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in _SAVED_MARKERS)


def _pick_split(name: str, splits: list[str], split: str | None) -> str:
    listing = ", ".join(splits)
    if split is None:
        if len(splits) == 1:
            return splits[0]
        message = f"a DatasetDict with the splits {listing}: name one, as {name}::{splits[0]}"
        raise InputError(message, file=name)
    if split not in splits:
        raise InputError(f"no split {split!r} (the splits are {listing})", file=name)
    return split

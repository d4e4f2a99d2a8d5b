"""The data of a ``rerank view`` page: selection, trace and input rows, checked and joined.

Three files feed a page, joined by ``(file, id)`` as ``rerank select`` keys its rows:

- the selections (``--out`` rows): one per item, the set of items the page shows;
- the trace (``--trace`` rows, optional): every match and verdict, and each candidate's
  evidence;
- the input (the candidate file, optional): the prompt, the candidate texts and the labels.
  By default the files the selections name, where they still exist.

Every row is checked for the fields the page reads, so that a wrong file is reported as
one line naming the file, the line and the field (:class:`~rerank.errors.InputError`),
never as a broken page. The result, :class:`ViewData`, keeps what the index shows apart
from what an item's detail shows: the page parses the index at load time and an item's
detail only when it is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rerank.errors import InputError
from rerank.items import Item
from rerank.readers import jsonl_rows, read_items

__all__ = ["ViewData", "build_view"]

#: Makes the error of the row at hand from a message and a field.
Bad = Callable[[str, str], InputError]

#: Output row fields that count what an item cost or how it went (numbers when present).
_COUNTS = (
    "comparisons",
    "judge_calls",
    "prompt_tokens",
    "completion_tokens",
    "ties",
    "invalid",
    "flagged_verdicts",
    "elapsed",
)


@dataclass
class ViewData:
    """What a page shows: ``index`` (one small dict per item, in selection order),
    ``details`` (one dict per item, rendered when opened) and ``meta`` (the run)."""

    index: list[dict[str, Any]] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def build_view(
    selections: str | Path,
    *,
    trace: str | Path | None = None,
    inputs: Iterable[str | Path] | None = None,
) -> ViewData:
    """Read and join the rows of one run. ``inputs=None`` reads the candidate files the
    selections name (those that exist); ``inputs=()`` reads none."""
    sel_name = str(selections)
    rows = list(_selection_rows(sel_name))
    if not rows:
        raise InputError(
            "no selection rows (is this the --out file of rerank select?)", file=sel_name
        )
    keys: dict[tuple[str, str], int] = {}
    for position, (line, row) in enumerate(rows):
        key = (row.get("file") or "", _id(row))
        if key in keys:
            first = rows[keys[key]][0]
            raise InputError(
                f"duplicate id {key[1]!r} (first on line {first})",
                file=sel_name,
                line=line,
                field="id",
            )
        keys[key] = position
    notes: list[str] = []
    traces = _join_traces(str(trace), rows, keys, notes) if trace is not None else {}
    named = sorted({row["file"] for _, row in rows if isinstance(row.get("file"), str)})
    explicit = inputs is not None
    if inputs is None:
        missing = [f for f in named if not Path(f).is_file()]
        if missing:
            notes.append(
                f"no prompts or candidate texts for the items of {', '.join(missing)}: "
                "not found (pass --input)"
            )
        inputs = [f for f in named if f not in missing]
    found = _join_inputs([str(p) for p in inputs], rows, named, notes, explicit=explicit)
    view = ViewData()
    for position, (line, row) in enumerate(rows):
        entry, detail = _item(position, line, row, traces.get(position), found.get(position))
        view.index.append(entry)
        view.details.append(detail)
    view.meta = {
        "selections": sel_name,
        "trace": str(trace) if trace is not None else None,
        "inputs": [str(p) for p in inputs],
        "items": len(rows),
        "strategies": sorted({str(r.get("strategy")) for _, r in rows if r.get("strategy")}),
        "judges": sorted({str(r.get("judge")) for _, r in rows if r.get("judge")}),
        "labels": any(e["pick"] is not None for e in view.index),
        "notes": notes,
    }
    return view


# --- selection rows --------------------------------------------------------------------------


def _selection_rows(name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, row, bad in _json_rows(name):
        if "selected" not in row and "matches" in row:
            raise bad(
                "missing (this looks like a trace row: pass the --out file of rerank select)",
                "selected",
            )
        _check_id(row, bad)
        n = _need_int(row, "n", bad, low=1)
        selected = _need_int(row, "selected", bad, low=0)
        if selected >= n:
            raise bad(f"candidate {selected} out of range (the item has n={n})", "selected")
        for name_ in _COUNTS:
            value = row.get(name_)
            if value is not None and not _number(value):
                raise bad(f"expected a number, got {type(value).__name__}", name_)
        for name_ in ("ranking", "scores"):
            value = row.get(name_)
            if value is not None and not (isinstance(value, list) and len(value) <= n):
                raise bad(f"expected a list of at most {n} entries or null", name_)
        for name_ in ("file", "strategy", "judge", "task_kind"):
            value = row.get(name_)
            if value is not None and not isinstance(value, str):
                raise bad(f"expected a string, got {type(value).__name__}", name_)
        yield line, row


def _json_rows(name: str) -> Iterator[tuple[int, dict[str, Any], Bad]]:
    """Each row of a JSON lines file with its line and the maker of its errors."""
    if not Path(name).is_file():
        raise InputError("no such file", file=name)
    for line, row in jsonl_rows(Path(name)):
        if isinstance(row, InputError):
            raise row

        def bad(message: str, where: str, line: int = line) -> InputError:
            return InputError(message, file=name, line=line, field=where)

        yield line, row, bad


def _check_id(row: dict[str, Any], bad: Bad) -> None:
    value = row.get("id")
    if value is None:
        raise bad("missing", "id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(f"expected a string or an integer, got {type(value).__name__}", "id")


def _id(row: dict[str, Any]) -> str:
    return str(row["id"])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _need_int(row: dict[str, Any], name: str, bad: Bad, *, low: int) -> int:
    value = row.get(name)
    if value is None:
        raise bad("missing", name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise bad(f"expected an integer of at least {low}, got {value!r}", name)
    return value


# --- trace rows ------------------------------------------------------------------------------


def _join_traces(
    name: str, rows: list[tuple[int, dict]], keys: dict[tuple[str, str], int], notes: list[str]
) -> dict[int, dict[str, Any]]:
    """Trace rows by the position of their selection row; rows of unselected items are
    counted in a note (a run stopped between an item's trace row and its output row)."""
    found: dict[int, dict[str, Any]] = {}
    orphans = 0
    for _, row, bad in _json_rows(name):
        if "matches" not in row and "selected" in row:
            raise bad("missing (this looks like an output row: pass the --trace file)", "matches")
        _check_id(row, bad)
        position = keys.get((row.get("file") or "", _id(row)))
        if position is None:
            orphans += 1
            continue
        _check_trace(row, rows[position][1]["n"], bad)
        found[position] = row
    if orphans:
        notes.append(f"{orphans} trace rows of {name} have no selection row (ignored)")
    if len(found) < len(rows):
        notes.append(f"{len(rows) - len(found)} items have no trace row in {name}")
    return found


def _check_trace(row: dict[str, Any], n: int, bad: Bad) -> None:
    """The fields the page reads, with candidate indexes inside ``range(n)``."""

    def index(value: Any, where: str, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise bad(f"expected a candidate index in 0..{n - 1}, got {value!r}", where)

    def listed(value: Any, where: str, *, optional: bool = True) -> list:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise bad(f"expected a list, got {type(value).__name__}", where)
        return value

    for i, k in enumerate(listed(row.get("order"), "order")):
        index(k, f"order[{i}]")
    for m, match in enumerate(listed(row.get("matches"), "matches", optional=False)):
        where = f"matches[{m}]"
        if not isinstance(match, dict):
            raise bad(f"expected an object, got {type(match).__name__}", where)
        index(match.get("a"), f"{where}.a")
        index(match.get("b"), f"{where}.b")
        index(match.get("winner"), f"{where}.winner", optional=True)
        for v, verdict in enumerate(listed(match.get("verdicts"), f"{where}.verdicts")):
            _check_judgement(verdict, f"{where}.verdicts[{v}]", bad)
    for s, score in enumerate(listed(row.get("scores"), "scores")):
        if score is not None:
            _check_judgement(score, f"scores[{s}]", bad)
    explanation = row.get("explanation")
    if explanation is None:
        return
    if not isinstance(explanation, dict):
        raise bad(f"expected an object, got {type(explanation).__name__}", "explanation")
    for k, evidence in enumerate(listed(explanation.get("evidence"), "explanation.evidence")):
        where = f"explanation.evidence[{k}]"
        if evidence is None:
            continue
        if not isinstance(evidence, dict):
            raise bad(f"expected an object, got {type(evidence).__name__}", where)
        for c, check in enumerate(listed(evidence.get("checks"), f"{where}.checks")):
            if not (isinstance(check, dict) and isinstance(check.get("id"), str)):
                raise bad("expected an object with a string id", f"{where}.checks[{c}]")


def _check_judgement(value: Any, where: str, bad: Bad) -> None:
    if not isinstance(value, dict):
        raise bad(f"expected an object, got {type(value).__name__}", where)
    for name in ("evidence", "flags"):
        cited = value.get(name)
        if cited is not None and not (
            isinstance(cited, list) and all(isinstance(x, str) for x in cited)
        ):
            raise bad("expected a list of strings", f"{where}.{name}")
    cost = value.get("cost")
    if cost is not None and not (isinstance(cost, dict) and all(_number(x) for x in cost.values())):
        raise bad("expected an object of numbers", f"{where}.cost")


# --- input rows ------------------------------------------------------------------------------


def _join_inputs(
    inputs: list[str],
    rows: list[tuple[int, dict]],
    named: list[str],
    notes: list[str],
    *,
    explicit: bool,
) -> dict[int, Item]:
    """Input items by the position of their selection row. A row is matched in the input
    file its ``file`` names (compared as resolved paths), else, with a single input file,
    by id alone (the run read a copy, or the same file under another name)."""
    if not inputs:
        return {}
    resolved = {str(Path(p).resolve()): p for p in inputs}
    wanted: dict[str, dict[str, int]] = {p: {} for p in inputs}
    for position, (_, row) in enumerate(rows):
        named_file = row.get("file")
        source = resolved.get(str(Path(named_file).resolve())) if named_file else None
        if source is None and len(inputs) == 1:
            source = inputs[0]
        if source is not None:
            wanted[source].setdefault(_id(row), position)
    unplaced = len(rows) - sum(len(ids) for ids in wanted.values())
    if unplaced and explicit:  # else the files not found are noted already
        notes.append(f"{unplaced} items name a file that is not among the inputs")
    found: dict[int, Item] = {}
    for path in inputs:
        ids = wanted[path]
        if not ids:
            raise InputError(
                "none of the selections comes from this file "
                f"(they name {', '.join(named) or 'no file'})",
                file=path,
            )
        for item in read_items(path):
            at = ids.get(item.id)
            if at is None:
                continue
            sel_line, row = rows[at]
            if item.n != row["n"]:
                raise InputError(
                    f"{item.n} candidates, but line {sel_line} of the selections chose among "
                    f"n={row['n']}: is this the file that run read?",
                    file=path,
                    line=item.line,
                    field="candidates",
                )
            found[at] = item
        missing = len(ids) - sum(1 for p in ids.values() if p in found)
        if missing == len(ids):
            raise InputError(
                f"none of the {len(ids)} selected ids is in this file: "
                "is it the file that run read?",
                file=path,
            )
        if missing:
            notes.append(f"{missing} selected items are not in {path}")
    return found


# --- one item --------------------------------------------------------------------------------


def _item(
    position: int, line: int, row: dict[str, Any], trace: dict[str, Any] | None, item: Item | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The index entry and the detail of one item."""
    n, selected = row["n"], row["selected"]
    labels = list(item.labels.scores) if item is not None and item.labels is not None else []
    known = [s for s in labels if s is not None]
    pick = None
    if known and labels[selected] is not None:
        # wrong: a better-labelled candidate was there to pick; none: none was correct.
        best = max(known)
        pick = "wrong" if labels[selected] < best else "right" if best > 0 else "none"
    matches = (trace or {}).get("matches") or []
    verdicts = [v for m in matches for v in m.get("verdicts") or []]
    verdicts += [s for s in (trace or {}).get("scores") or [] if s is not None]
    flagged = sum(bool(v.get("flags")) for v in verdicts)
    explanation = (trace or {}).get("explanation") or {}
    kind = (
        row.get("task_kind")
        or explanation.get("task_kind")
        or (item.task.kind if item is not None else None)
    )
    tokens = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
    entry = {
        "i": position,
        "id": _id(row),
        "kind": kind or "unknown",
        "n": n,
        "sel": selected,
        "pick": pick,
        "ties": row.get("ties") or 0,
        "invalid": row.get("invalid") or 0,
        "flagged": max(row.get("flagged_verdicts") or 0, flagged),
        "cmp": row.get("comparisons"),
        "calls": row.get("judge_calls"),
        "sec": row.get("elapsed"),
        "tok": tokens if "prompt_tokens" in row or "completion_tokens" in row else None,
    }
    detail: dict[str, Any] = {
        "id": entry["id"],
        "kind": entry["kind"],
        "selection": {k: v for k, v in row.items() if k != "text"},
        "line": line,
        "chosen_text": row.get("text"),
        "trace": trace,
        "labels": labels or None,
    }
    if item is not None:
        hidden = item.labels.candidates if item.labels is not None else ()
        detail.update(
            prompt=item.prompt,
            candidates=[c.text for c in item.candidates],
            resources=item.task.resources,
            source=f"{item.source}:{item.line}",
            generators=[_generator(h) for h in hidden] if hidden else None,
        )
    return entry, detail


def _generator(hidden: dict[str, Any]) -> str | None:
    """The model that wrote a candidate, where the input names one (for reading only)."""
    value = hidden.get("generator", hidden.get("model"))
    return value if isinstance(value, str) else None

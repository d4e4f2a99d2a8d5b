"""What ``rerank select`` writes, and how a run picks up where a killed one stopped.

One output row per item, and optionally one trace row per item with every match and its
verdicts. Rows are appended and flushed one at a time; the trace row of an item is written
before its output row, so the output file alone says which items are finished. On resume a
torn last line (a kill in the middle of a write) is cut off, trace rows of unfinished items
are dropped, and finished items are skipped: nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from rerank.errors import ConfigError, OutputError
from rerank.selector import ItemResult
from tournaments import Match, outcome_of

__all__ = [
    "RowWriter",
    "finished_rows",
    "prune_trace",
    "result_row",
    "row_key",
    "trace_row",
    "verdict_counts",
]

#: The options that must match between a run and the run it resumes.
RESUME_FIELDS = ("strategy", "strategy_options", "judge", "seed")
#: How ``decided_by`` names a verdict by its ``via``: its judge plus this suffix
#: (``llm:math:cached``); verdicts from the model or the evidence go by their judge alone.
DECIDED_BY_SUFFIX = {"cache": ":cached", "dedup": ":dedup", "own-answer": ":own-answer"}


def row_key(file: str | None, item_id: str) -> tuple[str, str]:
    return (file or "", item_id)


def _cost_totals(result: ItemResult) -> dict[str, float]:
    verdicts = [v for m in result.selection.matches for v in m.verdicts]
    verdicts += [s for s in result.scores if s is not None]
    totals: dict[str, float] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for v in verdicts:
        cost = getattr(v, "cost", None)
        if cost is not None:
            totals["calls"] += cost.calls
            totals["prompt_tokens"] += cost.prompt_tokens
            totals["completion_tokens"] += cost.completion_tokens
    return totals


def _named(verdict: Any, first: int, second: int) -> int | None:
    """The candidate a verdict names: ``first`` was shown first (None: tie or invalid)."""
    return {"a": first, "b": second}.get(outcome_of(verdict))


def verdict_counts(result: ItemResult) -> dict[str, int]:
    """How the verdicts behind one item went, for any judge; the run sums them.

    - ``decisive_verdicts`` / ``first_shown_wins``: verdicts naming a candidate, and those
      naming the one shown first (their ratio over a run is the A-rate: position bias);
    - ``both_orders_matches`` / ``swap_disagreements``: matches asked in both display
      orders, and those whose two verdicts named different candidates;
    - ``short_circuits``: verdicts the evidence decided inside a model judge (no model
      call; ``via="evidence"``);
    - ``deduplicated``: verdicts reached by cluster deduplication (no model call;
      ``via="dedup"``);
    - ``flagged_verdicts``: verdicts and scores with flags (such as citing unknown evidence).
    """
    matches = result.selection.matches
    verdicts = [v for m in matches for v in m.verdicts]
    outcomes = [outcome_of(v) for v in verdicts]
    swapped = [m for m in matches if len(m.verdicts) == 2]
    disagreements = 0
    for m in swapped:
        forward, backward = _named(m.verdicts[0], m.a, m.b), _named(m.verdicts[1], m.b, m.a)
        disagreements += None not in (forward, backward) and forward != backward
    judged = verdicts + [s for s in result.scores if s is not None]
    vias = [getattr(v, "via", None) for v in verdicts]
    return {
        "decisive_verdicts": sum(o in ("a", "b") for o in outcomes),
        "first_shown_wins": outcomes.count("a"),
        "both_orders_matches": len(swapped),
        "swap_disagreements": disagreements,
        "short_circuits": vias.count("evidence"),
        "deduplicated": vias.count("dedup"),
        "flagged_verdicts": sum(bool(getattr(v, "flags", ())) for v in judged),
    }


def _decided_by(verdict: Any) -> str:
    """The name ``decided_by`` counts a verdict under: its judge, and how it got there."""
    name = getattr(verdict, "judge", "") or "unnamed"
    return name + DECIDED_BY_SUFFIX.get(getattr(verdict, "via", None) or "", "")


def result_row(result: ItemResult) -> dict[str, Any]:
    """The output row of one item (labels never appear here, only whether they were used)."""
    sel, item = result.selection, result.item
    cost = _cost_totals(result)
    row: dict[str, Any] = {
        "id": item.id,
        "file": item.source,
        "selected": sel.winner,
        "text": item.candidates[sel.winner].text,
        "n": item.n,
        "ranking": sel.ranking,
        "scores": sel.scores,
        "strategy": result.config.name,
        "strategy_options": result.config.options(),
        "judge": result.judge_spec,
        "labels_used": result.labels_used,
        "visible_resources": sorted(item.task.resources),
        "exposed": list(item.exposed),
        "comparisons": sel.comparisons,
        "judge_calls": cost["calls"],
        "prompt_tokens": cost["prompt_tokens"],
        "completion_tokens": cost["completion_tokens"],
        "rounds": sel.rounds,
        "ties": sel.ties,
        "invalid": sel.invalid,
        **verdict_counts(result),
        "seed": result.config.seed,
        "elapsed": round(result.elapsed, 6),
    }
    decided = Counter(_decided_by(v) for m in sel.matches for v in m.verdicts)
    if decided:  # which judge reached the verdicts (evidence, local:math:own-answer, ...)
        row["decided_by"] = dict(sorted(decided.items()))
    if sel.checkpoints is not None:
        row["checkpoints"] = {str(k): v for k, v in sel.checkpoints.items()}
    if result.explanation and "task_kind" in result.explanation:
        row["task_kind"] = result.explanation["task_kind"]
    if sel.cyclic_triads is not None:
        row["cyclic_triads"] = sel.cyclic_triads
    if sel.confidence is not None:  # knockouts whose verdicts all carry a probability
        row["confidence"] = round(sel.confidence, 6)
    return row


def _match_row(match: Match) -> dict[str, Any]:
    return {
        "a": match.a,
        "b": match.b,
        "outcome": match.outcome,
        "winner": match.winner,
        "round": match.round,
        "verdicts": [v.to_dict() if hasattr(v, "to_dict") else v for v in match.verdicts],
    }


def trace_row(result: ItemResult) -> dict[str, Any]:
    """Every judgement behind one item's selection."""
    row: dict[str, Any] = {
        "id": result.item.id,
        "file": result.item.source,
        "strategy": result.config.name,
        "judge": result.judge_spec,
        "order": list(result.selection.order) if result.selection.order is not None else None,
        "matches": [_match_row(m) for m in result.selection.matches],
        "tokens": {k: v for k, v in _cost_totals(result).items() if k != "calls"},
    }
    if result.scores:
        row["scores"] = [s.to_dict() if s is not None else None for s in result.scores]
    if result.vote_keys:
        row["vote_keys"] = result.vote_keys
    if result.explanation is not None:
        row["explanation"] = result.explanation
    return row


class RowWriter:
    """Appends JSON rows to a file (or stdout for ``-``), flushing after each one.

    A failed open, write or close (a full disk, ...) raises :class:`OutputError` naming the
    file; after a failed write, closing drops what could not be written (a resume cuts the
    torn line it may leave) instead of failing a second time.
    """

    def __init__(self, path: str | None, *, append: bool) -> None:
        self.path = path
        self._own = path not in (None, "-")
        self._failed = False
        self._file: IO[str] | None
        if path is None:
            self._file = None
        elif path == "-":
            self._file = sys.stdout
        else:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # Held open for the whole run and closed in close(): a with-block cannot span it.
                self._file = open(path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise OutputError.from_os_error(path, exc) from exc

    def write(self, row: dict[str, Any]) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as exc:
            self._failed = True
            raise OutputError.from_os_error(self.path or "-", exc) from exc

    def close(self) -> None:
        if self._own and self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                if not self._failed:  # else already reported by write()
                    raise OutputError.from_os_error(self.path or "-", exc) from exc


def _cut_torn_tail(path: Path) -> bool:
    """Truncate a file after its last newline; true if a torn line was cut off."""
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return False
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = pos - step + newline + 1
                break
            pos -= step
        else:
            keep = 0
        if keep == size:
            return False
        f.truncate(keep)
        return True


def finished_rows(path: str, expect: dict[str, Any]) -> tuple[set[tuple[str, str]], bool]:
    """The keys of the items an earlier run finished, after cutting a torn last line.

    ``expect`` holds this run's :data:`RESUME_FIELDS`; a finished row made with other
    options is an error, since mixing two configurations in one file would be wrong.
    Returns the keys and whether a torn line was cut.
    """
    p = Path(path)
    if not p.exists():
        return set(), False
    torn = _cut_torn_tail(p)
    done: set[tuple[str, str]] = set()
    with open(p, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path}:{number}: cannot resume from a corrupt row ({exc.msg})"
                ) from None
            for name in RESUME_FIELDS:
                if row.get(name) != expect[name]:
                    raise ConfigError(
                        f"{path}:{number}: this file was made with {name}={row.get(name)!r}, "
                        f"not {expect[name]!r}; resume with the same options or choose "
                        "another --out"
                    )
            done.add(row_key(row.get("file"), str(row.get("id"))))
    return done, torn


def prune_trace(path: str, done: set[tuple[str, str]]) -> int:
    """Keep only trace rows of finished items (after a kill); returns how many were dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    _cut_torn_tail(p)
    tmp = p.with_name(p.name + ".resume-tmp")
    dropped = 0
    try:
        with open(p, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
            for line in src:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    dropped += 1
                    continue
                if row_key(row.get("file"), str(row.get("id"))) in done:
                    dst.write(line)
                else:
                    dropped += 1
    except OSError as exc:  # the trace itself is untouched: a rerun can try again
        tmp.unlink(missing_ok=True)
        raise OutputError.from_os_error(str(tmp), exc) from exc
    os.replace(tmp, p)
    return dropped

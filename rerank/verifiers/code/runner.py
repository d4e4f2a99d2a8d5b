"""Running candidates in the sandbox, and reading back the values they returned.

One spec is one candidate: its program and its steps (each a few operations: statements
to run, expressions to evaluate, calls of the entry point), run by
:mod:`~rerank.verifiers.code.worker` in one sandboxed process. The specs of an item go
to a :class:`~rerank.sandbox.runner.SandboxPool` together, so candidates run in
parallel.

What comes back is read as tagged JSON (:mod:`~rerank.verifiers.code.values`) and
decoded into exact builtin types; nothing is unpickled or evaluated, and a line that is
not what the worker writes is ignored. Whether a value passes is decided elsewhere
(:mod:`~rerank.verifiers.code.checks`), never in the candidate's process.

Time: each step has its own limit (the worker's timer), and the process is stopped from
outside as soon as a step's line is later than that limit plus a grace (a candidate that
swallows the timer gains nothing); each candidate has one total budget for all its
steps, across restarts. When a process dies or is stopped before its last step, that
step is charged with it and the rest resume in a new process, up to ``max_restarts``
times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from rerank.sandbox.runner import SandboxUnavailable
from rerank.verifiers.code import values as code_values
from rerank.verifiers.code.values import Opaque

__all__ = [
    "CHECKER_SOURCE",
    "IDLE_GRACE",
    "SUPPORT_FILES",
    "WORKER_SOURCE",
    "OpResult",
    "StepResult",
    "StepStatus",
    "Submitter",
    "WorkerOutcome",
    "read_lines",
    "run_specs",
]

_HERE = Path(__file__).parent
#: The worker program, sent as source to every sandboxed run of a candidate.
WORKER_SOURCE: str = (_HERE / "worker.py").read_text(encoding="utf-8")
#: The checker program (no candidate in it), see :mod:`~rerank.verifiers.code.checker`.
CHECKER_SOURCE: str = (_HERE / "checker.py").read_text(encoding="utf-8")
#: Files written beside either program: the value codec.
SUPPORT_FILES: dict[str, str] = {
    "code_values.py": (_HERE / "values.py").read_text(encoding="utf-8")
}
#: Seconds a step's line may be late (past the step's own limit) before the process is
#: stopped from outside.
IDLE_GRACE = 1.0
#: How a step ended: ``unknown`` is a step that never ran.
StepStatus = Literal["ok", "raise", "timeout", "died", "unknown"]


class Submitter(Protocol):
    """What the runner needs of a sandbox pool (``SandboxPool`` has it)."""

    def submit(
        self,
        source: str,
        stdin: str | None = None,
        files: dict[str, str] | None = None,
        *,
        wall_seconds: float | None = None,
        idle_seconds: float | None = None,
        startup_seconds: float | None = None,
        on_stdout: Callable[[bytes], bool] | None = None,
    ) -> Future: ...


@dataclass(frozen=True)
class OpResult:
    """What one operation gave: its value (decoded), the chain level used, and what it
    printed."""

    value: Any = None
    level: int = 0
    out: str = ""


@dataclass
class StepResult:
    """One step: ``status`` is ok, raise, timeout, died, or unknown (never run)."""

    status: StepStatus = "unknown"
    detail: str = "not run"
    ops: list[OpResult] = field(default_factory=list)
    at: int = 0  # the operation that raised or ran out of time
    exception: str = ""  # the exception's type name, for status raise
    seconds: float = 0.0


@dataclass
class WorkerOutcome:
    """What happened to one spec: ``load`` is ``"ok"`` or why the program did not load."""

    load: str = "ok"
    fallback: bool = False
    steps: list[StepResult] = field(default_factory=list)
    processes: int = 0
    seconds: float = 0.0
    limits: dict[str, Any] = field(default_factory=dict)  # the sandbox's, of the last run


def read_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a sandboxed program's stdout; anything else is skipped."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = code_values.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def decode_value(data: Any) -> Any:
    """A tagged value, or an opaque "unreadable" one for anything the codec refuses."""
    try:
        return code_values.decode(data)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError):
        return Opaque("unreadable", "<unreadable value>")


def run_specs(
    pool: Submitter,
    specs: list[dict[str, Any]],
    *,
    max_restarts: int = 3,
    sandbox_retries: int = 2,
    stop: Callable[[int, int, StepResult], bool] | None = None,
) -> list[WorkerOutcome]:
    """Run every spec (concurrently through ``pool``) and return one outcome per spec.

    Parameters
    ----------
    pool : the sandbox pool (anything with ``submit``).
    specs : one per candidate: ``program`` (and optionally ``fallback``),
        ``entry_point``, ``steps``, ``timeout`` (per step), ``load_timeout``, and
        ``budget``: the seconds all its steps may take in all, across restarts.
    max_restarts : bounds the resumptions after a step ended its process.
    sandbox_retries : bounds the reruns after the sandbox itself failed (a
        :class:`~rerank.sandbox.runner.SandboxError`: not the candidate's doing, so it
        costs the candidate nothing).
    stop : ``stop(i, k, step)`` is asked about each step as its line arrives; when it
        says True, spec ``i``'s process is stopped there and its later steps stay
        ``unknown`` (a label run stops at the first failure, decided here).

    Returns
    -------
    list of WorkerOutcome : in the order of ``specs``.

    Raises
    ------
    SandboxUnavailable : when the sandbox cannot run anything on this machine.
    """
    outcomes = [
        WorkerOutcome(steps=[StepResult() for _ in spec.get("steps", ())]) for spec in specs
    ]
    restarts = [0] * len(specs)
    failures = [0] * len(specs)
    pending = [(i, 0) for i in range(len(specs))]
    while pending:
        running = []
        for i, start in pending:
            left = _budget(specs[i]) - outcomes[i].seconds
            if left <= 0.05:
                _give_up(outcomes[i], start, _spent(specs[i]))
                continue
            stdin = json.dumps({**specs[i], "start": start})
            watcher = _Watcher(i, specs[i], stop) if stop is not None else None
            future = pool.submit(
                WORKER_SOURCE,
                stdin=stdin,
                files=SUPPORT_FILES,
                wall_seconds=left,
                idle_seconds=_idle(specs[i]),
                startup_seconds=float(specs[i].get("load_timeout", 5.0)) + IDLE_GRACE,
                **({"on_stdout": watcher} if watcher is not None else {}),
            )
            running.append((i, start, future))
        pending = []
        for i, start, future in running:
            try:
                result = future.result()
            except SandboxUnavailable:
                raise
            except Exception as exc:
                failures[i] += 1
                if failures[i] <= sandbox_retries:
                    pending.append((i, start))
                else:
                    _give_up(outcomes[i], start, f"not run: the sandbox failed ({exc})")
                continue
            outcomes[i].seconds += float(getattr(result, "seconds", 0.0) or 0.0)
            culprit = _apply(outcomes[i], specs[i], result, start)
            if getattr(result, "status", "") == "halted":
                _give_up(outcomes[i], start, "not run: stopped after an earlier result")
                continue
            if culprit is None or culprit + 1 >= len(outcomes[i].steps):
                continue
            restarts[i] += 1
            if restarts[i] > max_restarts:
                _give_up(outcomes[i], culprit + 1, "not run: earlier steps kept ending the process")
            elif _budget(specs[i]) - outcomes[i].seconds <= 0.05:
                _give_up(outcomes[i], culprit + 1, _spent(specs[i]))
            else:
                pending.append((i, culprit + 1))
    return outcomes


class _Watcher:
    """Reads a worker's lines as they arrive and asks ``stop`` about each step."""

    def __init__(
        self, i: int, spec: dict[str, Any], stop: Callable[[int, int, StepResult], bool]
    ) -> None:
        self.i, self.spec, self.stop = i, spec, stop
        self.pending = b""
        self.total = len(spec.get("steps", ()))

    def __call__(self, chunk: bytes) -> bool:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        for line in lines:
            for record in read_lines(line.decode("utf-8", "replace")):
                k = record.get("k")
                if type(k) is not int or not 0 <= k < self.total:
                    continue
                if self.stop(self.i, k, _step(record, self.spec, k)):
                    return True
        return False


def _budget(spec: dict[str, Any]) -> float:
    return float(spec.get("budget") or 1e9)


def _spent(spec: dict[str, Any]) -> str:
    return f"not run: the candidate's time budget ({_budget(spec):g}s for all its tests) ran out"


def _idle(spec: dict[str, Any]) -> float:
    """How long stdout may be silent once loaded: the longest step's limit, plus a grace."""
    limits = [float(spec.get("timeout", 3.0))]
    limits += [float(step["timeout"]) for step in spec.get("steps", ()) if "timeout" in step]
    return max(limits) + IDLE_GRACE


def _apply(outcome: WorkerOutcome, spec: dict[str, Any], result: Any, start: int) -> int | None:
    """Fold one process's lines into ``outcome``; the step it died in, if any."""
    outcome.processes += 1
    outcome.limits = dict(getattr(result, "limits", None) or {})
    total = len(outcome.steps)
    seen: set[int] = set()
    loaded = finished = False
    for record in read_lines(getattr(result, "stdout", "") or ""):
        if "load" in record:
            loaded = record["load"] == "ok"
            outcome.fallback = bool(record.get("fallback"))
            if not loaded:
                outcome.load = str(record.get("d") or "the program could not be loaded")[:300]
        elif record.get("done") is True:
            finished = True
        elif type(record.get("k")) is int and start <= record["k"] < total:
            k = record["k"]
            if k not in seen:  # the first line for a step counts; later ones are noise
                seen.add(k)
                outcome.steps[k] = _step(record, spec, k)
    if not loaded:
        if outcome.load == "ok":  # died before saying whether the program loaded
            outcome.load = f"loading the program failed: {_death(result, spec)[1]}"
        return None
    if finished or getattr(result, "status", "") == "halted":
        return None
    culprit = next((k for k in range(start, total) if k not in seen), None)
    if culprit is None:
        return None
    status, detail = _death(result, spec, culprit)
    outcome.steps[culprit] = StepResult(status=status, detail=detail)
    return culprit


def _step(record: dict[str, Any], spec: dict[str, Any], k: int) -> StepResult:
    ops = []
    for raw in record.get("r") or []:
        if not isinstance(raw, dict):
            break
        level = raw.get("lvl")
        ops.append(
            OpResult(
                value=decode_value(raw["v"]) if "v" in raw else None,
                level=level if type(level) is int else 0,
                out=str(raw.get("out") or "")[:4000],
            )
        )
    raw_at, raw_seconds = record.get("at"), record.get("t")
    at = raw_at if type(raw_at) is int else len(ops)
    seconds = raw_seconds if type(raw_seconds) is int or type(raw_seconds) is float else 0.0
    if record.get("timeout"):
        limit = float(spec["steps"][k].get("timeout", spec.get("timeout", 3.0)))
        detail = f"timed out after {limit:g}s"
        if record.get("group"):
            detail = "its group ran out of time"
        return StepResult("timeout", detail, ops, at)
    if "raise" in record:
        name = str(record.get("raise"))[:60]
        return StepResult("raise", str(record.get("d") or name)[:200], ops, at, name)
    return StepResult("ok", "", ops, at, seconds=float(seconds))


def _death(result: Any, spec: dict[str, Any], k: int | None = None) -> tuple[StepStatus, str]:
    """The status and detail of the step a process died in."""
    status = getattr(result, "status", "error")
    if getattr(result, "idle", False):
        limit = float(spec.get("timeout", 3.0))
        if k is not None:
            limit = float(spec["steps"][k].get("timeout", limit))
        return "timeout", f"timed out after {limit:g}s (the process was stopped)"
    if status == "timeout":
        return "timeout", f"timed out: the candidate's time budget ({_budget(spec):g}s) ran out"
    if status == "killed":
        return "died", "the process was killed (memory or CPU limit)"
    tail = (getattr(result, "stderr", "") or "").strip().splitlines()[-1:]
    if status == "error":
        code = getattr(result, "returncode", None)
        return "died", f"the process exited with code {code}" + (f": {tail[0]}" if tail else "")
    return "died", "the process exited during this step"


def _give_up(outcome: WorkerOutcome, start: int, why: str) -> None:
    for k in range(start, len(outcome.steps)):
        if outcome.steps[k].status == "unknown":
            outcome.steps[k] = StepResult("unknown", why)

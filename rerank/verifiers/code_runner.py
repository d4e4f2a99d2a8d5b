"""Running harness specs in the sandbox, and reading back what happened to each test.

One spec is one candidate: its program, its tests and its probes, run by
:mod:`rerank.verifiers.code_harness` in one sandboxed process. The specs of an item go
to a :class:`~rerank.verifiers.sandbox.SandboxPool` together, so candidates run in
parallel. When a process dies before its last test (a loop in C that no timer
interrupts, a memory blow-up, ``os._exit``), the test it was running is charged with it
and the rest resume in a new process, up to ``max_restarts`` times: one slow test costs
only itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import pickle
import secrets
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["HARNESS_SOURCE", "NotShipped", "Outcome", "Submitter", "digest", "run_specs"]

#: The harness program, sent as source to every sandboxed run.
HARNESS_SOURCE: str = Path(__file__).with_name("code_harness.py").read_text(encoding="utf-8")


class Submitter(Protocol):
    """What the runner needs of a sandbox pool (``SandboxPool`` has it)."""

    def submit(
        self, source: str, stdin: str | None = None, files: dict[str, str] | None = None
    ) -> Future: ...


@dataclass(frozen=True)
class NotShipped:
    """A recorded output that did not come back: too big, or not plain data.

    Whoever needs it recomputes it where it is needed (the harness's ``reference``).
    """

    reason: str


@dataclass
class Outcome:
    """What happened to one spec.

    ``tests`` holds ``(status, detail)`` per test (pass, fail, error, timeout, skip, or
    unknown when never run), ``records`` the ``(value, seconds)`` of record tests,
    ``probes`` a digest per probe (``None`` when never run). ``load`` is ``"ok"`` or the
    reason the program could not be loaded.
    """

    load: str = "ok"
    fallback: bool = False
    tests: list[tuple[str, str]] = field(default_factory=list)
    records: list[tuple[Any, float] | None] = field(default_factory=list)
    probes: list[str | None] = field(default_factory=list)
    processes: int = 0


def digest(text: str) -> str:
    """The probe digest of a result text, as the harness computes it."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: a pickle from a sandbox must not run code here."""

    _ALLOWED = frozenset(
        {
            ("builtins", name)
            for name in (
                "set",
                "frozenset",
                "complex",
                "bytearray",
                "range",
                "slice",
                "int",
                "float",
                "str",
                "bytes",
                "bool",
                "list",
                "tuple",
                "dict",
            )
        }
        | {("collections", name) for name in ("Counter", "OrderedDict", "defaultdict", "deque")}
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def _decode_value(text: str) -> Any:
    return _PlainUnpickler(io.BytesIO(base64.b64decode(text))).load()


def _value(record: dict[str, Any]) -> Any:
    if "big" in record:
        return NotShipped(str(record.get("why") or f"{record['big']} bytes"))
    try:
        return _decode_value(record["v"])
    except Exception as exc:  # e.g. an instance of a class defined by the program
        return NotShipped(str(exc))


def _encode(spec: dict[str, Any]) -> str:
    return base64.b64encode(pickle.dumps(spec, protocol=4)).decode("ascii")


def _records(stdout: str, nonce: str) -> list[dict[str, Any]]:
    prefix = nonce + " "
    found = []
    for line in stdout.splitlines():
        if line.startswith(prefix):
            try:
                found.append(json.loads(line[len(prefix) :]))
            except json.JSONDecodeError:
                continue
    return found


def _death_text(result: Any) -> str:
    """A probe's result text for a call that ended its process (as the harness writes)."""
    return "timeout" if getattr(result, "status", "") == "timeout" else "killed"


def _death(result: Any) -> tuple[str, str]:
    """The status and detail of the test a process died in."""
    status = getattr(result, "status", "error")
    if status == "timeout":
        return "timeout", f"timed out (the process was stopped after {result.seconds:.0f}s)"
    if status == "killed":
        return "error", "the process was killed (memory or CPU limit)"
    tail = (getattr(result, "stderr", "") or "").strip().splitlines()[-1:]
    if status == "error":
        code = getattr(result, "returncode", None)
        return "error", f"the process exited with code {code}" + (f": {tail[0]}" if tail else "")
    return "error", "the process exited during this test"


def run_specs(
    pool: Submitter, specs: list[dict[str, Any]], *, max_restarts: int = 3, sandbox_retries: int = 2
) -> list[Outcome]:
    """Run every spec (concurrently through ``pool``) and return one outcome per spec.

    A spec holds ``program`` (and optionally ``fallback``), ``tests``, ``probes``,
    ``timeout`` and whatever else :mod:`code_harness` reads. ``max_restarts`` bounds the
    resumptions after a test killed its process; ``sandbox_retries`` the reruns after the
    sandbox itself failed (a :class:`~rerank.verifiers.sandbox.SandboxError`: not the
    candidate's doing, so it costs the candidate nothing). A sandbox that cannot run
    anything here (``SandboxUnavailable``) raises.
    """
    outcomes = []
    for spec in specs:
        n_tests = len(spec.get("tests", ()))
        outcomes.append(
            Outcome(
                tests=[("unknown", "not run")] * n_tests,
                records=[None] * n_tests,
                probes=[None] * len(spec.get("probes", ())),
            )
        )
    restarts = [0] * len(specs)
    failures = [0] * len(specs)
    # Calls known to kill the process, by the tests' memo keys: a probe repeating one
    # takes that result instead of killing the next process too.
    known: list[dict[str, str]] = [{} for _ in specs]
    pending = [(i, 0) for i in range(len(specs))]
    while pending:
        running = []
        for i, start in pending:
            nonce = secrets.token_hex(8)
            stdin = _encode({**specs[i], "nonce": nonce, "start": start, "memo": known[i]})
            running.append((i, start, nonce, pool.submit(HARNESS_SOURCE, stdin=stdin)))
        pending = []
        for i, start, nonce, future in running:
            try:
                result = future.result()
            except Exception as exc:
                if type(exc).__name__ == "SandboxUnavailable":
                    raise
                failures[i] += 1
                if failures[i] <= sandbox_retries:
                    pending.append((i, start))
                else:
                    _give_up(outcomes[i], start, f"not run: the sandbox failed ({exc})")
                continue
            culprit = _apply(outcomes[i], result, nonce, start)
            if culprit is None:
                continue
            tests = specs[i].get("tests", ())
            if culprit < len(tests) and tests[culprit].get("memo"):
                known[i][tests[culprit]["memo"]] = _death_text(result)
            resumed = culprit + 1
            if resumed >= len(outcomes[i].tests) + len(outcomes[i].probes):
                continue
            restarts[i] += 1
            if restarts[i] <= max_restarts:
                pending.append((i, resumed))
            else:
                _give_up(outcomes[i], resumed, "not run: earlier tests kept killing the process")
    return outcomes


def _apply(outcome: Outcome, result: Any, nonce: str, start: int) -> int | None:
    """Fold one process's lines into ``outcome``; the test or probe it died in, if any."""
    outcome.processes += 1
    n_tests = len(outcome.tests)
    total = n_tests + len(outcome.probes)
    seen: set[int] = set()
    loaded = finished = False
    for record in _records(getattr(result, "stdout", "") or "", nonce):
        if "load" in record:
            loaded = record["load"] == "ok"
            outcome.fallback = bool(record.get("fallback"))
            if not loaded:
                outcome.load = record.get("d") or "the program could not be loaded"
        elif record.get("done"):
            finished = True
        elif isinstance(record.get("k"), int) and 0 <= record["k"] < total:
            k = record["k"]
            seen.add(k)
            if k >= n_tests:
                outcome.probes[k - n_tests] = record.get("h")
            elif "big" in record or "v" in record:
                outcome.tests[k] = ("pass", "")
                outcome.records[k] = (_value(record), float(record.get("t", 0.0)))
            else:
                outcome.tests[k] = (record.get("s", "error"), record.get("d", ""))
    if not loaded:
        if outcome.load == "ok":  # died before saying whether the program loaded
            status, detail = _death(result)
            outcome.load = f"loading the program failed: {detail}"
        return None
    if finished:
        return None
    culprit = next((k for k in range(start, total) if k not in seen), None)
    if culprit is None:
        return None
    status, detail = _death(result)
    if culprit < n_tests:
        outcome.tests[culprit] = (status, detail)
    else:
        outcome.probes[culprit - n_tests] = digest(_death_text(result))
    return culprit


def _give_up(outcome: Outcome, start: int, why: str) -> None:
    for k in range(start, len(outcome.tests)):
        if outcome.tests[k][0] == "unknown":
            outcome.tests[k] = ("unknown", why)

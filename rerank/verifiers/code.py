"""The code verifier: run each candidate on the tests the item makes visible.

For every candidate :class:`CodeVerifier` extracts the program
(:mod:`~rerank.verifiers.code_extract`), runs it in the sandbox against the visible tests
(:mod:`~rerank.verifiers.code_tests`: the prompt's examples as ``example:<k>``, the
user's ``resources["tests"]`` as ``test:<k>``) and on the item's behaviour probes, all
in one process per candidate (:mod:`~rerank.verifiers.code_harness`), the candidates of
an item in parallel (:mod:`~rerank.verifiers.code_runner`).

Its evidence per candidate: a hard ``extract`` check (fails when no program defining the
entry point could be found), one hard check per visible test, and a ``signature``, the
hash of the candidate's outputs on the probes, equal for candidates that behave the same
(the consensus of CodeT and MBR-exec). Hidden benchmark tests are labels: this module
never sees them (they are for :mod:`~rerank.verifiers.code_benchmark`, which only
benchmarks and reports use).

Evidence is cached per candidate by content (prompt, visible resources, candidate text),
in a bounded LRU, so a candidate is run once however many comparisons cite it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.verifiers.code_extract import Program, extract_program, prompt_context
from rerank.verifiers.code_runner import Outcome, Submitter, run_specs
from rerank.verifiers.code_tests import (
    Probe,
    VisibleTest,
    call_key,
    entry_point_of,
    probes,
    visible_tests,
)

if TYPE_CHECKING:
    from rerank.verifiers.sandbox import Limits

__all__ = ["CodeVerifier"]

#: Bump when the evidence for the same input would change (cache keys include it).
_VERSION = "1"
_SIGNATURE = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(", re.M)


@dataclass(frozen=True)
class _Task:
    """What every candidate of an item shares: the entry point, tests and probes."""

    entry_point: str | None
    tests: tuple[VisibleTest, ...]
    probes: tuple[Probe, ...]


class CodeVerifier:
    """Evidence for code candidates from running them on the item's visible tests.

    ``timeout`` is each test's (and probe's) own time limit in seconds; ``limits`` the
    sandbox's per-process limits; ``workers`` how many candidates run at once (the
    sandbox's default: one per core). ``pool`` replaces the sandbox pool (anything with
    ``submit(source, stdin=..., files=...)``), for tests and for sharing one pool.
    """

    name = "code"

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        load_timeout: float = 5.0,
        limits: Limits | None = None,
        workers: int | None = None,
        pool: Submitter | None = None,
        cache_size: int = 4096,
        max_restarts: int = 3,
    ) -> None:
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.limits = limits
        self.workers = workers
        self.cache_size = cache_size
        self.max_restarts = max_restarts
        self._pool = pool
        self._owned_pool: Any = None
        self._cache: OrderedDict[str, Evidence] = OrderedDict()
        self._lock = threading.Lock()

    # --- the Verifier protocol ------------------------------------------------------------

    def applies(self, item: Item) -> bool:
        """A declared code task, or (undeclared) code in the prompt or the candidates."""
        if item.task.kind is not None:
            return item.task.kind == "code"
        resources = item.task.resources
        if resources.get("tests") or resources.get("entry_point") or resources.get("inputs"):
            return True
        if _SIGNATURE.search(item.prompt) or ">>> " in item.prompt:
            return True
        coded = sum(bool(_SIGNATURE.search(c.text)) for c in item.candidates)
        return coded * 2 > item.n

    def verify(self, item: Item) -> list[Evidence]:
        """One evidence per candidate, in order; each distinct candidate runs at most once."""
        keys = [self._key(item, c.text) for c in item.candidates]
        results: dict[str, Evidence] = {}
        with self._lock:
            for key in keys:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    results[key] = self._cache[key]
        todo: dict[str, str] = {}
        for key, candidate in zip(keys, item.candidates, strict=True):
            if key not in results:
                todo.setdefault(key, candidate.text)
        if todo:
            results.update(self._compute(item.prompt, self._task(item), todo))
        with self._lock:
            for key in todo:
                self._cache[key] = results[key]
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return [results[key] for key in keys]

    # --- pool -----------------------------------------------------------------------------

    @property
    def pool(self) -> Submitter:
        """The sandbox pool, started on first use."""
        with self._lock:
            if self._pool is None:
                from rerank.verifiers.sandbox import Limits, SandboxPool

                limits = self.limits or Limits()
                self._owned_pool = SandboxPool(workers=self.workers, limits=limits)
                self._pool = self._owned_pool
            return self._pool

    def close(self) -> None:
        """Stop the pool this verifier started (a pool passed in is the caller's)."""
        with self._lock:
            if self._owned_pool is not None:
                self._owned_pool.close()
                self._owned_pool = self._pool = None

    def __enter__(self) -> CodeVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------

    def _task(self, item: Item) -> _Task:
        resources = item.task.resources
        entry_point = entry_point_of(item.prompt, resources)
        tests = visible_tests(item.prompt, resources, entry_point)
        return _Task(entry_point, tuple(tests), tuple(probes(tests, resources, entry_point)))

    def _key(self, item: Item, text: str) -> str:
        resources = item.task.resources
        visible = {k: resources.get(k) for k in ("tests", "inputs", "entry_point")}
        payload = json.dumps(
            [_VERSION, self.timeout, self.load_timeout, item.prompt, visible, text],
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()

    def _compute(self, prompt: str, task: _Task, todo: dict[str, str]) -> dict[str, Evidence]:
        done: dict[str, Evidence] = {}
        to_run: list[tuple[str, Program, str, list[str]]] = []
        for key, text in todo.items():
            program = extract_program(text, prompt=prompt, entry_point=task.entry_point)
            if isinstance(program, str):
                done[key] = _unextracted(task, program)
            elif not task.tests and not task.probes:
                done[key] = _evidence(task, program, [], None)
            else:
                prefix, supplied = prompt_context(prompt, task.entry_point, program.code)
                to_run.append((key, program, prefix, supplied))
        specs = [self._spec(task, program, prefix) for _, program, prefix, _ in to_run]
        outcomes = run_specs(self.pool, specs, max_restarts=self.max_restarts) if specs else []
        for (key, program, _, supplied), outcome in zip(to_run, outcomes, strict=True):
            done[key] = _evidence(task, program, supplied, outcome)
        return done

    def _spec(self, task: _Task, program: Program, prefix: str) -> dict[str, Any]:
        tests = []
        for test in task.tests:
            spec: dict[str, Any] = {
                "kind": "example" if test.want is not None else "code",
                "source": test.source,
                "setup": list(test.setup),
                "memo": call_key(test),
            }
            if test.want is not None:
                spec["want"] = test.want
            tests.append(spec)
        return {
            "program": prefix + program.code,
            "fallback": prefix + program.sanitized if program.sanitized else None,
            "entry_point": task.entry_point,
            "tests": tests,
            "probes": [{"source": p.source, "args": p.args} for p in task.probes],
            "timeout": self.timeout,
            "load_timeout": self.load_timeout,
        }


def _unextracted(task: _Task, reason: str) -> Evidence:
    checks = [Check("extract", "fail", hard=True, detail=reason)]
    checks += [
        Check(t.id, "error", hard=True, detail="not run: no program to run") for t in task.tests
    ]
    notes = () if task.tests else ("no visible tests",)
    return Evidence(verifier="code", checks=tuple(checks), signature=None, notes=notes)


def _evidence(
    task: _Task, program: Program, supplied: list[str], outcome: Outcome | None
) -> Evidence:
    where = (
        f"{program.method}; defines {task.entry_point}()" if task.entry_point else program.method
    )
    checks = [Check("extract", "pass", hard=True, detail=where)]
    notes: list[str] = []
    if not task.tests:
        notes.append("no visible tests")
    if not task.entry_point:
        notes.append("no entry point: no behaviour probes")
    elif not task.probes:
        notes.append("no inputs for behaviour clustering")
    if supplied:
        notes.append("ran with the prompt's " + ", ".join(supplied))
    signature = None
    if outcome is not None:
        if outcome.fallback:
            notes.append("the response as written failed to load; ran its definitions only")
        for test, (status, detail) in zip(task.tests, outcome.tests, strict=True):
            if outcome.load != "ok":
                status, detail = "error", outcome.load
            elif status in ("error", "timeout") and detail:
                detail = f"{_clip(test.source)}: {detail}"
            checks.append(
                Check(test.id, status if status != "skip" else "unknown", hard=True, detail=detail)
            )
        if outcome.load == "ok" and task.probes and None not in outcome.probes:
            joined = "|".join(str(d) for d in outcome.probes)
            signature = "code:" + hashlib.sha256(joined.encode()).hexdigest()[:16]
        elif outcome.load != "ok":
            notes.append(outcome.load)
    return Evidence(verifier="code", checks=tuple(checks), signature=signature, notes=tuple(notes))


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

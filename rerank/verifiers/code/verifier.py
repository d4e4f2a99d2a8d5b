"""The code verifier: run each candidate on the tests the item makes visible.

For every candidate :class:`CodeVerifier` extracts the program
(:mod:`~rerank.verifiers.code.extract`), runs it in the sandbox on the visible tests
(:mod:`~rerank.verifiers.code.tests`: the prompt's examples as ``example:<k>``, the
user's ``resources["tests"]`` as ``test:<k>``) and on the item's behaviour probes, all
in one process per candidate (:mod:`~rerank.verifiers.code.worker`), the candidates of
an item in parallel (:mod:`~rerank.verifiers.code.runner`).

The candidate's process only computes values; whether they pass is decided outside it
(:mod:`~rerank.verifiers.code.checks`): in this process for a comparison with a literal,
else by a sandboxed checker with no candidate in it. The only way to pass a check is for
the candidate's code to return the expected value for that input.

Its evidence per candidate: a hard ``extract`` check (fails when no program defining the
entry point could be found), one hard check per visible test, and a ``signature``, the
hash of the candidate's outputs on the probes, equal for candidates that behave the same
(the consensus of CodeT and MBR-exec). Hidden benchmark tests are labels: this module
never sees them (they are for :mod:`~rerank.labels.code`, which only
benchmarks and reports use).

Evidence is cached per candidate by content (prompt, visible resources, candidate text),
in a bounded LRU, so a candidate is run once however many comparisons cite it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from rerank.evidence import Check, Evidence, Output
from rerank.items import Item
from rerank.memo import LRU
from rerank.sandbox.runner import Limits, SandboxPool, SandboxUnavailable
from rerank.text import clip
from rerank.verifiers.code import values as code_values
from rerank.verifiers.code.checks import (
    CheckRequest,
    TestPlan,
    Verdict,
    candidate_names,
    finish,
    plan_test,
    resolve,
)
from rerank.verifiers.code.extract import Program, extract_program, prompt_context
from rerank.verifiers.code.runner import (
    CHECKER_SOURCE,
    IDLE_GRACE,
    SUPPORT_FILES,
    StepResult,
    Submitter,
    WorkerOutcome,
    decode_value,
    read_lines,
    run_specs,
)
from rerank.verifiers.code.tests import (
    Probe,
    VisibleTest,
    entry_point_of,
    probes,
    visible_tests,
)

__all__ = ["CodeVerifier"]

#: Bump when the evidence for the same input would change (cache keys include it).
_VERSION = "2"
#: A function definition: a signature in a prompt, a program in a response.
_SIGNATURE = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(", re.M)
#: The resources only code has: visible tests, the function to call, inputs to call it on.
_RESOURCES = ("tests", "entry_point", "inputs")


@dataclass(frozen=True)
class _Task:
    """What every candidate of an item shares: the entry point, tests and probes."""

    entry_point: str | None
    tests: tuple[VisibleTest, ...]
    probes: tuple[Probe, ...]


class CodeVerifier:
    """Evidence for code candidates from running them on the item's visible tests.

    A test that overruns its limit has its process stopped at once, and the rest resume
    in a new one while the candidate's budget lasts.

    Parameters
    ----------
    timeout : each test's (and probe's) own time limit, in seconds.
    load_timeout : seconds to load a candidate's program (its imports and definitions).
    total_timeout : the budget of all of a candidate's tests and probes together, in
        seconds, across restarts.
    limits : the sandbox's per-process limits (default: :class:`~rerank.sandbox.Limits`).
    workers : how many candidates run at once (default: the sandbox's, one per core).
    pool : replaces the sandbox pool: anything with ``submit(source, stdin=...,
        files=...)``, for tests and for sharing one pool.
    cache_size : how many candidates' evidence to keep (least recently used first out).
    max_restarts : how many times a candidate's process may be restarted after it died
        or was stopped before its last step.
    mutations : behaviour probes to add per item by mutating the visible example inputs
        (:mod:`~rerank.verifiers.code.probes`; 0: the item's own inputs only; the
        evidence judge asks for ``probes.MUTATIONS``). They run after the tests, within
        the same per-test limit and total budget.
    python : the interpreter candidates run on (an execution environment's,
        docs/environments.md; default: rerank's own).
    """

    name = "code"

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        load_timeout: float = 5.0,
        total_timeout: float = 15.0,
        limits: Limits | None = None,
        workers: int | None = None,
        pool: Submitter | None = None,
        cache_size: int = 4096,
        max_restarts: int = 3,
        mutations: int = 0,
        python: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.load_timeout = load_timeout
        self.total_timeout = total_timeout
        self.limits = limits
        self.workers = workers
        self.cache_size = cache_size
        self.max_restarts = max_restarts
        self.mutations = mutations
        self.python = python
        self._pool = pool
        self._owned_pool: Any = None
        self._cache: LRU[str, Evidence] = LRU(cache_size)
        self._lock = threading.Lock()  # guards the pool

    # --- the Verifier protocol ------------------------------------------------------------

    @staticmethod
    def claims_resources(item: Item) -> bool:
        """Whether the item carries code's resources: visible tests, an entry point or inputs."""
        resources = item.task.resources
        return any(resources.get(name) for name in _RESOURCES)

    @staticmethod
    def claims_content(item: Item) -> bool:
        """Whether the item reads as code: a function signature or doctest examples
        (``>>> ``) in the prompt, or a function defined in most candidates (MBPP-style
        prompts name none)."""
        if _SIGNATURE.search(item.prompt) or ">>> " in item.prompt:
            return True
        defining = sum(bool(_SIGNATURE.search(c.text)) for c in item.candidates)
        return defining * 2 > item.n

    def applies(self, item: Item) -> bool:
        """A declared code task, or (undeclared) one whose resources or content are code's."""
        if item.task.kind is not None:
            return item.task.kind == "code"
        return self.claims_resources(item) or self.claims_content(item)

    def verify(self, item: Item) -> list[Evidence]:
        """One evidence per candidate, in order; each distinct candidate runs at most once.

        Parameters
        ----------
        item : the item as a judge sees it; only its prompt, visible resources and
            candidate texts are read.

        Returns
        -------
        list of Evidence, one per candidate: the ``extract`` check, one check per visible
        test, and the behaviour signature (``None`` without probes or when a probe never ran).
        """
        keys = [self._key(item, c.text) for c in item.candidates]
        results: dict[str, Evidence] = {}
        for key in keys:
            found = self._cache.get(key)
            if found is not None:
                results[key] = found
        todo: dict[str, str] = {}
        for key, candidate in zip(keys, item.candidates, strict=True):
            if key not in results:
                todo.setdefault(key, candidate.text)
        if todo:
            results.update(self._compute(item.prompt, self._task(item), todo))
        for key in todo:
            self._cache.put(key, results[key])
        return [results[key] for key in keys]

    # --- pool -----------------------------------------------------------------------------

    @property
    def pool(self) -> Submitter:
        """The sandbox pool, started on first use."""
        with self._lock:
            if self._pool is None:
                limits = self.limits or Limits()
                self._owned_pool = SandboxPool(
                    workers=self.workers, limits=limits, python=self.python
                )
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
        found = probes(tests, resources, entry_point, mutations=self.mutations)
        return _Task(entry_point, tuple(tests), tuple(found))

    def _key(self, item: Item, text: str) -> str:
        resources = item.task.resources
        visible = {k: resources.get(k) for k in ("tests", "inputs", "entry_point")}
        payload = json.dumps(
            [
                _VERSION,
                self.timeout,
                self.load_timeout,
                self.total_timeout,
                item.prompt,
                visible,
                text,
            ],
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()

    def _compute(self, prompt: str, task: _Task, todo: dict[str, str]) -> dict[str, Evidence]:
        done: dict[str, Evidence] = {}
        to_run: list[tuple[str, Program, list[str], _Plan]] = []
        for key, text in todo.items():
            program = extract_program(text, prompt=prompt, entry_point=task.entry_point)
            if isinstance(program, str):
                done[key] = _unextracted(task, program)
            elif not task.tests and not task.probes:
                done[key] = _evidence(task, program, [], None, self._limits_note())
            else:
                prefix, supplied = prompt_context(prompt, task.entry_point, program.code)
                plan = _plan(task, prefix, program.code, program.sanitized)
                to_run.append((key, program, supplied, plan))
        specs = [self._spec(task, program, plan) for _, program, _, plan in to_run]
        outcomes = run_specs(self.pool, specs, max_restarts=self.max_restarts) if specs else []
        # Claims that are not a plain comparison go to one checker run for the whole item.
        requests: list[CheckRequest] = []
        pending = [
            [resolve(test_plan, step, requests) for test_plan, step in _pairs(plan, outcome)]
            for (_, _, _, plan), outcome in zip(to_run, outcomes, strict=True)
        ]
        answers = self._check(requests) if requests else []
        for (key, program, supplied, plan), outcome, results in zip(
            to_run, outcomes, pending, strict=True
        ):
            statuses = [
                r if isinstance(r, tuple) else finish(p, r, answers)
                for p, r in zip(plan.tests, results, strict=True)
            ]
            done[key] = _evidence(
                task, program, supplied, _Ran(outcome, statuses, plan), self._limits_note()
            )
        return done

    def _spec(self, task: _Task, program: Program, plan: _Plan) -> dict[str, Any]:
        return {
            "program": plan.program,
            "fallback": plan.fallback,
            "entry_point": task.entry_point,
            "steps": [{"ops": list(ops)} for ops in plan.steps],
            "timeout": self.timeout,
            "load_timeout": self.load_timeout,
            "budget": self.total_timeout,
        }

    def _limits_note(self) -> str:
        return (
            f"limits: {self.timeout:g}s per test, {self.total_timeout:g}s for all tests "
            f"of a candidate, {self.load_timeout:g}s to load"
        )

    def _check(self, requests: list[CheckRequest]) -> list[dict[str, Any] | None]:
        """Decide the claims that need Python, in one sandboxed process with no candidate."""
        answers: list[dict[str, Any] | None] = [None] * len(requests)
        checks = [
            {
                "expr": r.expr,
                "values": {n: code_values.encode(v, 1 << 22) for n, v in r.values.items()},
                "modules": r.modules,
            }
            for r in requests
        ]
        start = 0
        for _ in range(3):
            if start >= len(checks):
                break
            stdin = json.dumps({"checks": checks[start:], "timeout": self.timeout})
            try:
                result = self.pool.submit(
                    CHECKER_SOURCE,
                    stdin=stdin,
                    files=SUPPORT_FILES,
                    idle_seconds=self.timeout + IDLE_GRACE,
                ).result()
            except SandboxUnavailable:
                raise
            except Exception:
                continue
            seen = set()
            for record in read_lines(result.stdout):
                k = record.get("k")
                if type(k) is not int or not 0 <= k < len(checks) - start:
                    continue
                seen.add(k)
                answers[start + k] = _answer(record)
            missing = [k for k in range(len(checks) - start) if k not in seen]
            if not missing:
                break
            culprit = start + missing[0]
            answers[culprit] = {"raise": "killed", "d": "the check ended the checker's process"}
            start = culprit + 1
        return answers


@dataclass(frozen=True)
class _Plan:
    """One candidate's run: its program, the worker's steps, and where each result lands."""

    program: str
    fallback: str | None
    tests: tuple[TestPlan, ...]
    steps: tuple[tuple[dict[str, Any], ...], ...]
    probes: tuple[tuple[int, int], ...]  # per probe: (step, op)


@dataclass(frozen=True)
class _Ran:
    outcome: WorkerOutcome
    statuses: list[Verdict]
    plan: _Plan


def _plan(task: _Task, prefix: str, code: str, sanitized: str | None) -> _Plan:
    program = prefix + code
    fallback = prefix + sanitized if sanitized else None
    theirs = candidate_names(program) | candidate_names(fallback or "")
    if task.entry_point:
        theirs |= {task.entry_point}
    tests = tuple(plan_test(t.source, t.want, t.setup, theirs) for t in task.tests)
    steps = [p.ops for p in tests]
    single = {
        ops[0]["eval"][0]: k for k, ops in enumerate(steps) if len(ops) == 1 and "eval" in ops[0]
    }
    where = []
    for probe in task.probes:
        if probe.source is not None and probe.source in single:
            where.append((single[probe.source], 0))  # a test already makes this call
            continue
        if probe.source is not None:
            op: dict[str, Any] = {"eval": [probe.source]}
        else:
            op = {"call": code_values.encode(list(probe.args or ()), 1 << 20)}
        where.append((len(steps), 0))
        steps.append((op,))
    return _Plan(program, fallback, tests, tuple(steps), tuple(where))


def _pairs(plan: _Plan, outcome: WorkerOutcome) -> list[tuple[TestPlan, StepResult]]:
    if outcome.load != "ok":
        failed = StepResult("raise", outcome.load)
        return [(test, failed) for test in plan.tests]
    return list(zip(plan.tests, outcome.steps, strict=False))


def _answer(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("timeout"):
        return {"timeout": True}
    if "raise" in record:
        return {"raise": str(record["raise"])[:60], "d": str(record.get("d", ""))[:200]}
    return {"value": decode_value(record.get("v")), "out": str(record.get("out") or "")[:4000]}


def _returned(step: StepResult, op: int) -> bool:
    """Whether operation ``op`` of ``step`` returned a value."""
    finished = step.status == "ok" or (step.status != "unknown" and op < step.at)
    return finished and op < len(step.ops)


def _probe_text(step: StepResult, op: int, mutated: bool = False) -> str | None:
    """What a probe gave, as signatures compare it; ``None`` when it never ran.

    On a mutated probe every way of not returning (an exception of any type, a timeout,
    a dead process, the budget spent before it ran) is one outcome, ``crash``: an input
    the prompt never vouched for may break every program, each its own way. So an input
    that makes every candidate crash puts the same mark in every signature, as if it
    were not there, and the signature stays a function of the candidate alone.
    """
    if _returned(step, op):
        return "=" + code_values.canonical(step.ops[op].value)
    if mutated:
        return "crash"
    if step.status == "raise":
        return "raise:" + step.exception
    if step.status == "timeout":
        return "timeout"
    if step.status == "died":
        return "killed"
    return None


#: Characters of a probe's call or result kept in :attr:`Evidence.outputs`.
OUTPUT_CHARS = 300


def _output(task: _Task, probe: Probe, step: StepResult, op: int) -> Output | None:
    """A probe's call and what the candidate gave, as a person reads them (``None``:
    never run)."""
    key = _probe_text(step, op, probe.mutated)
    if key is None:
        return None
    if probe.source is not None:
        call = probe.source
    else:
        call = f"{task.entry_point}({', '.join(repr(a) for a in probe.args or ())})"
    if _returned(step, op):
        result = "returns " + clip(_shown(step.ops[op].value), OUTPUT_CHARS)
    elif step.status == "raise":
        result = f"raises {step.exception or 'an exception'}"
    elif step.status == "timeout":
        result = "does not return in time"
    else:
        result = "does not return (its process died)"
    return Output(clip(call, OUTPUT_CHARS), result, key)


def _shown(value: Any) -> str:
    """A value's repr, or what it is when it has none (an int past Python's digit limit)."""
    try:
        return repr(value)
    except ValueError:
        if isinstance(value, int):
            return f"an integer of {value.bit_length()} bits"
        return f"a {type(value).__name__} that cannot be printed"


def _unextracted(task: _Task, reason: str) -> Evidence:
    checks = [Check("extract", "fail", hard=True, detail=reason)]
    checks += [
        Check(t.id, "error", hard=True, detail="not run: no program to run") for t in task.tests
    ]
    notes = () if task.tests else ("no visible tests",)
    return Evidence(verifier="code", checks=tuple(checks), signature=None, notes=notes)


def _evidence(
    task: _Task, program: Program, supplied: list[str], ran: _Ran | None, limits: str
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
    elif mutated := sum(p.mutated for p in task.probes):
        shown = len(task.probes) - mutated
        notes.append(f"behaviour probes: {shown} from the item, {mutated} mutated from them")
    if supplied:
        notes.append("ran with the prompt's " + ", ".join(supplied))
    signature = None
    outputs: tuple[Output, ...] = ()
    if ran is not None:
        outcome = ran.outcome
        if outcome.fallback:
            notes.append("the response as written failed to load; ran its definitions only")
        for test, (status, detail) in zip(task.tests, ran.statuses, strict=True):
            if outcome.load != "ok":
                status, detail = "error", outcome.load
            elif status in ("error", "timeout") and detail:
                detail = f"{clip(test.source, 60, squash=True)}: {detail}"
            checks.append(Check(test.id, status, hard=True, detail=detail))
        if outcome.load != "ok":
            notes.append(outcome.load)
        else:
            found = [
                _output(task, probe, outcome.steps[s], op)
                for (s, op), probe in zip(ran.plan.probes, task.probes, strict=True)
            ]
            outputs = tuple(o for o in found if o is not None)
            if task.probes and len(outputs) == len(found):  # every probe ran
                joined = "|".join(_digest(o.key) for o in outputs)
                signature = "code:" + hashlib.sha256(joined.encode()).hexdigest()[:16]
        memory = outcome.limits
        if memory.get("memory_mb"):
            how = memory.get("memory_limit", "rlimit-as")
            if memory.get("memory_fallback"):
                how += f" ({memory['memory_fallback']})"
            limits += f", memory {memory['memory_mb']} MB by {how}"
        notes.append(limits)
    return Evidence(
        verifier="code",
        checks=tuple(checks),
        signature=signature,
        notes=tuple(notes),
        outputs=outputs,
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]

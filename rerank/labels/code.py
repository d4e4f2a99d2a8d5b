"""Labels from hidden tests (HumanEval+, MBPP+), computed the way evalplus computes them.

For benchmarks and reports only: this module reads the benchmark's hidden inputs and
canonical solutions, which no judge may see, and
:class:`~rerank.verifiers.code.CodeVerifier`
never imports it. It exists to check our extraction and sandbox against the truth (the
labels of the shared candidate files were made by evalplus) and to compare speed with
evalplus's own evaluator.

As evalplus does: expected outputs come from running the canonical solution on each
input (timed); a candidate passes an input when its output is equal, or, for floats, of
the same type and close (``atol`` at least 1e-6, ``rtol`` 1e-7), or passes the task's
special oracle; each input may take ``max(min_time_limit, factor * canonical time)``
seconds (1 s and 4 by default) and each of the base and plus groups at most
``min(60, sum of its limits) + 1`` seconds. A candidate scores 1 when both groups pass.
The differences: both groups run in one process (evalplus starts one per group),
candidates run in our sandbox rather than under evalplus's ``reliability_guard``, and
outputs are compared in this process, on values sent back as plain data
(:mod:`~rerank.verifiers.code.values`), as each arrives: the run stops at the first
failure (evalplus stops the group; the label is fail either way), which the candidate's
process cannot decide since it never learns what was expected. Unlike evidence checks
(where ``True`` is not ``1``), ``True == 1`` holds here, as in evalplus's ``==``: safe on
decoded values, which carry no candidate's ``__eq__``.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank.labels.evalplus import MBPP_NOT_NONE, mbpp_deserialize_inputs, oracle
from rerank.verifiers.code import values as code_values
from rerank.verifiers.code.extract import extract_program
from rerank.verifiers.code.runner import Submitter, WorkerOutcome, run_specs
from rerank.verifiers.code.values import Digest, Opaque, same_output

__all__ = [
    "Comparison",
    "Expected",
    "Label",
    "LabelRun",
    "Problem",
    "compare_with_labels",
    "expected_outputs",
    "label_candidates",
    "label_pool",
    "load_problems",
    "read_candidates",
]

MIN_TIME_LIMIT = 1.0
TIME_LIMIT_FACTOR = 4.0
GROUP_TIMEOUT = 60.0


def label_pool(workers: int | None = None) -> Any:
    """A sandbox pool with room for evalplus's limits (4 GB, up to 2 x 61 s of tests)."""
    from rerank.sandbox.runner import Limits, SandboxPool

    limits = Limits(cpu_seconds=150, wall_seconds=150, memory_mb=4096, output_bytes=64 << 20)
    return SandboxPool(workers=workers, limits=limits)


@dataclass(frozen=True)
class Problem:
    """One evalplus task: what the label computation needs of it."""

    task_id: str
    dataset: str  # humaneval | mbpp
    prompt: str
    entry_point: str
    canonical: str  # prompt + canonical solution, a runnable program
    base_input: list
    plus_input: list
    atol: float


@dataclass(frozen=True)
class Expected:
    """The canonical solution's outputs and times per input (``error`` if it failed)."""

    base: list
    base_time: list[float]
    plus: list
    plus_time: list[float]
    error: str | None = None


@dataclass(frozen=True)
class Label:
    """A candidate's verdict on the hidden tests: score 1 iff base and plus pass."""

    score: float
    base: str  # pass | fail
    plus: str
    detail: str = ""


def load_problems(path: str | Path) -> dict[str, Problem]:
    """HumanEval+ or MBPP+ tasks from an evalplus release file (``.jsonl`` or ``.jsonl.gz``)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    problems = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            task_id = row["task_id"]
            dataset = "mbpp" if task_id.lower().startswith("mbpp") else "humaneval"
            base, plus = row["base_input"], row["plus_input"]
            if dataset == "mbpp":
                base = mbpp_deserialize_inputs(task_id, base)
                plus = mbpp_deserialize_inputs(task_id, plus)
            problems[task_id] = Problem(
                task_id=task_id,
                dataset=dataset,
                prompt=row["prompt"],
                entry_point=row["entry_point"],
                canonical=row["prompt"] + row["canonical_solution"],
                base_input=base,
                plus_input=plus,
                atol=float(row.get("atol") or 0.0),
            )
    return problems


def read_candidates(path: str | Path) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """``(task_id, prompt, responses)`` per row of a JETTS candidate file, labels included."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                yield (
                    row["query"]["metadata"]["task_id"],
                    row["query"]["content"],
                    row["responses"],
                )


#: Outputs whose encoding is larger are compared by digest (exactly, no float tolerance),
#: as are all outputs once a run has sent MAX_RUN_BYTES (the label pool keeps 64 MB).
MAX_VALUE_BYTES = 1 << 20
MAX_RUN_BYTES = 32 << 20


def _call(args: list) -> dict[str, Any]:
    return {"call": code_values.encode(list(args), 1 << 30)}


def expected_outputs(problems: list[Problem], pool: Submitter) -> dict[str, Expected]:
    """Run each canonical solution on its inputs in the sandbox, one process per task."""
    specs = []
    for problem in problems:
        steps = [
            {"ops": [_call(args)], "timeout": 60.0}
            for args in [*problem.base_input, *problem.plus_input]
        ]
        specs.append(
            {
                "program": problem.canonical,
                "entry_point": problem.entry_point,
                "steps": steps,
                "load_timeout": 60.0,
                "max_value_bytes": MAX_VALUE_BYTES,
                "max_run_bytes": MAX_RUN_BYTES,
            }
        )
    found = {}
    for problem, outcome in zip(problems, run_specs(pool, specs, max_restarts=0), strict=True):
        n = len(problem.base_input)
        not_none = problem.dataset == "mbpp" and problem.entry_point in MBPP_NOT_NONE
        bad = [s.detail for s in outcome.steps if s.status != "ok"]
        error = outcome.load if outcome.load != "ok" else (bad[0] if bad else None)
        values = []
        for step in outcome.steps:
            value = step.ops[0].value if step.status == "ok" and step.ops else None
            values.append(value is not None if not_none else value)
        times = [s.seconds for s in outcome.steps]
        found[problem.task_id] = Expected(
            base=values[:n], base_time=times[:n], plus=values[n:], plus_time=times[n:], error=error
        )
    return found


def _limits(times: list[float]) -> list[float]:
    return [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in times]


def label_spec(problem: Problem, expected: Expected, program: str) -> dict[str, Any]:
    """The worker spec that runs ``program`` on every hidden input of ``problem``.

    Only the inputs go to the candidate's process; the expected outputs stay here.
    """
    steps = []
    budget = {}
    for group, inputs, times in (
        ("base", problem.base_input, expected.base_time),
        ("plus", problem.plus_input, expected.plus_time),
    ):
        limits = _limits(times)
        budget[group] = min(GROUP_TIMEOUT, sum(limits)) + 1
        for args, limit in zip(inputs, limits, strict=True):
            steps.append({"ops": [_call(args)], "timeout": limit, "group": group})
    return {
        "program": program,
        "entry_point": problem.entry_point,
        "steps": steps,
        "group_budget": budget,
        "budget": sum(budget.values()) + 10.0,
        "load_timeout": 10.0,
        "max_value_bytes": MAX_VALUE_BYTES,
        "max_run_bytes": MAX_RUN_BYTES,
    }


def label_candidates(jobs: list[tuple[Problem, Expected, str]], pool: Submitter) -> list[Label]:
    """Labels for ``(problem, expected outputs, response text)`` jobs, run in parallel.

    The program is what :func:`extract_program` finds in the response, run as written
    (no prompt context, no sanitising), as evalplus runs a sample's ``solution``.
    """
    labels: list[Label | None] = [None] * len(jobs)
    specs, where = [], []
    for i, (problem, expected, text) in enumerate(jobs):
        program = extract_program(text, prompt=problem.prompt, entry_point=problem.entry_point)
        if isinstance(program, str):
            labels[i] = Label(0.0, "fail", "fail", f"no program: {program}")
        elif expected.error:
            labels[i] = Label(0.0, "fail", "fail", f"canonical solution failed: {expected.error}")
        else:
            specs.append(label_spec(problem, expected, program.code))
            where.append(i)

    def failed(spec_index: int, k: int, step: Any) -> bool:
        """evalplus stops at a candidate's first failure; so do we, deciding it here."""
        problem, expected, _ = jobs[where[spec_index]]
        inputs = [*problem.base_input, *problem.plus_input]
        wants = [*expected.base, *expected.plus]
        if step.status != "ok" or not step.ops:
            return True
        return not _passes(problem, inputs[k], step.ops[0].value, wants[k])

    outcomes = run_specs(pool, specs, max_restarts=0, stop=failed)
    for i, outcome in zip(where, outcomes, strict=True):
        labels[i] = _label(jobs[i][0], jobs[i][1], outcome)
    return [label for label in labels if label is not None]


def _passes(problem: Problem, args: list, out: Any, exp: Any) -> bool:
    if isinstance(out, Digest) or isinstance(exp, Digest):
        return code_values.digest_of(out) == code_values.digest_of(exp)
    special = oracle(problem.dataset, problem.entry_point, args, out, exp, problem.atol)
    if special is not None:
        return special
    return not isinstance(out, Opaque) and same_output(out, exp, problem.atol, strict_bools=False)


def _label(problem: Problem, expected: Expected, outcome: WorkerOutcome) -> Label:
    if outcome.load != "ok":
        return Label(0.0, "fail", "fail", outcome.load)
    n = len(problem.base_input)
    verdicts = {}
    detail = ""
    for group, steps, inputs, wants in (
        ("base", outcome.steps[:n], problem.base_input, expected.base),
        ("plus", outcome.steps[n:], problem.plus_input, expected.plus),
    ):
        bad = ""
        for step, args, want in zip(steps, inputs, wants, strict=True):
            if step.status != "ok":
                bad = f"{step.status}: {step.detail}"
            elif not _passes(problem, args, step.ops[0].value, want):
                bad = f"fail: returned {code_values.short(step.ops[0].value)}"
            if bad:
                break
        verdicts[group] = "fail" if bad else "pass"
        if bad and not detail:
            detail = f"{group}: {bad}"
    score = 1.0 if verdicts["base"] == verdicts["plus"] == "pass" else 0.0
    return Label(score, verdicts["base"], verdicts["plus"], detail)


@dataclass(frozen=True)
class Comparison:
    """Our label for one candidate beside the label its file carries."""

    task_id: str
    index: int
    truth: dict[str, Any]  # the response's metadata: score, base_status, plus_status, ...
    ours: Label

    @property
    def agrees(self) -> bool:
        return self.ours.score == self.truth.get("score")


@dataclass(frozen=True)
class LabelRun:
    """One dataset's comparisons and what they cost (seconds)."""

    comparisons: list[Comparison]
    expected_seconds: float
    label_seconds: float

    @property
    def agreement(self) -> float:
        return sum(c.agrees for c in self.comparisons) / max(1, len(self.comparisons))


def compare_with_labels(
    problems_path: str | Path,
    candidates_path: str | Path,
    pool: Submitter,
    *,
    limit: int | None = None,
) -> LabelRun:
    """Label the candidates of the first ``limit`` rows (all by default) and compare.

    Parameters
    ----------
    problems_path : evalplus's problems (HumanEval+ or MBPP+, ``.jsonl.gz``).
    candidates_path : a JETTS-format candidate file whose responses carry labels.
    pool : the sandbox pool the canonical solutions and the candidates run in.
    limit : label only the first this many rows.

    Returns
    -------
    LabelRun : one comparison per candidate (the file's label against ours) and the
        seconds each phase took.
    """
    problems = load_problems(problems_path)
    rows = list(read_candidates(candidates_path))[:limit]
    started = time.perf_counter()
    expected = expected_outputs([problems[task_id] for task_id, _, _ in rows], pool)
    middle = time.perf_counter()
    jobs, meta = [], []
    for task_id, _, responses in rows:
        for index, response in enumerate(responses):
            jobs.append((problems[task_id], expected[task_id], response["content"]))
            meta.append((task_id, index, response.get("metadata") or {}))
    labels = label_candidates(jobs, pool)
    finished = time.perf_counter()
    comparisons = [
        Comparison(task_id, index, truth, label)
        for (task_id, index, truth), label in zip(meta, labels, strict=True)
    ]
    return LabelRun(comparisons, middle - started, finished - middle)

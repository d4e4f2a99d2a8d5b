"""Labels from hidden tests (HumanEval+, MBPP+), computed the way evalplus computes them.

For benchmarks and reports only: this module reads the benchmark's hidden inputs and
canonical solutions, which no judge may see, and :class:`~rerank.verifiers.code.CodeVerifier`
never imports it. It exists to check our extraction and sandbox against the truth (the
labels of the shared candidate files were made by evalplus) and to compare speed with
evalplus's own evaluator.

As evalplus does: expected outputs come from running the canonical solution on each
input (timed); a candidate passes an input when its output is equal, or, for floats, of
the same type and close (``atol`` at least 1e-6, ``rtol`` 1e-7), or passes the task's
special oracle; each input may take ``max(min_time_limit, factor * canonical time)``
seconds (1 s and 4 by default) and each of the base and plus groups at most
``min(60, sum of its limits) + 1`` seconds; a group stops at its first failure. A
candidate scores 1 when both groups pass. The differences: both groups run in one
process (evalplus starts one per group), and candidates run in our sandbox rather than
under evalplus's ``reliability_guard``.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank.verifiers.code_evalplus import MBPP_NOT_NONE, mbpp_deserialize_inputs, oracle_source
from rerank.verifiers.code_extract import extract_program
from rerank.verifiers.code_runner import NotShipped, Submitter, run_specs

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
    from rerank.verifiers.sandbox import Limits, SandboxPool

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


def expected_outputs(problems: list[Problem], pool: Submitter) -> dict[str, Expected]:
    """Run each canonical solution on its inputs in the sandbox, one process per task."""
    specs = []
    for problem in problems:
        not_none = problem.dataset == "mbpp" and problem.entry_point in MBPP_NOT_NONE
        tests = [
            {"kind": "record", "args": tuple(args), "not_none": not_none, "timeout": 60.0}
            for args in [*problem.base_input, *problem.plus_input]
        ]
        specs.append(
            {
                "program": problem.canonical,
                "entry_point": problem.entry_point,
                "tests": tests,
                "probes": [],
                "load_timeout": 60.0,
            }
        )
    found = {}
    for problem, outcome in zip(problems, run_specs(pool, specs, max_restarts=0), strict=True):
        n = len(problem.base_input)
        bad = [d for s, d in outcome.tests if s != "pass"]
        error = outcome.load if outcome.load != "ok" else (bad[0] if bad else None)
        values = [r[0] if r else None for r in outcome.records]
        times = [r[1] if r else 0.0 for r in outcome.records]
        found[problem.task_id] = Expected(
            base=values[:n], base_time=times[:n], plus=values[n:], plus_time=times[n:], error=error
        )
    return found


def _limits(times: list[float]) -> list[float]:
    return [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in times]


def label_spec(problem: Problem, expected: Expected, program: str) -> dict[str, Any]:
    """The harness spec that checks ``program`` on every hidden input of ``problem``."""
    tests = []
    budget = {}
    not_none = problem.dataset == "mbpp" and problem.entry_point in MBPP_NOT_NONE
    for group, inputs, outputs, times in (
        ("base", problem.base_input, expected.base, expected.base_time),
        ("plus", problem.plus_input, expected.plus, expected.plus_time),
    ):
        limits = _limits(times)
        budget[group] = min(GROUP_TIMEOUT, sum(limits)) + 1
        for args, out, limit in zip(inputs, outputs, limits, strict=True):
            test = {
                "kind": "call",
                "group": group,
                "args": tuple(args),
                "expected": out,
                "atol": problem.atol,
                "timeout": limit,
            }
            if isinstance(out, NotShipped):  # HumanEval/15's outputs are 150 MB in all
                test.update(expected=None, recompute=True, not_none=not_none)
            tests.append(test)
    return {
        "program": program,
        "entry_point": problem.entry_point,
        "tests": tests,
        "probes": [],
        "stop_on_fail": True,
        "group_budget": budget,
        "oracle_source": oracle_source(problem.dataset),
        "load_timeout": 10.0,
        "reference": problem.canonical,
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
    for i, outcome in zip(where, run_specs(pool, specs, max_restarts=0), strict=True):
        labels[i] = _label(jobs[i][0], outcome)
    return [label for label in labels if label is not None]


def _label(problem: Problem, outcome: Any) -> Label:
    if outcome.load != "ok":
        return Label(0.0, "fail", "fail", outcome.load)
    n = len(problem.base_input)
    verdicts = {}
    detail = ""
    for group, results in (("base", outcome.tests[:n]), ("plus", outcome.tests[n:])):
        bad = [(s, d) for s, d in results if s not in ("pass", "skip")]
        verdicts[group] = "fail" if bad else "pass"
        if bad and not detail:
            detail = f"{group}: {bad[0][0]}: {bad[0][1]}"
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
    """Label the candidates of the first ``limit`` rows (all by default) and compare."""
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

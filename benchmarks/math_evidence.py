"""What the math verifier's evidence is worth, measured against labels on the shared data.

    python benchmarks/math_evidence.py [--data ../shared/data] [--limit N] [--show]

1. GSM8K candidates (gsm8k_gpt3-4solutions_dev400, 400 x 4, labelled): with the reference
   exposed, how often the ``reference`` check agrees with the label; without it, how often
   the largest answer cluster (signature consensus, ties to the lowest index) picks a
   correct response, against Pass@1 (first response) and Oracle@4 (any correct); and the
   step checks: responses with a failed step among correct ones (false alarms) and among
   wrong ones (detections).
2. GSM8K test gold solutions (1319): solutions with a failed step (``--show`` lists them,
   and the MATH500 misses).
3. MATH500: ``\\boxed{answer}`` and the gold solution, each checked against the answer
   field as a visible reference, the light ``answer_key`` for comparison, and whether
   math-verify reads every answer field (matches it to itself).

Labels are read here only; the verifier is given public items. The tests in
``tests/rerank/test_math_verifier.py`` assert on these same measurements.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from rerank.answers import answer_key, normalize_answer
from rerank.evidence import Evidence
from rerank.items import Item
from rerank.readers import read_items
from rerank.verifiers.math.steps import find_steps
from rerank.verifiers.math.verifier import MathVerifier

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GSM8K_CANDIDATES = Path("candidates") / "gsm8k_gpt3-4solutions_dev400.jsonl.gz"
GSM8K_TEST = Path("benchmarks") / "GSM8K-test.jsonl.gz"
MATH500 = Path("benchmarks") / "MATH500-test.jsonl.gz"


def majority(signatures: list[str | None]) -> int:
    """The lowest index among the candidates of the largest cluster (0 when none answers)."""
    counts = Counter(s for s in signatures if s is not None)
    if not counts:
        return 0
    size = max(counts.values())
    return next(i for i, s in enumerate(signatures) if s is not None and counts[s] == size)


def steps_then_majority(evidence: list[Evidence]) -> int:
    """The largest cluster among responses without a failed step (all, if every one has one)."""
    clean = [not _failed_step(e) for e in evidence]
    keep = clean if any(clean) else [True] * len(evidence)
    return majority([e.signature if k else None for e, k in zip(evidence, keep, strict=True)])


def gsm8k_candidates(path: Path, verifier: MathVerifier, limit: int | None = None) -> Counter:
    """Counts for the GSM8K candidate file (see the module docstring)."""
    n = Counter()
    start = time.perf_counter()
    for item in read_items(path, expose=["reference"], task_kind="math"):
        if limit is not None and n["items"] >= limit:
            break
        n["items"] += 1
        labels = [s == 1.0 for s in item.labels.scores]
        for evidence, correct in zip(verifier.verify(item.public()), labels, strict=True):
            check = next(c for c in evidence.checks if c.id == "reference")
            n["responses"] += 1
            n["reference unknown"] += check.status == "unknown"
            n["reference agrees"] += check.status != "unknown" and check.passed == correct
            n["correct" if correct else "wrong"] += 1
            if _failed_step(evidence):
                n["correct with a failed step" if correct else "wrong with a failed step"] += 1
        hidden = Item.from_texts(item.prompt, [c.text for c in item.candidates], kind="math")
        evidence = verifier.verify(hidden)
        n["pass@1"] += labels[0]
        n["majority (signature)"] += labels[majority([e.signature for e in evidence])]
        n["majority (answer_key)"] += labels[
            majority([answer_key(c.text) for c in hidden.candidates])
        ]
        n["no failed step, then majority"] += labels[steps_then_majority(evidence)]
        n["oracle"] += any(labels)
    n["seconds"] = round(time.perf_counter() - start)
    return n


def gsm8k_gold(path: Path, limit: int | None = None) -> tuple[int, int, list[str]]:
    """Gold solutions read, steps checked, and the failing steps (``index: step``)."""
    solutions = steps = 0
    failures = []
    for row in _rows(path, limit):
        found = find_steps(row["answer"])
        steps += len(found)
        failures.extend(f"{solutions}: {s.text}" for s in found if not s.correct)
        solutions += 1
    return solutions, steps, failures


def math500(
    path: Path, verifier: MathVerifier, limit: int | None = None
) -> tuple[Counter, list[str]]:
    """Counts for MATH500, and the problems whose boxed answer or solution did not match."""
    n = Counter()
    misses = []
    for row in _rows(path, limit):
        n["problems"] += 1
        candidates = ["\\boxed{" + row["answer"] + "}", row["solution"]]
        item = Item.from_texts(
            row["problem"], candidates, kind="math", resources={"reference": row["answer"]}
        )
        checks = [next(c for c in e.checks if c.id == "reference") for e in verifier.verify(item)]
        n["boxed answer matches"] += checks[0].passed
        n["solution matches"] += checks[1].passed
        n["reference unknown"] += sum(c.status == "unknown" for c in checks)
        gold = answer_key(candidates[0])
        n["boxed answer_key equal"] += gold is not None and gold == normalize_answer(row["answer"])
        n["solution answer_key equal"] += gold is not None and answer_key(candidates[1]) == gold
        if verifier.pool.equivalence([row["answer"]], row["answer"]).reference == (True,):
            n["math-verify reads the answer"] += 1
        if not (checks[0].passed and checks[1].passed):
            misses.append(f"{row['unique_id']}: {checks[0].detail} / {checks[1].detail}")
    return n, misses


def _failed_step(evidence: Evidence) -> bool:
    return any(c.id.startswith("step:") and c.failed for c in evidence.checks)


def _rows(path: Path, limit: int | None) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for count, line in enumerate(f):
            if limit is not None and count >= limit:
                return
            yield json.loads(line)


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.1f}%)" if n else "0/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="rows per file")
    parser.add_argument("--show", action="store_true", help="list the gold steps that fail")
    args = parser.parse_args()
    verifier = MathVerifier()
    try:
        g = gsm8k_candidates(args.data / GSM8K_CANDIDATES, verifier, args.limit)
        solutions, steps, failures = gsm8k_gold(args.data / GSM8K_TEST, args.limit)
        m, misses = math500(args.data / MATH500, verifier, args.limit)
    finally:
        verifier.pool.close()
    items, responses = g["items"], g["responses"]
    flagged = len({f.split(":")[0] for f in failures})
    lines = [
        f"## GSM8K candidates: {items} items, {responses} responses ({g['seconds']}s)",
        f"reference check agrees with the label: {_pct(g['reference agrees'], responses)}"
        f" (unknown: {g['reference unknown']})",
        *(
            f"{name}: {_pct(g[name], items)}"
            for name in (
                "pass@1",
                "majority (signature)",
                "majority (answer_key)",
                "no failed step, then majority",
                "oracle",
            )
        ),
        "correct responses with a failed step (false alarms): "
        + _pct(g["correct with a failed step"], g["correct"]),
        "wrong responses with a failed step (detections): "
        + _pct(g["wrong with a failed step"], g["wrong"]),
        f"## GSM8K test gold solutions: {solutions}, {steps} steps checked",
        f"solutions with a failed step: {_pct(flagged, solutions)}",
        *(f"  {f}" for f in failures if args.show),
        f"## MATH500: {m['problems']} problems",
        *(
            f"{name}: {_pct(m[name], m['problems'])}"
            for name in (
                "boxed answer matches",
                "solution matches",
                "boxed answer_key equal",
                "solution answer_key equal",
                "math-verify reads the answer",
            )
        ),
        f"reference checks unknown: {m['reference unknown']}",
        *(f"  {miss}" for miss in misses if args.show),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Candidates per second through our sandbox, beside evalplus's own evaluator, same samples.

Both evaluate the shared HumanEval+ candidates (984 = 164 x 6) on the full hidden tests
(base + plus inputs) in the same run, with the same number of workers:

- rerank: :mod:`rerank.labels.code` (expected outputs from the canonical
  solutions, then one sandboxed process per candidate, ``SandboxPool(workers)``);
- evalplus: ``evalplus.evaluate.get_groundtruth`` and ``check_correctness`` in a
  ``ProcessPoolExecutor(workers)``, exactly as ``evalplus.evaluate.evaluate`` runs them
  (``fast_check``, default time limits), offline: the dataset is the shared file, named by
  ``HUMANEVAL_OVERRIDE_PATH``, and its cache goes to a temporary directory.

It prints seconds and candidates per second for each, the ratio, and how often the two
verdicts (pass iff base and plus pass) agree with each other and with the file's labels.

    python benchmarks/sandbox_throughput.py [--limit N] [--workers 2]

evalplus is a benchmark-only dependency, installed without its model-provider extras:
``pip install --no-deps evalplus==0.3.1`` and ``pip install termcolor psutil appdirs wget
tempdir tree-sitter tree-sitter-python rich``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rerank.labels.code import compare_with_labels, label_pool, read_candidates
from rerank.sandbox.runner import isolation

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PROBLEMS = "benchmarks/HumanEvalPlus-v0.1.10.jsonl.gz"
CANDIDATES = "candidates/humaneval_evalplus-6models.jsonl.gz"


def run_evalplus(data: Path, rows: list, workers: int) -> tuple[list[float], float, float]:
    """evalplus's verdicts (1.0 / 0.0 per candidate), ground-truth and check seconds."""
    cache = tempfile.mkdtemp(prefix="evalplus-cache-")
    os.environ["HUMANEVAL_OVERRIDE_PATH"] = str(data / PROBLEMS)  # read at import
    os.environ["XDG_CACHE_HOME"] = cache  # appdirs: no stale ground truth, nothing left
    from evalplus.data import get_human_eval_plus
    from evalplus.evaluate import check_correctness, get_groundtruth

    problems = get_human_eval_plus()
    subset = {task_id: problems[task_id] for task_id, _, _ in rows}
    started = time.perf_counter()
    expected = get_groundtruth(subset, f"throughput-{len(subset)}", [])
    middle = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as executor:
        futures = [
            executor.submit(
                check_correctness,
                "humaneval",
                index,
                subset[task_id],
                response["content"],
                expected[task_id],
                False,
                True,
                f"{task_id}#{index}",
            )
            for task_id, _, responses in rows
            for index, response in enumerate(responses)
        ]
        results = [future.result() for future in futures]
    finished = time.perf_counter()
    verdicts = [1.0 if r["base"][0] == r["plus"][0] == "pass" else 0.0 for r in results]
    return verdicts, middle - started, finished - middle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--limit", type=int, default=None, help="first N tasks only")
    parser.add_argument("--workers", type=int, default=2, help="processes run at once")
    args = parser.parse_args(argv)
    rows = list(read_candidates(args.data / CANDIDATES))[: args.limit]
    truth = [r["metadata"]["score"] for _, _, responses in rows for r in responses]

    with label_pool(args.workers) as pool:
        ours = compare_with_labels(
            args.data / PROBLEMS, args.data / CANDIDATES, pool, limit=args.limit
        )
    our_verdicts = [c.ours.score for c in ours.comparisons]
    theirs, their_truth_s, their_check_s = run_evalplus(args.data, rows, args.workers)

    n = len(truth)
    table = [
        ("rerank sandbox", ours.expected_seconds, ours.label_seconds, our_verdicts),
        ("evalplus 0.3.1", their_truth_s, their_check_s, theirs),
    ]
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"sandbox isolation: {isolation().method}; {args.workers} workers; {n} candidates"
    )
    print(f"{'evaluator':<16} {'truth s':>8} {'check s':>8} {'cand/s':>8} {'= labels':>9}")
    for name, truth_s, check_s, verdicts in table:
        agree = sum(v == t for v, t in zip(verdicts, truth, strict=True)) / n
        print(f"{name:<16} {truth_s:>8.1f} {check_s:>8.1f} {n / check_s:>8.1f} {agree:>9.2%}")
    ratio = (n / ours.label_seconds) / (n / their_check_s)
    same = sum(a == b for a, b in zip(our_verdicts, theirs, strict=True))
    print(
        f"throughput ratio rerank/evalplus: {ratio:.2f}x; "
        f"verdicts agree: {same / n:.2%} ({n - same} differ)"
    )
    for comparison, verdict in zip(ours.comparisons, theirs, strict=True):
        if comparison.ours.score != verdict:
            print(
                f"  {comparison.task_id} #{comparison.index}: rerank {comparison.ours.score:g}"
                f" ({comparison.ours.detail}), evalplus {verdict:g}, "
                f"label {comparison.truth.get('score'):g}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do our sandbox and comparisons give the labels evalplus gave? (HumanEval+ and MBPP+)

Runs every candidate of the shared candidate files on the full hidden tests (base and
plus inputs, expected outputs from the canonical solutions, evalplus's comparison and
time limits) through :mod:`rerank.labels.code`, and prints per dataset the
share of candidates whose verdict (score 1 iff base and plus pass) matches the file's
label, then every disagreement with our reason.

    python benchmarks/code_agreement.py                 # both datasets, all candidates
    python benchmarks/code_agreement.py --limit 20      # the first 20 tasks of each

The hidden tests are labels: only benchmarks and reports read them, never a judge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rerank.labels.code import LabelRun, compare_with_labels, label_pool

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {
    "HumanEval+": (
        "benchmarks/HumanEvalPlus-v0.1.10.jsonl.gz",
        "candidates/humaneval_evalplus-6models.jsonl.gz",
    ),
    "MBPP+": (
        "benchmarks/MbppPlus-v0.2.0-approx.jsonl.gz",
        "candidates/mbpp_evalplus-6models.jsonl.gz",
    ),
}


def run(data: Path, *, limit: int | None, workers: int) -> dict[str, LabelRun]:
    """One :class:`LabelRun` per dataset."""
    runs = {}
    with label_pool(workers) as pool:
        for name, (problems, candidates) in DATASETS.items():
            runs[name] = compare_with_labels(data / problems, data / candidates, pool, limit=limit)
    return runs


def report(runs: dict[str, LabelRun]) -> str:
    """The agreement table, then one line per disagreement."""
    lines = [
        f"{'dataset':<11} {'candidates':>10} {'agree':>7} {'base':>7} {'plus':>7} "
        f"{'truth s':>8} {'check s':>8}"
    ]
    for name, run in runs.items():
        comparisons = run.comparisons
        n = max(1, len(comparisons))
        base = sum(c.ours.base == c.truth.get("base_status") for c in comparisons) / n
        plus = sum(c.ours.plus == c.truth.get("plus_status") for c in comparisons) / n
        lines.append(
            f"{name:<11} {len(comparisons):>10} {run.agreement:>7.2%} {base:>7.2%} "
            f"{plus:>7.2%} {run.expected_seconds:>8.1f} {run.label_seconds:>8.1f}"
        )
    for name, run in runs.items():
        for c in run.comparisons:
            if not c.agrees:
                t = c.truth
                lines.append(
                    f"  {name} {c.task_id} #{c.index}: label {t.get('score'):g} "
                    f"({t.get('base_status')}/{t.get('plus_status')}), ours {c.ours.score:g} "
                    f"({c.ours.base}/{c.ours.plus}) {c.ours.detail}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--limit", type=int, default=None, help="first N tasks per dataset")
    parser.add_argument("--workers", type=int, default=2, help="sandboxes run at once")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"no shared data at {args.data}", file=sys.stderr)
        return 2
    print(report(run(args.data, limit=args.limit, workers=args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy of the evidence judge with each strategy on the shared candidate files.

    python benchmarks/evidence_accuracy.py [--data ../shared/data/candidates] [--limit N]

A fixed configuration of ``rerank report`` (every judged strategy, the evidence judge,
nothing exposed), printed as one compact table per file: Pass@1, Random@N (expected
value), majority vote over the evidence signatures (answer clusters for math, behaviour
clusters for code), Oracle@N, and for each strategy the selected accuracy with a bootstrap
95% interval and the share of the Random-to-Oracle gap it closes. Labels are read by the
report only, never by the judge.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rerank.report import ReportConfig, run_report

STRATEGIES = ("sequential", "knockout", "round-robin", "pointwise")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"


def _row(label: str, result: dict[str, Any], comparisons: str) -> str:
    lo, hi = result["ci"]
    gap = result["gap_closed"]
    gap_text = f"{gap:.3f}" if gap is not None else "n/a"
    return (
        f"| {label} | {result['accuracy']:.3f} | {lo:.3f}-{hi:.3f} | {gap_text} | {comparisons} |"
    )


def table(group: dict[str, Any]) -> str:
    """One file's results as the markdown table docs/benchmarks.md shows."""
    base = group["baselines"]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(group["task_kinds"].items()))
    lines = [
        f"### `{Path(group['file']).name}`",
        "",
        f"{group['items']} items x {group['candidates']} candidates; task kinds detected: {kinds}",
        "",
        "| selector | accuracy | 95% CI | gap closed | comparisons/item |",
        "|---|---|---|---|---|",
        f"| Pass@1 | {base['pass_at_1']:.3f} | | | |",
        f"| Random@N (expected) | {base['random_at_n']:.3f} | | 0.000 | |",
        _row("majority vote (signatures)", group["majority"], "0"),
    ]
    for selector in group["selectors"]:
        per_item = f"{selector['costs']['comparisons']:.1f}"
        lines.append(_row(f"evidence + {selector['strategy']}", selector, per_item))
    lines.append(f"| Oracle@N | {base['oracle_at_n']:.3f} | | 1.000 | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="items per file")
    args = parser.parse_args()
    config = ReportConfig(strategies=STRATEGIES, judges=("evidence",), limit=args.limit)
    metrics = run_report([args.data], config)
    for group in metrics["groups"]:
        print(table(group), flush=True)


if __name__ == "__main__":
    main()

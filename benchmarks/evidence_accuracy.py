"""Accuracy of the evidence judge with each strategy on the shared candidate files.

    python benchmarks/evidence_accuracy.py [--data ../shared/data/candidates] [--limit N]

For every JETTS file: Pass@1, Random@N (expected value), majority vote over the evidence
signatures (answer clusters for math, behaviour clusters for code), Oracle@N, and for each
strategy the selected accuracy and the share of the Random-to-Oracle gap it closes, with a
bootstrap 95% interval. Labels are read here only, never by the judge (it gets public items).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import tournaments
from rerank.judges.evidence import EvidenceJudge
from rerank.metrics import baselines, bootstrap_interval, gap_closed
from rerank.readers import read_items
from rerank.selector import StrategyConfig, select_item

STRATEGIES = ("sequential", "knockout", "round-robin", "pointwise")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"


async def evaluate(path: Path, limit: int | None) -> str:
    judge = EvidenceJudge()
    labels: list[list[float]] = []
    picked: dict[str, list[float]] = {name: [] for name in ("majority", *STRATEGIES)}
    comparisons = dict.fromkeys(STRATEGIES, 0)
    kinds: dict[str, int] = {}
    start = time.perf_counter()
    evidence_seconds = 0.0
    for count, item in enumerate(read_items(path)):
        if limit is not None and count >= limit:
            break
        scores = [float(s) for s in item.labels.scores]
        labels.append(scores)
        t0 = time.perf_counter()
        kind, stand = await judge.assess(item.public())
        evidence_seconds += time.perf_counter() - t0
        kinds[kind] = kinds.get(kind, 0) + 1
        signatures = [s.evidence.signature if s.evidence else None for s in stand]
        vote = await tournaments.vote(item.n, signatures.__getitem__)
        picked["majority"].append(scores[vote.winner])
        for name in STRATEGIES:
            result = await select_item(item, StrategyConfig(name=name), judge)
            picked[name].append(scores[result.selection.winner])
            comparisons[name] += result.selection.comparisons
    elapsed = time.perf_counter() - start
    base = baselines(labels)
    n = len(labels)
    lines = [
        f"### {path.name}",
        "",
        f"{n} items x {len(labels[0]) if labels else 0} candidates; task kinds detected: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f"; evidence {evidence_seconds:.1f}s, total {elapsed:.1f}s",
        "",
        "| selector | accuracy | 95% CI | gap closed | comparisons/item |",
        "|---|---|---|---|---|",
        f"| Pass@1 | {base.pass_at_1:.3f} | | | |",
        f"| Random@N (expected) | {base.random_at_n:.3f} | | 0.000 | |",
    ]
    for name, values in picked.items():
        acc = sum(values) / n
        lo, hi = bootstrap_interval(values)
        gap = gap_closed(acc, base)
        per_item = f"{comparisons[name] / n:.1f}" if name in comparisons else "0"
        label = "majority vote (signatures)" if name == "majority" else f"evidence + {name}"
        gap_text = f"{gap:.3f}" if gap is not None else "n/a"
        lines.append(f"| {label} | {acc:.3f} | {lo:.3f}-{hi:.3f} | {gap_text} | {per_item} |")
    lines.append(f"| Oracle@N | {base.oracle_at_n:.3f} | | 1.000 | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="items per file")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl*"))
    if not files:
        raise SystemExit(f"no candidate files in {args.data}")
    for path in files:
        print(asyncio.run(evaluate(path, args.limit)), flush=True)


if __name__ == "__main__":
    main()

"""Accuracy of the evidence judge with each strategy, one table per task family.

    python benchmarks/evidence_accuracy.py [--data ../shared/data/candidates] [--limit N]
        [--exec-env DIR] [--only NAME,...] [--json out.json]

A fixed configuration of ``rerank report`` (every judged strategy and vote, the evidence
judge, nothing exposed) on every shared candidate file, printed as one markdown table per
family, as the JETTS paper shows its splits: the baselines (the first candidate, Random@N
as an expected value, majority vote over the evidence signatures, Oracle@N), then each
strategy's accuracy with a bootstrap 95% interval, the share of the Random-to-Oracle gap
it closes (with its interval), comparisons and seconds per item. Labels are read by the
report only, never by the judge.

Two more sets are derived from the IFEval file at run time (written to a temporary
folder, never into the repository): IFEval with its ``instruction_id_list`` and ``kwargs``
hidden, so that constraints are read from the prompt text, and an *open-ended* set, the
same prompts declared ``general``, where no verifier applies: the evidence judge says so
and ties, and an LLM judge (``--judge llm``) is the route.

BigCodeBench candidates import their libraries: give ``--exec-env`` an environment made
by ``rerank env create bigcodebench`` (docs/environments.md), else they run on rerank's
own interpreter and most examples fail to import.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from rerank.envs import exec_python
from rerank.judges.evidence import EvidenceJudge
from rerank.report.run import ReportConfig, run_report

STRATEGIES = ("sequential", "knockout", "round-robin", "pointwise", "vote")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"
FAMILIES = {  # file name prefix -> the family its table is headed by
    "gsm8k": "GSM8K",
    "math_l5": "MATH level 5",
    "humaneval": "HumanEval+",
    "mbpp": "MBPP+",
    "bigcodebench": "BigCodeBench",
    "ifeval": "IFEval (instruction ids given)",
    "ifevalhidden": "IFEval (ids hidden: constraints read from the prompt)",
    "openended": "Open-ended (IFEval prompts declared general: no verifier applies)",
}


def _interval(low: float | None, high: float | None) -> str:
    return f"{low:.3f}-{high:.3f}" if low is not None and high is not None else ""


def _row(label: str, result: dict[str, Any], per_item: str, seconds: str) -> str:
    gap = result.get("gap_closed")
    gap_ci = result.get("gap_ci") or (None, None)
    return (
        f"| {label} | {result['accuracy']:.3f} | {_interval(*result['ci'])} | "
        f"{f'{gap:.3f}' if gap is not None else 'n/a'} | {_interval(*gap_ci)} | "
        f"{per_item} | {seconds} |"
    )


def table(group: dict[str, Any], family: str) -> str:
    """One file's results as the markdown table docs/benchmarks.md shows."""
    base = group["baselines"]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(group["task_kinds"].items()))
    evidence = group.get("evidence_seconds_per_item")
    lines = [
        f"### {family}",
        "",
        f"`{Path(group['file']).name}`: {group['items']} items x {group['candidates']} "
        f"candidates; task kinds detected: {kinds}"
        + (f"; evidence {evidence:.2f} s/item" if evidence is not None else ""),
        "",
        "| selector | accuracy | 95% CI | gap closed | gap 95% CI | comparisons/item | s/item |",
        "|---|---|---|---|---|---|---|",
        f"| first candidate | {base['first']:.3f} | | | | | |",
        f"| Random@N (expected) | {base['random_at_n']:.3f} | | 0.000 | | | |",
        _row("majority (evidence signatures)", group["majority"], "0", ""),
    ]
    for selector in group["selectors"]:
        costs = selector["costs"]
        lines.append(
            _row(
                f"evidence + {selector['strategy']}",
                selector,
                f"{costs['comparisons']:.1f}",
                f"{costs['seconds']:.3f}",
            )
        )
    lines.append(f"| Oracle@N | {base['oracle_at_n']:.3f} | | 1.000 | | | |")
    return "\n".join(lines) + "\n"


def _derived(ifeval: Path, folder: Path) -> list[Path]:
    """The IFEval file with its ids hidden, and as an open-ended set."""
    hidden = folder / "ifevalhidden_8models_dev271.jsonl"
    general = folder / "openended_8models_dev271.jsonl"
    with (
        gzip.open(ifeval, "rt", encoding="utf-8") as rows,
        hidden.open("w", encoding="utf-8") as h,
        general.open("w", encoding="utf-8") as g,
    ):
        for line in rows:
            row = json.loads(line)
            meta = row["query"].setdefault("metadata", {})
            meta.pop("instruction_id_list", None)
            meta.pop("kwargs", None)
            h.write(json.dumps(row) + "\n")
            meta["kind"] = "general"
            g.write(json.dumps(row) + "\n")
    return [hidden, general]


def _family(path: Path) -> str:
    """The family a file belongs to: the longest prefix of its name that names one."""
    keys = sorted((k for k in FAMILIES if path.name.startswith(k)), key=len, reverse=True)
    return FAMILIES[keys[0]] if keys else path.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="items per file")
    parser.add_argument("--exec-env", default=None, help="environment for BigCodeBench")
    parser.add_argument("--only", default="", help="comma-separated file name prefixes")
    parser.add_argument("--json", type=Path, default=None, help="write every group here")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl*"))
    with tempfile.TemporaryDirectory(prefix="rerank-evidence-accuracy-") as tmp:
        ifeval = [f for f in files if f.name.startswith("ifeval")]
        files += _derived(ifeval[0], Path(tmp)) if ifeval else []
        wanted = [w for w in args.only.split(",") if w]
        files = [f for f in files if not wanted or any(f.name.startswith(w) for w in wanted)]
        groups = []
        for path in files:
            judges: dict[str, Any] = {}
            if path.name.startswith("bigcodebench") and args.exec_env:
                python = exec_python(args.exec_env)
                judges["judges"] = [EvidenceJudge(exec_python=python)]
            config = ReportConfig(strategies=STRATEGIES, judges=("evidence",), limit=args.limit)
            started = time.perf_counter()
            metrics = run_report([path], config, **judges)
            for group in metrics["groups"]:
                group["wall_seconds"] = time.perf_counter() - started
                print(table(group, _family(path)), flush=True)
                groups.append(group)
    if args.json:
        args.json.write_text(json.dumps(groups, indent=1))


if __name__ == "__main__":
    main()

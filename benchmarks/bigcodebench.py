"""BigCodeBench on an execution environment: labels from the hidden tests, and best-of-2.

Two measurements on ``bigcodebench_qwen7b-2_dev992`` (992 tasks x 2 candidates, with the
official calibrated pass/fail as ``metadata.score``), both with the candidates run on the
environment's interpreter (``rerank env create bigcodebench``), network off:

1. **labels**: each candidate's hidden unittest suite (``test`` of BigCodeBench v0.1.0)
   run in the sandbox as BigCodeBench runs it (:mod:`rerank.labels.bigcodebench`,
   benchmarks only: the suite shares the candidate's process), compared with the official
   labels. A first pass gives each suite ``--timeout`` seconds; suites that run out are
   run again with BigCodeBench's 240 s, so the result is that of a 240 s limit.
2. **report**: ``rerank report --judge evidence --strategy knockout`` (visible evidence
   only: the prompt's examples), with ``--exec-env`` and, for contrast, without it
   (rerank's own interpreter, where most libraries are missing); accuracy against
   Pass@1 (the first candidate), Random@2 and Oracle@2.

Usage (from the repository root)::

    python benchmarks/bigcodebench.py --exec-env /work/envs/bigcodebench --limit 20
    python benchmarks/bigcodebench.py --exec-env /work/envs/bigcodebench      # all 992

Results go to ``--out`` (labels.json: every label, disagreement and time; the reports).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from rerank.envs import exec_python
from rerank.labels.bigcodebench import (
    LABEL_LIMITS,
    TIMEOUT,
    Label,
    label_many,
    load_tasks,
)
from rerank.sandbox.runner import SandboxPool

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CANDIDATES = DATA / "candidates" / "bigcodebench_qwen7b-2_dev992.jsonl.gz"
TASKS = DATA / "benchmarks" / "BigCodeBench-v0.1.0-hf.jsonl.gz"


def read_rows(path: Path, limit: int | None) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(rows) >= limit:
                break
            rows.append(json.loads(line))
    return rows


def first_line(label: Label) -> str:
    """The exception line of the first failing test's traceback: what went wrong."""
    for name, trace in label.details.items():
        lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Exit)\b", line)]
        return f"{name}: {(errors or lines or [''])[0][:160]}"
    return ""


def labels(args: argparse.Namespace, python: str, rows: list[dict]) -> dict:
    tasks = load_tasks(args.tasks)
    jobs = [
        (tasks[row["query"]["metadata"]["task_id"]], response["content"])
        for row in rows
        for response in row["responses"]
    ]
    official = [float(r["metadata"]["score"]) for row in rows for r in row["responses"]]
    limits = replace(LABEL_LIMITS, cpu_seconds=TIMEOUT, wall_seconds=TIMEOUT + 10)
    started = time.monotonic()
    pool = SandboxPool(workers=args.workers, limits=limits, python=python, writable_tmp=True)
    with pool:
        found = label_many(pool, jobs, timeout=args.timeout)
        again = [i for i, label in enumerate(found) if label.status == "timeout"]
        if again and args.timeout < TIMEOUT:
            print(f"running the {len(again)} suites over {args.timeout:g} s again ({TIMEOUT:g} s)")
            rerun = label_many(pool, [jobs[i] for i in again], timeout=TIMEOUT)
            for i, label in zip(again, rerun, strict=True):
                label.seconds += found[i].seconds
                found[i] = label
    wall = time.monotonic() - started
    agree = sum(label.score == score for label, score in zip(found, official, strict=True))
    disagreements = [
        {
            "task_id": task.task_id,
            "candidate": i % 2,
            "ours": label.status,
            "official": "pass" if score else "fail",
            "why": first_line(label),
        }
        for i, ((task, _), label, score) in enumerate(zip(jobs, found, official, strict=True))
        if label.score != score
    ]
    seconds = [label.seconds for label in found]
    summary = {
        "candidates": len(jobs),
        "agree": agree,
        "agreement": agree / len(jobs),
        "ours_pass": sum(label.score for label in found) / len(jobs),
        "official_pass": sum(official) / len(jobs),
        "timeouts": sum(label.status == "timeout" for label in found),
        "first_timeout": args.timeout,
        "seconds_per_candidate": {
            "mean": statistics.fmean(seconds),
            "median": statistics.median(seconds),
            "wall_per_candidate": wall / len(jobs),
            "wall": wall,
        },
        "disagreements": disagreements,
        "labels": [asdict(label) for label in found],
    }
    print(
        f"labels: {agree}/{len(jobs)} agree ({summary['agreement']:.2%}); pass rate ours "
        f"{summary['ours_pass']:.3f}, official {summary['official_pass']:.3f}; "
        f"{summary['timeouts']} timeouts; {wall:.0f} s wall, "
        f"{summary['seconds_per_candidate']['mean']:.2f} s per candidate (mean run), "
        f"{summary['seconds_per_candidate']['wall_per_candidate']:.2f} s wall per candidate"
    )
    for d in disagreements:
        who = f"{d['task_id']} #{d['candidate']}"
        print(f"  {who}: ours {d['ours']}, official {d['official']}: {d['why']}")
    return summary


def report(args: argparse.Namespace, python: str | None, out: Path) -> dict:
    command = [
        sys.executable,
        "-c",
        "from rerank.cli.app import main; main()",
        "report",
        str(args.candidates),
        "--judge",
        "evidence",
        "--strategy",
        "knockout",
        "--out",
        str(out),
        "--no-progress",
    ]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    if python is not None:
        command += ["--exec-python", python]
    started = time.monotonic()
    subprocess.run(command, check=True)
    wall = time.monotonic() - started
    group = json.loads((out / "metrics.json").read_text())["groups"][0]
    [selector] = group["selectors"]
    result = {
        "exec_python": python,
        "items": group["items"],
        **group["baselines"],
        "knockout_evidence": selector["accuracy"],
        "ci": selector["ci"],
        "majority": group["majority"]["accuracy"],
        "tie_rate": selector["rates"]["tie"],
        "evidence_seconds_per_candidate": group["evidence_seconds_per_item"] / group["candidates"],
        "wall": wall,
    }
    where = python or "rerank's own interpreter"
    print(
        f"report ({where}): knockout/evidence {result['knockout_evidence']:.3f} "
        f"{result['ci']}; first {result['first']:.3f}, Random@2 {result['random_at_n']:.3f}, "
        f"Oracle@2 {result['oracle_at_n']:.3f}; ties {result['tie_rate']:.3f}; "
        f"{result['evidence_seconds_per_candidate']:.2f} s evidence per candidate"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exec-env", default="bigcodebench", help="environment dir or name")
    parser.add_argument("--candidates", type=Path, default=CANDIDATES)
    parser.add_argument("--tasks", type=Path, default=TASKS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="first-pass seconds per suite (then 240)"
    )
    parser.add_argument("--part", choices=("all", "labels", "report"), default="all")
    parser.add_argument("--out", type=Path, default=Path("/tmp/rerank-bigcodebench"))
    args = parser.parse_args()
    python = exec_python(env=args.exec_env)
    assert python is not None
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"limit": args.limit, "exec_python": python}
    if args.part in ("all", "labels"):
        results["labels"] = labels(args, python, read_rows(args.candidates, args.limit))
    if args.part in ("all", "report"):
        results["report_env"] = report(args, python, args.out / "report-env")
        results["report_own"] = report(args, None, args.out / "report-own")
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out / 'results.json'}")


if __name__ == "__main__":
    main()

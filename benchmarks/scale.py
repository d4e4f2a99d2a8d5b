"""Scale: one process against Ray with 1 and 2 workers, what Ray adds per item, the
driver's CPU per item, and a 100,000-prompt x 16-candidate Ray Data run.

Starts a local Ray cluster of ``--cpus`` CPUs on loopback (node address 127.0.0.2) and
measures, each on the same file, judge and seed:

1. ``--file`` (default: HumanEval+ x 6 models, code run in the sandbox) with the evidence
   judge and bracket knockout: items/s in one process (``run_select``) and through
   ``run_select_on_ray`` with 1 and 2 workers; rows compared with the single-process ones.
2. ``--synthetic`` items of 4 candidates with the simulated judge (no work to speak of):
   the same three runs; what Ray adds per item is the difference of their seconds per item;
   the driver's CPU per item is this process's CPU time over the run (reading, sending,
   receiving, writing: the coordinator's bound).
3. ``--data-items`` prompts x ``--data-candidates`` candidates made inside the cluster,
   selected by ``select_dataset`` with the simulated judge and written as parquet: wall
   time, the driver's peak RSS, rows written, ids once.
4. With ``--report``: ``rerank report`` of ``--file`` (first ``--limit`` items) with the
   report's default strategies and judge, in one process (``run_report``) and through
   ``run_report_on_ray`` with 1 and 2 workers; metrics compared with the single-process
   ones (all but timings). ``--report-only`` skips 1-3.

    python benchmarks/scale.py [--file F] [--limit N] [--synthetic 5000]
        [--data-items 100000] [--data-candidates 16] [--cpus 2] [--skip-data]
        [--report] [--report-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import resource
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import ray
import ray.data

from rerank.ray import run_report_on_ray, run_select_on_ray, select_dataset
from rerank.report import ReportConfig, run_report
from rerank.run import RunOptions, run_select
from rerank.selector import StrategyConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT.parent / "shared/data/candidates/humaneval_evalplus-6models.jsonl.gz"
NODE_IP = "127.0.0.2"  # loopback: Ray rewrites 127.0.0.1 to the host's outward address


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed"} for r in rows]


def _timed(run: Any) -> tuple[Any, float, float]:
    """Run ``run()``: its value, wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = run()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def compare(label: str, paths: list[str], judge: str, limit: int | None, tmp: Path) -> list[str]:
    """One file three ways; table rows."""
    config = StrategyConfig(name="knockout", seed=0)
    runs: list[tuple[str, Any, float, float, Path]] = []

    def options(name: str) -> RunOptions:
        out = tmp / f"{judge}-{name}.jsonl"
        return RunOptions(paths=paths, out=str(out), judge=judge, config=config, limit=limit)

    single = options("single")
    summary, wall, cpu = _timed(lambda: asyncio.run(run_select(single, say=lambda m: None)))
    runs.append(("one process", summary, wall, cpu, Path(single.out)))
    for workers in (1, 2):
        opts = options(f"ray{workers}")
        summary, wall, cpu = _timed(
            lambda o=opts, w=workers: run_select_on_ray(o, workers=w, say=lambda m: None)
        )
        runs.append((f"Ray, {workers} worker(s)", summary, wall, cpu, Path(opts.out)))
    expected = _rows(runs[0][4])
    base = runs[0][1].elapsed / runs[0][1].selected
    lines = []
    for name, summary, wall, cpu, out in runs:
        n = summary.selected
        per_item = summary.elapsed / n
        lines.append(
            f"| {label} | {name} | {n} | {n / summary.elapsed:.1f} | {per_item * 1000:.2f} | "
            f"{(per_item - base) * 1000:+.2f} | {wall - summary.elapsed:.1f} | "
            f"{cpu / n * 1000:.3f} | {'yes' if _rows(out) == expected else 'NO'} |"
        )
    return lines


def _untimed(value: Any) -> Any:
    """A report's metrics without what measures time."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def compare_report(path: str, limit: int | None, tmp: Path) -> list[str]:
    """``rerank report`` of one file three ways; table rows."""
    config = ReportConfig(limit=limit)
    runs: list[tuple[str, dict[str, Any], float, float]] = []
    report, wall, cpu = _timed(lambda: run_report([path], config, out=tmp / "report-single"))
    runs.append(("one process", report, wall, cpu))
    for workers in (1, 2):
        report, wall, cpu = _timed(
            lambda w=workers: run_report_on_ray(
                [path], config, out=tmp / f"report-ray{w}", workers=w, say=lambda m: None
            )
        )
        runs.append((f"Ray, {workers} worker(s)", report, wall, cpu))
    expected = _untimed(runs[0][1]["groups"])
    lines = []
    for name, report, wall, cpu in runs:
        n = report["groups"][0]["items"]
        seconds = report["run"]["seconds"]  # the report itself, workers started
        lines.append(
            f"| {Path(path).name.split('.')[0]}, report | {name} | {n} | {seconds:.1f} | "
            f"{n / seconds:.2f} | {wall:.1f} | {cpu:.1f} | "
            f"{'yes' if _untimed(report['groups']) == expected else 'NO'} |"
        )
    return lines


def synthetic_file(path: Path, count: int, candidates: int) -> Path:
    rng = random.Random(0)
    with open(path, "w") as f:
        for k in range(count):
            scores = [float(rng.random() < 0.3) for _ in range(candidates)]
            texts = [f"answer {j} to question {k}" for j in range(candidates)]
            f.write(json.dumps({"id": f"s{k}", "prompt": f"question {k}", "candidates": texts,
                                "scores": scores}) + "\n")  # fmt: skip
    return path


def _make_batch(batch: dict[str, Any], candidates: int) -> dict[str, Any]:
    ids = [int(i) for i in batch["id"]]
    rng = random.Random(ids[0])
    return {
        "id": [f"p{i}" for i in ids],
        "prompt": [f"question {i}" for i in ids],
        "candidates": [[f"completion {j} of {i}" for j in range(candidates)] for i in ids],
        "scores": [[float(rng.random() < 0.3) for _ in range(candidates)] for _ in ids],
    }


class _PeakRSS:
    """This process's RSS sampled every 0.2 s: the first reading and the peak (MiB)."""

    def __init__(self) -> None:
        self.first = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss() -> float:
        with open("/proc/self/status") as f:
            line = next(x for x in f if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def data_run(items: int, candidates: int, workers: int, tmp: Path) -> str:
    out = tmp / "picked"
    ds = ray.data.range(items).map_batches(
        _make_batch, fn_kwargs={"candidates": candidates}, batch_size=1000, batch_format="numpy"
    )
    picked = select_dataset(
        ds,
        judge="simulated:0.8",
        scores_column="scores",
        workers=workers,
        cpus_per_worker=0.5,  # half a CPU each: the other half keeps the generating stage going
        batch_size=1000,
        concurrency=64,
    )
    rss = _PeakRSS()
    _, wall, cpu = _timed(lambda: picked.write_parquet(str(out)))
    rss.stop()
    import pyarrow.dataset as pads

    table = pads.dataset(str(out), format="parquet").to_table(columns=["id", "selected"])
    ids = table.column("id").to_pylist()
    once = len(ids) == len(set(ids)) == items and set(ids) == {f"p{i}" for i in range(items)}
    nulls = table.column("selected").null_count
    return (
        f"| {items:,} x {candidates} | {workers} | {wall:.1f} | {items / wall:,.0f} | "
        f"{cpu:.1f} | {rss.first:.0f} | {rss.peak:.0f} | {len(ids):,} | "
        f"{'yes' if once else 'NO'} | {nulls} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", default=str(DEFAULT_FILE))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--synthetic", type=int, default=5000)
    parser.add_argument("--data-items", type=int, default=100_000)
    parser.add_argument("--data-candidates", type=int, default=16)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--skip-data", action="store_true")
    parser.add_argument("--report", action="store_true", help="also rerank report of --file")
    parser.add_argument("--report-only", action="store_true", help="only rerank report")
    args = parser.parse_args()
    logging.getLogger("ray").setLevel(logging.WARNING)
    ray.init(
        address="local",
        num_cpus=args.cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        _node_ip_address=NODE_IP,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {python}, "
          f"ray {ray.__version__}, cluster of {args.cpus} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.report or args.report_only:
            print("\n| file | run | items | report s | items/s | wall s (with start) | "
                  "driver CPU s | metrics equal |")  # fmt: skip
            print("|---|---|---:|---:|---:|---:|---:|---|")
            for line in compare_report(args.file, args.limit, tmp):
                print(line, flush=True)
            if args.report_only:
                ray.shutdown()
                return
        print("\n| file, judge | run | items | items/s | ms/item | vs one process | start s | "
              "driver CPU ms/item | rows equal |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        if Path(args.file).exists():
            label = f"{Path(args.file).name.split('.')[0]}, evidence"
            for line in compare(label, [args.file], "evidence", args.limit, tmp):
                print(line, flush=True)
        synthetic = synthetic_file(tmp / "synthetic.jsonl", args.synthetic, 4)
        label = f"{args.synthetic} synthetic x 4, simulated"
        for line in compare(label, [str(synthetic)], "simulated:0.8", None, tmp):
            print(line, flush=True)
        if not args.skip_data:
            print("\n| Ray Data | workers | wall s | rows/s | driver CPU s | driver RSS start MiB "
                  "| driver RSS peak MiB | rows written | ids once | null picks |")  # fmt: skip
            print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
            print(data_run(args.data_items, args.data_candidates, args.cpus, tmp), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ndriver max RSS over the whole benchmark: {peak:.0f} MiB")
    ray.shutdown()


if __name__ == "__main__":
    main()

"""Memory while streaming: RSS of ``rerank select`` over 100,000 synthetic items.

Writes ``--items`` items (simple format: a prompt, 4 short candidates, their scores) to a
temporary file and runs ``rerank select --judge simulated:0.8 --strategy knockout`` on it in
a subprocess, with this interpreter (``python -c 'from rerank.cli.app import main; main()'``:
a ``rerank`` found on PATH may belong to another environment and another checkout). Every
0.2 s it reads the child's VmRSS from ``/proc/PID/status`` and the output file's line count
(the progress), then prints RSS at the first sample with a row written, at 10%, 50% and
90% of the items, at the last sample, the maximum, the growth per item between 10% and 90%,
whether RSS stayed flat (90% within 10% of the 10% reading) and items/s.

    python benchmarks/memory.py [--items 100000] [--candidates 4] [--interval 0.2]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAT = 0.10  # growth between 10% and 90% of the items that still counts as flat


def write_items(path: Path, count: int, candidates: int) -> None:
    rng = random.Random(0)
    with path.open("w") as f:
        for i in range(count):
            row = {
                "id": f"item-{i}",
                "prompt": f"What is {i} + {i % 97}?",
                "candidates": [f"{i} + {i % 97} = {i + i % 97 + j}" for j in range(candidates)],
                "scores": [rng.choice((0, 1)) for _ in range(candidates)],
            }
            f.write(json.dumps(row) + "\n")


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def lines_in(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    rerank = [sys.executable, "-c", "from rerank.cli.app import main; main()"]
    where = subprocess.run([sys.executable, "-c", "import rerank; print(rerank.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="rerank-memory-") as tmp:
        source, out = Path(tmp) / "items.jsonl", Path(tmp) / "selected.jsonl"
        write_items(source, args.items, args.candidates)
        command = [*rerank, "select", str(source), "--judge", "simulated:0.8",
                   "--strategy", "knockout", "--out", str(out), "--no-progress"]  # fmt: skip
        samples: list[tuple[int, float]] = []  # (rows written, RSS MiB)
        started = time.perf_counter()
        child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        while child.poll() is None:
            rss = rss_mib(child.pid)
            if rss is not None:
                samples.append((lines_in(out), rss))
            time.sleep(args.interval)
        seconds = time.perf_counter() - started
        stderr = child.stderr.read() if child.stderr else ""
        if child.returncode != 0:
            sys.exit(f"rerank select failed ({child.returncode}): {stderr}")
        done = lines_in(out)

    def at(share: float) -> float:
        # The first sample at or past this share of the items.
        return next(rss for rows, rss in samples if rows >= share * args.items)

    print(f"Python {platform.python_version()}, {args.items} items x {args.candidates} "
          f"candidates, {len(samples)} samples every {args.interval} s")  # fmt: skip
    print(f"rerank imported from {where}")
    print("\n| progress | first row | 10% | 50% | 90% | last | max | growth/item | flat "
          "| items/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    low, high = at(0.1), at(0.9)
    flat = high <= low * (1 + FLAT)
    per_item = (high - low) * 2**20 / (0.8 * args.items)
    print(f"| RSS (MiB) | {at(1 / args.items):.1f} | {low:.1f} | {at(0.5):.1f} | {high:.1f} "
          f"| {samples[-1][1]:.1f} | {max(r for _, r in samples):.1f} | {per_item:.1f} B "
          f"| {'yes' if flat else 'NO'} | {done / seconds:.0f} |")  # fmt: skip
    print(f"\n{done} rows in {seconds:.1f} s (wall, including start-up); rerank said: "
          f"{stderr.strip().splitlines()[-1] if stderr.strip() else ''}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Orchestration overhead and throughput: the real LLM judge against a loopback server that
answers every chat request after a fixed latency.

A child process serves an OpenAI-compatible API (:class:`rerank.testing.OpenAIServer`,
one thread per connection) whose every reply is a ``final_answer`` tool call, sent after
``--latency`` seconds. The items are open-ended (task kind ``general``): no verifier runs and
evidence never short-circuits, so every comparison is one request. For each strategy
(sequential knockout, bracket knockout, round-robin) it runs

- a throughput run: ``--items`` items (round-robin: ``--round-robin-items``, the same
  1000 by default) through
  :func:`rerank.run.run_select` with ``--concurrency`` judge calls at once, an
  :class:`~rerank.judges.llm.judge.LLMJudge` with the verdict cache off; it reports judge calls
  per second beside the bound ``concurrency / latency`` and this process's CPU seconds
  per comparison (everything the process did: reading and writing the JSON lines, the
  strategy, the judge's prompt building and reply parsing, the openai/httpx client and
  the event loop; the server's CPU is in the child and reported apart);
- a latency run: ``--probe-items`` items one at a time (same concurrency limit), whose
  wall time per item is set beside the expectation: sequential N-1 latencies, bracket
  ceil(log2 N), round-robin ceil(N(N-1)/2 / concurrency). One untimed item runs first:
  it opens the connections.

    python benchmarks/orchestration.py [--items 1000] [--round-robin-items 1000] [--n 10]
        [--latency 0.1] [--concurrency 16] [--probe-items 5]

Defaults run in about eight minutes on 2 vCPUs, five of them round-robin's 1000 x 45 =
45,000 calls at the default bound of 160 calls/s; ``--round-robin-items 200`` (9,000
calls) saves four.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from rerank.items import Item
from rerank.judges.llm.judge import LLMJudge
from rerank.run import RunOptions, run_select
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Message, OpenAIServer, ToolCall

STRATEGIES = {"sequential": "sequential knockout", "knockout": "bracket knockout",
              "round-robin": "round-robin"}  # fmt: skip
VERDICT = json.dumps({"winner": "A", "confidence": 0.7, "evidence": [], "reason": "clearer"})


class _LatencyServer(OpenAIServer):
    """Answers every chat request with a verdict after ``latency`` seconds; keeps no
    record of the requests (a long run would hold every prompt in memory)."""

    def __init__(self, latency: float):
        super().__init__(default=self._reply)
        self.latency = latency
        self.served = 0

    def _reply(self, body: dict[str, Any]) -> Message:
        time.sleep(self.latency)  # each request has its own thread: sleeps overlap
        return Message(tool_calls=[ToolCall("final_answer", VERDICT)])

    def _begin(self, request: Any) -> None:
        with self._changed:
            self.served += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)


def serve(latency: float, connection: Any) -> None:
    """The child process: serve until told to stop, then report what it served and its CPU."""
    with _LatencyServer(latency) as server:
        connection.send(server.base_url)
        connection.recv()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        connection.send((server.served, server.max_in_flight, usage.ru_utime + usage.ru_stime))


def write_items(path: Path, count: int, n: int) -> None:
    with path.open("w") as f:
        for i in range(count):
            prompt = f"Write a short note to a colleague about project {i}, in a friendly tone."
            candidates = [f"Hi! Draft {j} for project {i}: the plan is on track." for j in range(n)]
            f.write(
                json.dumps({"id": f"item-{i}", "prompt": prompt, "candidates": candidates}) + "\n"
            )


def make_judge(base_url: str, concurrency: int) -> LLMJudge:
    return LLMJudge(base_url=base_url, model="test-model", cache=False, concurrency=concurrency)


async def throughput(base_url: str, path: Path, strategy: str, concurrency: int) -> dict:
    judge = make_judge(base_url, concurrency)
    out = path.with_suffix(f".{strategy}.out.jsonl")
    options = RunOptions(paths=[str(path)], out=str(out), overwrite=True, judge=judge,
                         config=StrategyConfig(name=strategy), task_kind="general",
                         concurrency=concurrency, progress=False)  # fmt: skip
    cpu = time.process_time()
    try:
        summary = await run_select(options, say=lambda message: None)
    finally:
        await judge.aclose()
    cpu = time.process_time() - cpu
    if summary.failed or summary.short_circuits:
        raise RuntimeError(f"{strategy}: {len(summary.failed)} failed, "
                           f"{summary.short_circuits} short-circuited")  # fmt: skip
    return {"items": summary.selected, "comparisons": summary.comparisons,
            "calls": summary.judge_calls, "seconds": summary.elapsed, "cpu": cpu}  # fmt: skip


async def one_at_a_time(base_url: str, path: Path, strategy: str, concurrency: int, count: int):
    """Wall seconds of each of the first ``count`` items, run alone, after one untimed item.

    The untimed item is another row of the file: the judge answers a repeated comparison
    of the same item without a request (deduplication), so repeating a timed item would
    time nothing."""
    judge = make_judge(base_url, concurrency)
    limiter = asyncio.Semaphore(concurrency)
    lines = path.read_text().splitlines()[: count + 1]
    times = []
    try:
        for number, line in enumerate([lines[-1], *lines[:-1]]):
            row = json.loads(line)
            item = Item.from_texts(row["prompt"], row["candidates"], kind="general")
            started = time.perf_counter()
            await select_item(item, StrategyConfig(name=strategy), judge, limiter=limiter)
            if number:  # the first opens the connections (see the module docstring)
                times.append(time.perf_counter() - started)
    finally:
        await judge.aclose()
    return times


def expected_rounds(strategy: str, n: int, concurrency: int) -> int:
    if strategy == "sequential":
        return n - 1
    if strategy == "knockout":
        return math.ceil(math.log2(n))
    return math.ceil(n * (n - 1) // 2 / concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--round-robin-items", type=int, default=1000)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--probe-items", type=int, default=5)
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve,
        args=(args.latency, child),
        daemon=True,  # dies with us on an error
    )
    server.start()
    base_url = parent.recv()
    bound = args.concurrency / args.latency
    print(f"{platform.python_version()} on {platform.machine()}, {multiprocessing.cpu_count()} "
          f"CPUs; N={args.n}, latency {args.latency * 1000:.0f} ms, concurrency "
          f"{args.concurrency}: bound {bound:.0f} calls/s")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="rerank-orchestration-") as tmp:
        for strategy, label in STRATEGIES.items():
            count = args.round_robin_items if strategy == "round-robin" else args.items
            path = Path(tmp) / f"{strategy}.jsonl"
            write_items(path, count, args.n)
            run = asyncio.run(throughput(base_url, path, strategy, args.concurrency))
            times = asyncio.run(
                one_at_a_time(base_url, path, strategy, args.concurrency, args.probe_items)
            )
            rows.append((label, run, times, expected_rounds(strategy, args.n, args.concurrency)))
    parent.send("stop")
    served, peak, server_cpu = parent.recv()
    server.join()

    print()
    print("| strategy | items | calls/item | calls/s | bound | of bound | CPU ms/comparison "
          "| wall/item alone | expected | latencies |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, run, times, rounds in rows:
        rate = run["calls"] / run["seconds"]
        wall = sum(times) / len(times)
        print(f"| {label} | {run['items']} | {run['calls'] / run['items']:.0f} | {rate:.1f} "
              f"| {bound:.0f} | {rate / bound:.0%} | {1000 * run['cpu'] / run['comparisons']:.2f} "
              f"| {wall * 1000:.0f} ms | {rounds * args.latency * 1000:.0f} ms "
              f"| {wall / args.latency:.2f} |")  # fmt: skip
    print(f"\nserver (child process): {served} requests, at most {peak} in flight, "
          f"{1000 * server_cpu / served:.2f} ms CPU per request")  # fmt: skip


if __name__ == "__main__":
    main()

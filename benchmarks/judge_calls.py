"""Judge calls per item, and the accuracy they buy, with and without evidence short-circuit
and cluster deduplication, for each strategy, on the shared candidate files.

    python benchmarks/judge_calls.py [--data ../shared/data/candidates] [--items 100]
        [--accuracy 0.8] [--seed 0] [--concurrency 16]

The judge is the real :class:`~rerank.judges.llm.judge.LLMJudge` (verifier evidence, skill
prompts, tool-calling protocol, openai client) talking to a loopback
:class:`~rerank.testing.OpenAIServer`. The *model* behind that server is a labelled noisy
oracle, and only this script knows the labels: it reads the two candidate texts out of each
request, looks up their labels, and names the correct one with probability ``--accuracy``
(else the other); when both or neither are correct it picks A or B at random. Pointwise
requests get score 8 for a candidate it calls correct, 3 otherwise, with the same error
rate. Every draw is a seeded hash of the question, so a question asked twice gets the same
answer, whatever the order of requests. The accuracy columns therefore measure the
orchestration (strategy, short-circuit, dedup) under an oracle of known accuracy, not any
real model.

Four settings: plain (every comparison asks the model), ``short_circuit`` (pairs that hard
evidence decides are not asked), ``dedup`` (equivalent candidates, by math answer or by
identical text, are compared once) and both. The switches act on pairwise
comparisons; pointwise scores every candidate once in every setting, so it runs once.
N is every candidate of the item (the shared files have 4 and 6, not 10).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rerank.items import Item
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.dedup import representatives
from rerank.judges.llm.judge import LLMJudge
from rerank.outputs import result_row
from rerank.readers import read_items
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Message, OpenAIServer, ToolCall

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"
STRATEGIES = ("sequential", "knockout", "round-robin")
SETTINGS = {  # name: (short_circuit, dedup)
    "plain": (False, False),
    "short-circuit": (True, False),
    "dedup": (False, True),
    "both": (True, True),
}
_SHOWN = re.compile(r'<candidate id="([AB])">\n(.*?)\n</candidate>\n', re.DOTALL)


class NoisyOracle:
    """The server's reply callback: right with probability ``accuracy``, by the labels."""

    def __init__(self, items: list[Item], accuracy: float, seed: int):
        self.accuracy, self.seed = accuracy, seed
        self.labels: dict[str, dict[str, float]] = {}  # text -> prompt -> label
        for item in items:
            for candidate, label in zip(item.candidates, item.labels.scores, strict=True):
                self.labels.setdefault(candidate.text, {})[item.prompt.strip()] = label or 0.0

    def _draw(self, *parts: str) -> float:
        text = "\x00".join((str(self.seed), *parts))
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest()) / 2**64

    def _label(self, text: str, user: str) -> float:
        by_prompt = self.labels[text]
        if len(by_prompt) == 1:
            return next(iter(by_prompt.values()))
        return next(label for prompt, label in by_prompt.items() if prompt in user)

    def __call__(self, body: dict[str, Any]) -> Message:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        shown = _SHOWN.findall(user)
        texts = [text for _, text in shown]
        right = self._draw(*texts) < self.accuracy
        if len(shown) == 1:  # pointwise
            good = (self._label(texts[0], user) > 0) == right
            answer = {"score": 8 if good else 3, "evidence": [], "reason": "oracle"}
        else:
            a, b = (self._label(text, user) > 0 for text in texts)
            if a == b:
                winner = "A" if self._draw("coin", *texts) < 0.5 else "B"
            else:
                winner = "A" if a == right else "B"
            answer = {"winner": winner, "confidence": 0.8, "evidence": [], "reason": "oracle"}
        return Message(tool_calls=[ToolCall("final_answer", json.dumps(answer))])


class OracleServer(OpenAIServer):
    """Answers every chat request from the oracle; counts requests instead of keeping them
    (a long run would hold every prompt in memory)."""

    def __init__(self, oracle: NoisyOracle):
        super().__init__(default=oracle)
        self.served = 0

    def _begin(self, request: Any) -> None:
        with self._changed:
            self.served += 1


COUNTED = ("comparisons", "judge_calls", "short_circuits", "deduplicated", "invalid")


async def run_one(
    items: list[Item],
    url: str,
    evidence: EvidenceJudge,
    strategy: str,
    short_circuit: bool,
    dedup: bool,
    concurrency: int,
) -> dict[str, float]:
    """One strategy and setting over ``items``: per-item means of the counts, accuracy."""
    judge = LLMJudge(base_url=url, model="test-model", cache=False, concurrency=concurrency,
                     short_circuit=short_circuit, dedup=dedup, evidence=evidence)  # fmt: skip
    limiter = asyncio.Semaphore(concurrency)
    config = StrategyConfig(name=strategy)
    try:
        results = await asyncio.gather(
            *(select_item(item, config, judge, limiter=limiter) for item in items)
        )
    finally:
        await judge.pool.aclose()  # not judge.aclose(): the evidence is shared by every run
    rows = [result_row(r) for r in results]
    total = {k: sum(row[k] for row in rows) for k in COUNTED}
    picked = [r.item.labels.scores[r.selection.winner] or 0.0 for r in results]
    return {**{k: v / len(items) for k, v in total.items()},
            "accuracy": sum(picked) / len(items), "invalid_total": total["invalid"]}  # fmt: skip


def _cell(result: dict[str, float]) -> str:
    return f"{result['judge_calls']:.2f} ({result['accuracy']:.3f})"


async def bench_file(path: Path, args: argparse.Namespace, url: str, evidence: EvidenceJudge,
                     items: list[Item]) -> str:  # fmt: skip
    start = time.perf_counter()
    kinds: dict[str, int] = {}
    same, mixed = 0, 0  # pairs in one dedup cluster, and those whose labels differ
    for item in items:  # one at a time: ast.parse in parallel threads can raise SystemError
        kind, standings = await evidence.assess(item.public())  # on 3.11 (cpython#106905)
        kinds[kind] = kinds.get(kind, 0) + 1
        reps = representatives([c.text for c in item.candidates], standings)
        for a, b in itertools.combinations(range(item.n), 2):
            if reps[a] == reps[b]:
                same += 1
                mixed += (item.labels.scores[a] or 0) != (item.labels.scores[b] or 0)
    evidence_seconds = time.perf_counter() - start
    n = sorted({item.n for item in items})
    random_at_n = sum(sum(s or 0 for s in i.labels.scores) / i.n for i in items) / len(items)
    oracle_at_n = sum(max(s or 0 for s in i.labels.scores) for i in items) / len(items)
    lines = [
        f"### `{path.name}`",
        "",
        f"{len(items)} items x N={'/'.join(map(str, n))}; task kinds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + f"; evidence {evidence_seconds:.1f}s; Random@N {random_at_n:.3f}, "
        f"Oracle@N {oracle_at_n:.3f}; same-cluster pairs {same / len(items):.2f}/item, "
        f"{mixed / max(same, 1):.1%} of them with different labels",
        "",
        "judge calls per item (accuracy)",
        "",
        "| strategy | comparisons/item | " + " | ".join(SETTINGS) + " |",
        "|---|---|" + "---|" * len(SETTINGS),
    ]
    invalid = 0
    for strategy in (*STRATEGIES, "pointwise"):
        cells, comparisons = [], None
        for name, (short_circuit, dedup) in SETTINGS.items():
            if strategy == "pointwise" and name != "plain":
                cells.append("= plain")
                continue
            result = await run_one(items, url, evidence, strategy, short_circuit, dedup,
                                   args.concurrency)  # fmt: skip
            invalid += result["invalid_total"]
            comparisons = comparisons or result["comparisons"]
            cells.append(_cell(result))
        shown = f"{comparisons:.2f}" if strategy != "pointwise" else f"({items[0].n} scores)"
        lines.append(f"| {strategy} | {shown} | " + " | ".join(cells) + " |")
    lines += ["", f"invalid verdicts: {invalid}; {time.perf_counter() - start:.0f}s", ""]
    return "\n".join(lines)


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                      if ln.startswith("Model name")), "unknown CPU")  # fmt: skip
    except OSError:
        model = "unknown CPU"
    return f"nproc {os.cpu_count()}, {model}, Python {sys.version.split()[0]}"


async def main(args: argparse.Namespace) -> None:
    files = sorted(args.data.glob("*.jsonl*")) if args.data.is_dir() else []
    if not files:
        print(f"skipped: no candidate files in {args.data} (the shared data folder is absent)")
        return
    every = {p: list(read_items(p))[: args.items or None] for p in files}
    oracle = NoisyOracle([i for items in every.values() for i in items], args.accuracy, args.seed)
    subset = f"first {args.items}" if args.items else "all"
    print(f"# judge calls per item; {machine()}; {subset} items per file; "
          f"oracle accuracy {args.accuracy}, seed {args.seed}\n")  # fmt: skip
    print("The 'model' is a labelled noisy oracle behind a loopback server: the accuracies")
    print("measure the orchestration under a known-accuracy oracle, not a real model.\n")
    evidence = EvidenceJudge()
    start = time.perf_counter()
    try:
        with OracleServer(oracle) as server:
            for path, items in every.items():
                print(await bench_file(path, args, server.base_url, evidence, items), flush=True)
            print(f"{server.served} requests served in {time.perf_counter() - start:.0f}s")
    finally:
        await evidence.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--items", type=int, default=0, help="items per file (0: all)")
    parser.add_argument("--accuracy", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))

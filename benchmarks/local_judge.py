"""The embedded local judge on labelled pairs: text verdicts against log-probability verdicts.

    python benchmarks/local_judge.py [--pairs 30] [--sets gsm8k,humaneval]
        [--variants text,logprobs,logprobs+own] [--margin M] [--save F | --load F]
        [--file-items 50 [--no-pairs]] [--model ...] [--seed 0]

Needs the local extra (``pip install -e ".[local]"``) and ../shared/data.

**Pairs.** From each item of a shared candidate file with at least one correct and one
incorrect response (GSM8K: ``is_correct``; HumanEval+: base and plus tests pass), one of
each is drawn (seeded) and made a two-candidate item, in a seeded display order. Each pair
is judged in both display orders (``compare(0, 1)`` and ``compare(1, 0)``), each variant by
a fresh local judge with a fresh verdict cache, so the second order of a pair reuses the
questions the first asked where they are the same. Labels are read here only, to score.

**Variants** (the local judge, ``short_circuit`` on as by default):

- ``text``: ``verdict=text,outputs=0``, the compact protocol from before log-probability
  verdicts: ``Verdict: A`` lines, both display orders (``swap=auto``), solve-first on math;
- ``logprobs``: ``verdict=logprobs,solve=false``: one-token "A or B?" questions, both
  orders averaged into p, a tie within the margin (on code pairs whose programs give
  different results for a probe call, "which result does the task ask for?");
- ``logprobs+own``: ``verdict=logprobs``, the default: the same after the model's own
  answer (math: it solves the problem first; code: it works out the calls where the two
  programs differ).

**Printed per set and variant**: accuracy (verdicts naming the correct response), wrong,
tie and invalid rates, the A-rate of decisive verdicts, the share decided by the own
answer, by hard evidence and by the model's question; calls, prompt tokens and prompt
tokens actually processed (not served from llama.cpp's prompt cache) per verdict; seconds
per verdict (wall time of the compare calls, the server started beforehand). For the
log-probability variants: the Brier score of p (as the probability that the response shown
first is the correct one) over the verdicts the model's question decided, a reliability
table of max(p, 1 - p) against the share right, and what other margins would have given.

The log-probability verdicts are asked at margin 0 and kept with their p; the tables give
them at ``--margin`` (default: the judge's), and show what other margins would have given,
so one run of the model serves every margin. ``--save`` writes every verdict to a JSON
file, and ``--load`` prints the tables again from it without a model.

**Whole file** (``--file-items N``): ``evidence+local`` (log-probability verdicts), and the
evidence judge alone, on the first N items of each set's file with the default strategy
(knockout, seed 0), every candidate of an item: the mean label of the pick (accuracy),
Random@N and Oracle@N of those items, and seconds per item.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rerank.items import Item
from rerank.judges import create_judge
from rerank.judges.llm.logprobs import verdict_from_probability
from rerank.judges.llm.options import DEFAULT_MARGIN
from rerank.readers import read_items
from rerank.selector import StrategyConfig, select_item

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candidates"
SETS = {
    "gsm8k": "gsm8k_gpt3-4solutions_dev400.jsonl.gz",
    "humaneval": "humaneval_evalplus-6models.jsonl.gz",
}
VARIANTS = {
    "text": "verdict=text,outputs=0",
    "logprobs": "verdict=logprobs,solve=false,margin=0",
    "logprobs+own": "verdict=logprobs,margin=0",
}
MARGINS = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1)
BINS = (0.5, 0.505, 0.51, 0.52, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0001)


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
    """One verdict, reduced to what the tables count."""

    named: int | None  # the candidate index the verdict names; None for a tie or invalid
    shown: tuple[int, int]  # the candidates shown as A and as B
    invalid: bool
    first_shown: bool  # the verdict named the candidate shown as A
    via: str  # own-answer, evidence, model, cache, dedup
    probability: float | None  # P(the candidate shown first is better), if it has one
    a_correct: bool  # the candidate shown first is the correct one
    calls: int
    prompt_tokens: int
    processed: int  # prompt tokens not served from the prompt cache
    seconds: float  # wall time of this compare call


async def judge_pairs(spec: str, items: list[tuple[Item, int]]) -> list[Outcome]:
    """Every pair in both display orders, one verdict each, in a fixed order."""
    judge = create_judge(spec)
    # Start the server and load the model before anything is timed.
    await judge.pool.chat([{"role": "user", "content": "Hi"}], max_tokens=1)
    outcomes = []
    try:
        for n, (item, correct) in enumerate(items, 1):
            for a, b in ((0, 1), (1, 0)):
                started = time.monotonic()
                verdict = await judge.compare(item.public(), a, b)
                cost = verdict.cost
                outcomes.append(
                    Outcome(
                        named={"a": a, "b": b}.get(verdict.winner),
                        shown=(a, b),
                        invalid=verdict.winner == "invalid",
                        first_shown=verdict.winner == "a",
                        via=verdict.via or "",
                        probability=verdict.probability,
                        a_correct=a == correct,
                        calls=cost.calls,
                        prompt_tokens=cost.prompt_tokens,
                        processed=cost.prompt_tokens - cost.cached_tokens,
                        seconds=time.monotonic() - started,
                    )
                )
            print(f"  {spec}: {n}/{len(items)} pairs", file=sys.stderr, end="\r")
        print(file=sys.stderr)
    finally:
        await judge.aclose()
    return outcomes


def at_margin(outcomes: list[Outcome], margin: float) -> list[Outcome]:
    """The verdicts with a probability re-read at ``margin`` (the others as they are)."""
    read = []
    for o in outcomes:
        if o.probability is not None:
            winner = verdict_from_probability(o.probability, margin)
            named = {"a": o.shown[0], "b": o.shown[1]}.get(winner)
            o = replace(o, named=named, first_shown=winner == "a")
        read.append(o)
    return read


def summarize(outcomes: list[Outcome], correct: list[int]) -> dict[str, float]:
    verdicts = len(outcomes)
    right = sum(o.named == c for o, c in zip(outcomes, correct, strict=True))
    wrong = sum(
        o.named is not None and o.named != c for o, c in zip(outcomes, correct, strict=True)
    )
    decisive = right + wrong
    soft = [(o.probability, o.a_correct) for o in outcomes if o.probability is not None]
    return {
        "verdicts": verdicts,
        "accuracy": right / verdicts,
        "wrong": wrong / verdicts,
        "tie": sum(o.named is None and not o.invalid for o in outcomes) / verdicts,
        "invalid": sum(o.invalid for o in outcomes) / verdicts,
        "a_rate": sum(o.first_shown for o in outcomes) / decisive if decisive else math.nan,
        "own_answer": sum(o.via == "own-answer" for o in outcomes) / verdicts,
        "evidence": sum(o.via == "evidence" for o in outcomes) / verdicts,
        "calls": sum(o.calls for o in outcomes) / verdicts,
        "prompt_tokens": sum(o.prompt_tokens for o in outcomes) / verdicts,
        "processed": sum(o.processed for o in outcomes) / verdicts,
        "s_per_verdict": sum(o.seconds for o in outcomes) / verdicts,
        "brier": sum((p - y) ** 2 for p, y in soft) / len(soft) if soft else math.nan,
        "with_p": len(soft),
    }


def reliability(outcomes: list[Outcome]) -> list[tuple[str, int, float, float]]:
    """Bins of max(p, 1 - p): (bin, verdicts, mean confidence, share whose favoured side
    is the correct one)."""
    rows = []
    soft = [o for o in outcomes if o.probability is not None]
    for low, high in zip(BINS, BINS[1:], strict=False):
        inside = []
        for o in soft:
            assert o.probability is not None
            q = max(o.probability, 1 - o.probability)
            if low <= q < high:
                inside.append((q, (o.probability >= 0.5) == o.a_correct))
        if inside:
            mean_q = sum(q for q, _ in inside) / len(inside)
            share = sum(ok for _, ok in inside) / len(inside)
            rows.append((f"[{low:g}, {min(high, 1.0):g})", len(inside), mean_q, share))
    return rows


def margins(outcomes: list[Outcome]) -> list[tuple[float, int, int, int]]:
    """(margin, right, wrong, tie) of the verdicts with a probability, at other margins."""
    rows = []
    soft = [o for o in outcomes if o.probability is not None]
    for margin in MARGINS:
        right = wrong = tie = 0
        for o in soft:
            assert o.probability is not None
            if abs(o.probability - 0.5) <= margin:
                tie += 1
            elif (o.probability > 0.5) == o.a_correct:
                right += 1
            else:
                wrong += 1
        rows.append((margin, right, wrong, tie))
    return rows


async def whole_file(spec: str, path: Path, limit: int) -> dict[str, float]:
    """``spec`` on the first ``limit`` items of ``path`` with the default strategy."""
    judge = create_judge(spec)
    items = []
    for item in read_items(str(path)):
        if item.labels is not None and all(s is not None for s in item.labels.scores):
            items.append(item)
        if len(items) == limit:
            break
    picked, randoms, oracles, seconds = [], [], [], []
    try:
        for n, item in enumerate(items, 1):
            started = time.monotonic()
            result = await select_item(item, StrategyConfig("knockout", seed=0), judge)
            seconds.append(time.monotonic() - started)
            assert item.labels is not None
            scores = [float(s or 0.0) for s in item.labels.scores]
            picked.append(scores[result.selection.winner])
            randoms.append(sum(scores) / len(scores))
            oracles.append(max(scores))
            print(f"  {spec} on {path.name}: {n}/{len(items)} items", file=sys.stderr, end="\r")
        print(file=sys.stderr)
    finally:
        await judge.aclose()
    count = len(items)
    return {
        "items": count,
        "accuracy": sum(picked) / count,
        "random": sum(randoms) / count,
        "oracle": sum(oracles) / count,
        "s_per_item": sum(seconds) / count,
    }


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _row(variant: str, r: dict[str, float], load: str) -> str:
    return (
        f"| {variant} | {r['verdicts']} | {r['accuracy']:.3f} | {r['wrong']:.3f} "
        f"| {r['tie']:.3f} | {r['invalid']:.3f} | {r['a_rate']:.3f} "
        f"| {r['own_answer']:.3f} | {r['evidence']:.3f} | {r['calls']:.2f} "
        f"| {r['prompt_tokens']:.0f} | {r['processed']:.0f} | {r['s_per_verdict']:.2f} "
        f"| {r['brier']:.3f} ({r['with_p']}) | {load} |"
    )


def report(name: str, runs: dict[str, dict], margin: float) -> None:
    """The tables of one set: a row per variant (at ``margin``), then for the
    log-probability variants their reliability and other margins."""
    print(f"\n## {name}: pairs (one correct, one incorrect) x both orders, margin {margin:g}\n")
    print(
        "| variant | verdicts | accuracy | wrong | tie | invalid | A-rate | own answer | "
        "evidence | calls/verdict | prompt tokens/verdict | processed/verdict | "
        "s/verdict | Brier (n) | load before -> after |"
    )
    print("|---" * 15 + "|")
    for variant, run in runs.items():
        outcomes = at_margin(run["outcomes"], margin)
        print(_row(variant, summarize(outcomes, run["correct"]), run["load"]))
    for variant, run in runs.items():
        outcomes = run["outcomes"]
        if not any(o.probability is not None for o in outcomes):
            continue
        print(f"\n{name}, {variant}: reliability of max(p, 1-p)\n")
        print("| max(p, 1-p) | verdicts | mean | share right |\n|---|---|---|---|")
        for label, count, mean_q, share in reliability(outcomes):
            print(f"| {label} | {count} | {mean_q:.3f} | {share:.3f} |")
        print(f"\n{name}, {variant}: the verdicts with a probability at other margins\n")
        print("| margin | right | wrong | tie |\n|---|---|---|---|")
        for other, right, wrong, tie in margins(outcomes):
            print(f"| {other:g} | {right} | {wrong} | {tie} |")


def run_pairs(args: argparse.Namespace, name: str) -> dict[str, dict]:
    """Every variant on the pairs of set ``name``."""
    items = pairs(args.data / SETS[name], args.pairs, args.seed)
    correct = [c for _, c in items for _ in range(2)]
    runs = {}
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            spec = f"local:{args.model},{VARIANTS[variant]},cache={tmp}/verdicts.sqlite"
            before = _load()
            outcomes = asyncio.run(judge_pairs(spec, items))
        runs[variant] = {"outcomes": outcomes, "correct": correct, "load": f"{before} -> {_load()}"}
        print(_row(variant, summarize(outcomes, correct), runs[variant]["load"]), file=sys.stderr)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--sets", default="gsm8k,humaneval")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--save", type=Path, help="write every verdict to this JSON file")
    parser.add_argument("--load", type=Path, help="print the tables of a --save file")
    parser.add_argument("--file-items", type=int, default=0)
    parser.add_argument("--no-pairs", action="store_true", help="only the whole-file runs")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = args.sets.split(",")
    for name in names:
        if not (args.data / SETS[name]).is_file():
            sys.exit(f"skipped: {args.data / SETS[name]} not found (the shared benchmark data)")
    if args.load is not None:
        saved = json.loads(args.load.read_text())
        for name, runs in saved.items():
            for run in runs.values():
                run["outcomes"] = [
                    Outcome(**{**o, "shown": tuple(o["shown"])}) for o in run["outcomes"]
                ]
            report(name, runs, args.margin)
        return
    results: dict[str, dict] = {}
    for name in [] if args.no_pairs else names:
        results[name] = run_pairs(args, name)
        if args.save is not None:
            plain = {
                n: {v: {**run, "outcomes": [asdict(o) for o in run["outcomes"]]}
                    for v, run in runs.items()}
                for n, runs in results.items()
            }  # fmt: skip
            args.save.write_text(json.dumps(plain))
        report(name, results[name], args.margin)
    for name in names if args.file_items else []:
        for spec in (f"evidence+local:{args.model},cache=false", "evidence"):
            before = _load()
            r = asyncio.run(whole_file(spec, args.data / SETS[name], args.file_items))
            print(
                f"\n{name}, whole file ({SETS[name]}, first {r['items']} items, knockout): "
                f"{spec.split(',')[0]} accuracy {r['accuracy']:.3f} (Random@N "
                f"{r['random']:.3f}, Oracle@N {r['oracle']:.3f}), {r['s_per_item']:.1f} s/item, "
                f"load {before} -> {_load()}",
                flush=True,
            )


if __name__ == "__main__":
    main()

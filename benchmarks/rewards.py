"""rerank's RL rewards on the shared dev sets: verl's compute_score against the labels, and
TRL's GRPO reward (evidence judge) separating correct completions from wrong ones.

    python benchmarks/rewards.py                     # everything (~15 min on 2 cores)
    python benchmarks/rewards.py --part score        # compute_score agreement only
    python benchmarks/rewards.py --part grpo --limit 50

compute_score, called through its batched form (one call per row, the row's solutions
together, as verl's batch reward manager would send a GRPO group):

- GSM8K (400 x 4): ground truth = the gold answer, the value after ``A:`` (``####`` in the
  original GSM8K) on the last line of ``query.metadata.reference``, read by this script
  with a regex (not by rerank's extractor), as verl's GSM8K preprocessing stores it;
- HumanEval+ (164 x 6): ground truth = the hidden tests (base and plus inputs) written as
  visible-style asserts, ``assert _same(f(*args), expected, atol)``, whose expected values
  come from running the canonical solution in the sandbox
  (:func:`rerank.labels.code.expected_outputs`, as evalplus computes them)
  and whose ``_same`` is evalplus's comparison (equality, floats within atol/rtol, the
  find_zero oracle); no prompt is passed, as the labels ran each sample as written;
- IFEval (271 x 8): ``extra_info`` = the row's ``instruction_id_list`` and ``kwargs`` and
  the prompt; the label is strict prompt-level pass by Google's checker.

GRPO: each row is one group, flattened as TRL passes it, ``grpo_reward(judge="evidence")``
per mode, no ground truth granted (GSM8K is also run with ``expose=["answer"]``). Per mode:
the mean reward of correct and of wrong completions (over non-None rewards), their
difference overall and within mixed groups (those with both, where GRPO's group-relative
advantage learns anything), the share of None rewards, and completions per second
(evidence computed afresh for each mode). Labels are read only here, never by a judge.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rerank.rewards import compute_score_batch, grpo_reward

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GSM8K = "candidates/gsm8k_gpt3-4solutions_dev400.jsonl.gz"
HUMANEVAL = "candidates/humaneval_evalplus-6models.jsonl.gz"
HUMANEVAL_TASKS = "benchmarks/HumanEvalPlus-v0.1.10.jsonl.gz"
IFEVAL = "candidates/ifeval_8models_dev271.jsonl.gz"
MODES = ("winner", "rank", "bradley_terry", "verifier")
GOLD = re.compile(r"(?:####|A:)\s*(.+?)\s*$")


def rows(name: str, limit: int | None) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f][:limit]


def labels(row: dict[str, Any]) -> list[float]:
    return [r["metadata"]["score"] for r in row["responses"]]


def gold_answer(reference: str) -> str:
    match = GOLD.search(reference.strip().splitlines()[-1])
    if match is None:
        raise ValueError(f"no gold answer in {reference[-80:]!r}")
    return match.group(1).replace(",", "")


# --- HumanEval+ hidden tests as asserts -------------------------------------------------

SAME = """def _same(out, exp, atol):
    def close(o, e):
        if type(e) in (list, tuple):
            return type(o) in (list, tuple) and len(o) == len(e) and all(map(close, o, e))
        if type(o) not in (int, float) or type(e) not in (int, float):
            return False
        if math.isinf(e) or math.isinf(o):
            return o == e
        return abs(o - e) <= atol + 1e-07 * abs(e)
    floats = type(exp) is float or (
        type(exp) in (list, tuple) and exp and all(type(x) is float for x in exp))
    if out == exp:
        return True
    return floats and type(out) is type(exp) and close(out, exp)
"""
FIND_ZERO = """def _poly(xs, x):
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))
"""


def literal(value: Any) -> str:
    """Python source for a plain value (inf and nan as float(...))."""
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return f"float({str(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(literal(v) + ", " for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set):
        return "{" + ", ".join(literal(v) for v in value) + "}" if value else "set()"
    return repr(value)


def _huge(value: Any) -> bool:
    """An int past Python's 4300-digit limit for decimal text, anywhere in ``value``: the
    code verifier's test planner cannot write it back (``ast.unparse``)."""
    if isinstance(value, int):
        return value.bit_length() > 14000
    if isinstance(value, list | tuple | set):
        return any(_huge(v) for v in value)
    if isinstance(value, dict):
        return any(_huge(k) or _huge(v) for k, v in value.items())
    return False


def hidden_asserts(problem: Any, expected: Any) -> tuple[list[str], int]:
    """One assert per hidden input, and how many inputs could not be written (an output
    too large to send back, not plain data, or an int too long for decimal text)."""
    from rerank.verifiers.code.values import Digest, Opaque

    entry = problem.entry_point
    atol = max(problem.atol, 1e-6) if problem.atol else 0.0
    tests, skipped = [], 0
    inputs = [*problem.base_input, *problem.plus_input]
    for args, want in zip(inputs, [*expected.base, *expected.plus], strict=True):
        if isinstance(want, Digest | Opaque) or _huge(want) or _huge(args):
            skipped += 1
            continue
        call = f"{entry}({', '.join(literal(a) for a in args)})"
        if entry == "find_zero":
            tests.append(
                f"import math\n{FIND_ZERO}assert abs(_poly({literal(args[0])}, {call})) <= 1e-6"
            )
        else:
            tests.append(f"import math\n{SAME}assert _same({call}, {literal(want)}, {atol!r})")
    return tests, skipped


def humaneval_truths(limit: int | None) -> tuple[list[dict[str, Any]], list[Any], float, int]:
    from rerank.labels.code import expected_outputs, label_pool, load_problems

    data = rows(HUMANEVAL, limit)
    problems = load_problems(DATA / HUMANEVAL_TASKS)
    chosen = [problems[r["query"]["metadata"]["task_id"]] for r in data]
    start = time.perf_counter()
    with label_pool() as pool:
        expected = expected_outputs(chosen, pool)
    seconds = time.perf_counter() - start
    truths, skipped = [], 0
    for problem in chosen:
        tests, dropped = hidden_asserts(problem, expected[problem.task_id])
        skipped += dropped
        truths.append({"tests": tests, "entry_point": problem.entry_point})
    return data, truths, seconds, skipped


# --- compute_score agreement ------------------------------------------------------------


def agreement(name: str, data: list[dict[str, Any]], calls: Iterator[dict[str, Any]]) -> dict:
    agree = total = 0
    misses = []
    start = time.perf_counter()
    for done, (row, call) in enumerate(zip(data, calls, strict=True), start=1):
        scores = compute_score_batch(**call)
        if done % 20 == 0:
            print(
                f"  {name}: {done}/{len(data)} rows, {time.perf_counter() - start:.0f}s",
                file=sys.stderr,
                flush=True,
            )
        for k, (score, label) in enumerate(zip(scores, labels(row), strict=True)):
            agree += score == label
            total += 1
            if score != label and len(misses) < 8:
                where = row["query"]["metadata"].get("task_id") or row["query"]["content"][:40]
                misses.append(f"{where!r} #{k}: ours {score}, label {label}")
    seconds = time.perf_counter() - start
    return {"name": name, "agree": agree, "total": total, "seconds": seconds, "misses": misses}


def batch_call(row: dict[str, Any], source: str, truth: Any, extra: Any, **options: Any) -> dict:
    """The keyword arguments verl's batch reward manager passes for one row's solutions."""
    n = len(row["responses"])
    return {
        "data_sources": [source] * n,
        "solution_strs": [x["content"] for x in row["responses"]],
        "ground_truths": [truth] * n,
        "extra_infos": [extra] * n,
        **options,
    }


def score_part(limit: int | None) -> Iterator[dict]:
    """One agreement result per dataset, each as soon as it is measured."""
    gsm = rows(GSM8K, limit)
    yield agreement(
        "GSM8K",
        gsm,
        (
            batch_call(
                r,
                "openai/gsm8k",
                gold_answer(r["query"]["metadata"]["reference"]),
                {"question": r["query"]["content"]},
            )
            for r in gsm
        ),
    )
    he, truths, expected_seconds, skipped = humaneval_truths(limit)
    # evalplus gives each input max(1 s, 4 x the canonical time) and stops at the first
    # failure; the verifier runs every test, so a slow wrong program would spend its whole
    # budget: 1 s per test, 60 s per program.
    limits = {"timeout": 1.0, "total_timeout": 60.0}
    pairs = zip(he, truths, strict=True)
    calls = (batch_call(r, "evalplus/humanevalplus", t, {}, **limits) for r, t in pairs)
    result = agreement("HumanEval+", he, calls)
    result["note"] = (
        f"expected outputs {expected_seconds:.1f}s; inputs not writable as asserts: {skipped}"
    )
    yield result
    ife = rows(IFEVAL, limit)
    ids = ("instruction_id_list", "kwargs")
    calls = (
        batch_call(
            r,
            "google/IFEval",
            None,
            {**{k: r["query"]["metadata"][k] for k in ids}, "prompt": r["query"]["content"]},
        )
        for r in ife
    )
    yield agreement("IFEval", ife, calls)


# --- GRPO reward separation ---------------------------------------------------------------


def separation(data: list[dict[str, Any]], mode: str, batch: int, **options: Any) -> dict:
    """Run the reward over every group (``batch`` groups per TRL call) and summarise."""
    rewards: list[list[float | None]] = []
    start = time.perf_counter()
    with grpo_reward("evidence", mode=mode, **options) as reward:
        for s in range(0, len(data), batch):
            chunk = data[s : s + batch]
            prompts = [r["query"]["content"] for r in chunk for _ in r["responses"]]
            completions = [x["content"] for r in chunk for x in r["responses"]]
            columns = {}
            if options.get("expose"):
                columns["answer"] = [
                    r["query"]["metadata"]["reference"] for r in chunk for _ in r["responses"]
                ]
            flat = reward(prompts=prompts, completions=completions, completion_ids=None, **columns)
            k = 0
            for r in chunk:
                rewards.append(flat[k : k + len(r["responses"])])
                k += len(r["responses"])
    seconds = time.perf_counter() - start
    right, wrong, within, nones, total = [], [], [], 0, 0
    for row, values in zip(data, rewards, strict=True):
        group_right = [
            v for v, y in zip(values, labels(row), strict=True) if y == 1 and v is not None
        ]
        group_wrong = [
            v for v, y in zip(values, labels(row), strict=True) if y != 1 and v is not None
        ]
        right += group_right
        wrong += group_wrong
        if group_right and group_wrong:
            within.append(statistics.mean(group_right) - statistics.mean(group_wrong))
        nones += sum(v is None for v in values)
        total += len(values)
    mean = lambda xs: statistics.mean(xs) if xs else float("nan")  # noqa: E731
    return {
        "mode": mode,
        "correct": mean(right),
        "wrong": mean(wrong),
        "diff": mean(right) - mean(wrong),
        "mixed": mean(within),
        "mixed_groups": len(within),
        "none": nones / max(1, total),
        "per_s": total / seconds,
    }


def grpo_part(limit: int | None, batch: int) -> dict[str, list[dict]]:
    out = {}
    gsm = rows(GSM8K, limit)
    he = rows(HUMANEVAL, limit)
    out["GSM8K (N=4), nothing granted"] = [separation(gsm, m, batch) for m in MODES]
    out["GSM8K (N=4), answer granted"] = [
        separation(gsm, m, batch, expose=["answer"]) for m in MODES
    ]
    out["HumanEval+ (N=6), nothing granted"] = [separation(he, m, batch) for m in MODES]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("score", "grpo", "all"), default="all")
    parser.add_argument("--limit", type=int, default=None, help="rows of each file")
    parser.add_argument("--batch", type=int, default=16, help="groups per reward call")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"shared data not found at {DATA}")
    if args.part in ("score", "all"):
        print("compute_score vs labels")
        print(f"{'dataset':<11} {'solutions':>9} {'agree':>8} {'sol/s':>7}")
        for r in score_part(args.limit):
            share, speed = r["agree"] / r["total"], r["total"] / r["seconds"]
            print(f"{r['name']:<11} {r['total']:>9} {share:>8.2%} {speed:>7.1f}", flush=True)
            if r.get("note"):
                print(f"  {r['note']}")
            for miss in r["misses"]:
                print(f"  disagrees: {miss}")
    if args.part in ("grpo", "all"):
        print("\ngrpo_reward(judge='evidence'): mean reward, correct vs wrong completions")
        for name, results in grpo_part(args.limit, args.batch).items():
            print(name)
            head = ("mode", "correct", "wrong", "diff", "mixed", "groups", "None", "compl/s")
            print(f"  {head[0]:<13} " + " ".join(f"{h:>8}" for h in head[1:]))
            for r in results:
                numbers = [r[k] for k in ("correct", "wrong", "diff", "mixed")]
                print(
                    f"  {r['mode']:<13} "
                    + " ".join(f"{x:>8.3f}" for x in numbers)
                    + f" {r['mixed_groups']:>8} {r['none']:>8.1%} {r['per_s']:>8.1f}"
                )


if __name__ == "__main__":
    main()

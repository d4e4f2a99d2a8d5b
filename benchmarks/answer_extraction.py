"""Final-answer extraction (rerank.answers.extract_answer) against answers labelled by hand.

    python benchmarks/answer_extraction.py [--data ../shared/data] [--labels FILE] [--show]
    python benchmarks/answer_extraction.py --print-sample math_l5_8models_dev361.jsonl.gz

1. Math files: ``benchmarks/answer_labels.jsonl`` holds, for a fixed seeded sample of
   responses of each math-like candidate file, the final answer the response states, read
   by a person (``null``: it states none). Each line is ``{"file", "row", "response",
   "answer"}``; no response text is copied. The sample: ``random.Random(11).sample`` of
   all (row, response) pairs, 100 of the GSM8K file and 150 of the MATH file, plus 40 of
   the MATH responses that do not open with a ```` ```json ```` fence (the bare-JSON and
   prose-first formats), drawn the same way from what the first sample left
   (``--print-sample FILE`` prints the first sample for labelling).

   Per file and per extraction method (``answer.source``): claims (responses the extractor
   gives an answer), correct claims (equal to the label after ``normalize_answer``, else
   equivalent by math-verify), precision = correct / claims, recall = correct / responses
   labelled with an answer. Weak answers (a last number) are counted apart as well.
2. Every candidate file, labelled or not: how many responses get a strong answer and a
   weak one, by method. On code and instruction-following files every claim is one the
   extractor invents (``--show`` prints some).

Labels are read here only; nothing here reaches a judge.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from rerank.answers import NO_ANSWER, FinalAnswer, extract_answer, normalize_answer
from rerank.verifiers.math.equivalence import EquivalencePool

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
LABELS = ROOT / "benchmarks" / "answer_labels.jsonl"
SAMPLE_SIZES = {
    "gsm8k_gpt3-4solutions_dev400.jsonl.gz": 100,
    "math_l5_8models_dev361.jsonl.gz": 150,
}
SEED = 11
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def read_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def sample(rows: list[dict], size: int) -> list[tuple[int, int]]:
    """The labelled sample of a file: (row, response) pairs, seeded, in file order."""
    pairs = [(r, j) for r, row in enumerate(rows) for j in range(len(row["responses"]))]
    return sorted(random.Random(SEED).sample(pairs, size))


def _expression(written: str) -> str:
    key = normalize_answer(written)
    return key if _PLAIN_NUMBER.fullmatch(key) else written


def same_answer(found: str, label: str, pool: EquivalencePool) -> bool:
    """Equal normalised forms, else equivalent by math-verify."""
    if normalize_answer(found) == normalize_answer(label):
        return True
    return pool.equivalence([_expression(found)], _expression(label)).reference == (True,)


def method(answer: FinalAnswer) -> str:
    return answer.source if answer.written is not None else NO_ANSWER


def score_labels(data: Path, labels: Path, pool: EquivalencePool) -> dict[str, dict]:
    """Per file: counts overall and per method, and the misses."""
    by_file: dict[str, list[dict]] = defaultdict(list)
    for line in labels.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            by_file[label["file"]].append(label)
    results = {}
    for name, file_labels in by_file.items():
        rows = read_rows(data / "candidates" / name)
        total: Counter = Counter()
        methods: dict[str, Counter] = defaultdict(Counter)
        misses = []
        for label in file_labels:
            text = rows[label["row"]]["responses"][label["response"]]["content"]
            answer = extract_answer(text)
            expected = label["answer"]
            total["labelled"] += 1
            total["with answer"] += expected is not None
            if answer.written is None:
                if expected is not None:
                    misses.append((label, answer, "missed"))
                continue
            right = expected is not None and same_answer(answer.written, expected, pool)
            for counter in (total, methods[method(answer)]):
                counter["claims"] += 1
                counter["correct"] += right
                counter["weak claims"] += answer.weak
                counter["weak correct"] += answer.weak and right
            if not right:
                misses.append((label, answer, "wrong"))
        results[name] = {"total": total, "methods": methods, "misses": misses}
    return results


def claims_everywhere(data: Path) -> dict[str, Counter]:
    """Per candidate file: responses, and answers claimed by method (strong and weak)."""
    out = {}
    for path in sorted((data / "candidates").glob("*.jsonl.gz")):
        counts: Counter = Counter()
        for row in read_rows(path):
            for response in row["responses"]:
                answer = extract_answer(response["content"])
                counts["responses"] += 1
                if answer.written is not None:
                    counts["weak" if answer.weak else "strong"] += 1
                    counts[f"by {answer.source}"] += 1
        out[path.name] = counts
    return out


def _ratio(k: int, n: int) -> str:
    return f"{k}/{n} = {k / n:.3f}" if n else "-"


def print_tables(results: dict[str, dict], everywhere: dict[str, Counter], show: bool) -> None:
    print("## Hand-labelled samples: precision and recall\n")
    print("| file | method | claims | correct | precision | recall (of labelled answers) |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        total, methods = result["total"], result["methods"]
        answered = total["with answer"]
        rows = [("all", total)] + sorted(methods.items(), key=lambda kv: -kv[1]["claims"])
        for label, counts in rows:
            print(
                f"| {name.split('.')[0]} | {label} | {counts['claims']} | {counts['correct']} | "
                f"{_ratio(counts['correct'], counts['claims'])} | "
                f"{_ratio(counts['correct'], answered)} |"
            )
        strong = total["claims"] - total["weak claims"]
        strong_right = total["correct"] - total["weak correct"]
        print(
            f"| {name.split('.')[0]} | strong only | {strong} | {strong_right} | "
            f"{_ratio(strong_right, strong)} | {_ratio(strong_right, answered)} |"
        )
        print(
            f"\n{name}: {total['labelled']} labelled, {answered} state an answer, "
            f"{total['labelled'] - answered} state none.\n"
        )
    print("## Answers claimed on every candidate file\n")
    print("| file | responses | strong answers | weak answers | by method |")
    print("|---|---|---|---|---|")
    for name, counts in everywhere.items():
        methods = ", ".join(
            f"{k[3:]} {v}" for k, v in sorted(counts.items()) if k.startswith("by ")
        )
        print(
            f"| {name.split('.')[0]} | {counts['responses']} | {counts['strong']} | "
            f"{counts['weak']} | {methods or '-'} |"
        )
    if show:
        print("\n## Misses\n")
        for name, result in results.items():
            for label, answer, why in result["misses"]:
                print(
                    f"{name} row {label['row']} response {label['response']}: {why}: "
                    f"label {label['answer']!r}, extracted {answer.written!r} ({answer.describe()})"
                )


def print_sample(data: Path, name: str) -> None:
    rows = read_rows(data / "candidates" / name)
    for k, (r, j) in enumerate(sample(rows, SAMPLE_SIZES[name])):
        print(f"######## #{k} row={r} response={j}")
        print(rows[r]["responses"][j]["content"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--show", action="store_true", help="list the labelled misses")
    parser.add_argument("--print-sample", metavar="FILE", choices=sorted(SAMPLE_SIZES))
    args = parser.parse_args()
    if args.print_sample:
        print_sample(args.data, args.print_sample)
        return
    with EquivalencePool(workers=1) as pool:
        results = score_labels(args.data, args.labels, pool)
    print_tables(results, claims_everywhere(args.data), args.show)


if __name__ == "__main__":
    main()

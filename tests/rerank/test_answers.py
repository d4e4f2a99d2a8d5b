"""Tests for rerank.answers: final-answer extraction, normalisation and the vote key."""

from __future__ import annotations

import doctest
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import rerank.answers
from rerank.answers import answer_key, final_answer, normalize_answer

MATH500 = Path("benchmarks") / "MATH500-test.jsonl.gz"

GSM8K_SOLUTION = (
    "Janet eats 3 duck eggs for breakfast and bakes 4 into muffins so 3 + 4 = <<3+4=7>>7 "
    "duck eggs are used\n"
    "Each day Janet's ducks lay 16 eggs and she uses 7, 16 - 7 = <<16-7=9>>9 duck eggs are "
    "for sale\n"
    "She sells her eggs for $2 per egg and has 9 available for sale so 2 * 9 = $<<2*9=18>>18 "
    "per day\n"
    "A: 18"
)


# --- final_answer: each marker --------------------------------------------------------


def test_gsm8k_solution_with_calculator_notes_gives_its_answer_line() -> None:
    """A GSM8K solution with <<a=b>> notes and a final `A: x` line gives x."""
    assert final_answer(GSM8K_SOLUTION) == "18"


def test_hashes_take_the_last_occurrence() -> None:
    """Of several `#### x` lines, the last one gives the answer."""
    assert final_answer("#### 3\nWait, I made a mistake.\n#### 4\nDone, 5 steps.") == "4"


def test_boxed_keeps_nested_braces() -> None:
    """A boxed answer with nested braces comes out whole."""
    assert final_answer(r"So $x = \boxed{\frac{\sqrt{3}}{2}}$.") == r"\frac{\sqrt{3}}{2}"


def test_boxed_takes_the_last_box() -> None:
    """Of several boxes, the last one gives the answer."""
    assert final_answer(r"First \boxed{1}, then \fbox{2}, and at last \boxed{3}.") == "3"


def test_boxed_skips_escaped_braces() -> None:
    r"""Escaped braces \{ \} inside a box neither open nor close it."""
    assert final_answer(r"The set is \boxed{\{1, 2\}}.") == r"\{1, 2\}"


def test_truncated_box_falls_back_to_the_box_before_it() -> None:
    """A last box whose braces never close yields to the previous balanced box."""
    assert final_answer(r"\boxed{7} so far; finally \boxed{\frac{1}{2") == "7"


def test_answer_line_is_case_insensitive_in_all_three_forms() -> None:
    """`A: x`, `Answer: x` and `Final answer: x` on the last line, in any case, give x."""
    assert final_answer("2 + 2 = 4\na: 4") == "4"
    assert final_answer("2 + 2 = 4\nANSWER: 4.") == "4"
    assert final_answer("2 + 2 = 4\n**Final Answer:** 4\n\n") == "4"


def test_answer_line_counts_only_on_the_last_line() -> None:
    """An `Answer:` line followed by more text is no answer line."""
    assert final_answer("Answer: 4\nActually it is 5") == "5"


def test_answer_line_that_says_the_answer_is_gives_what_follows() -> None:
    """`Final Answer: The final answer is $y$. I hope it is correct.` gives y."""
    text = "So 6.\nFinal Answer: The final answer is $6$. I hope it is correct."
    assert final_answer(text) == "$6$"


def test_the_answer_is_takes_the_last_sentence_without_its_period() -> None:
    """The last "the answer is x" gives x up to its sentence end, trailing period dropped."""
    text = "I first thought the answer is 7. But the final answer is 3.5. Check: 2 + 1.5."
    assert final_answer(text) == "3.5"


def test_last_number_fallback_reads_signs_separators_decimals_and_fractions() -> None:
    """Without a marker, the last number is taken whole: -3, 1,234, 2.50, 3/4."""
    assert final_answer("It drops to -3 degrees") == "-3"
    assert final_answer("They sold 1,234 tickets in total") == "1,234"
    assert final_answer("Each costs 2.50 now") == "2.50"
    assert final_answer("She ate 3/4 of the pie") == "3/4"


def test_last_number_fallback_takes_no_binary_minus_and_no_digits_in_words() -> None:
    """`16-3` ends in 3 (not -3), and the 2 of `x2` or `step_2` is no number."""
    assert final_answer("We compute 16-3") == "3"
    assert final_answer("It is 5 times x2 in step_2") == "5"


def test_precedence_of_markers() -> None:
    """Hashes beat boxes, boxes beat answer lines, those beat "the answer is", then numbers."""
    assert final_answer("the answer is 1. \\boxed{2}\n#### 3") == "3"
    assert final_answer("the answer is 1. \\boxed{2}\nA: 4") == "2"
    assert final_answer("the answer is 1. Then 9\nA: 4") == "4"
    assert final_answer("the answer is 1. Then 9") == "1"


def test_last_number_can_be_turned_off() -> None:
    """With last_number=False only an explicit marker gives an answer."""
    assert final_answer("She ate 3/4 of the pie", last_number=False) is None
    assert final_answer("She ate 3/4 of the pie.\nA: 3/4", last_number=False) == "3/4"


def test_no_answer_in_prose_without_numbers() -> None:
    """Prose without a marker or a number has no final answer."""
    assert final_answer("I am not sure how to solve this one.") is None
    assert final_answer("") is None


def test_no_answer_in_code() -> None:
    """Bare code has no final answer, even with numbers or "the answer is" in a docstring."""
    code = 'def f(x):\n    """The answer is unique."""\n    return x + 1\n'
    assert final_answer(code) is None
    assert final_answer("import math\nprint(math.pi * 2)") is None


def test_fenced_code_gives_no_number_but_prose_markers_still_count() -> None:
    """Numbers inside or around a fence are no answer; an explicit marker outside one is."""
    fenced = "Here it is:\n```python\nprint(6 * 7)\n```\nIt takes 2 steps."
    assert final_answer(fenced) is None
    assert final_answer("```python\nprint(6 * 7)\n```\nThe answer is 42.") == "42"


def test_calculator_notes_are_ignored() -> None:
    """Numbers inside <<...>> notes are never the answer."""
    assert final_answer("The total is <<4*5=20>>") is None


def test_asymptote_figures_are_ignored() -> None:
    """An [asy] figure, import lines and numbers included, neither answers nor counts as code."""
    text = "[asy]\nimport graph;\ndraw((0,0)--(5,7));\n[/asy]\nThe area is 12"
    assert final_answer(text) == "12"


# --- normalize_answer -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  18  ", "18"),
        ("$18$", "18"),
        (r"\(18\)", "18"),
        ("18.", "18"),
        ("$$18$$.", "18"),
    ],
)
def test_normalize_strips_whitespace_delimiters_and_trailing_period(
    raw: str, expected: str
) -> None:
    """Whitespace, $...$, \\(...\\) and a trailing period do not change an answer."""
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize("raw", ["$18", r"\$18", "18%", r"18\%", "€18", "18 dollars"])
def test_normalize_drops_currency_percent_and_unit_words(raw: str) -> None:
    """Currency and percent signs, and unit words after a number, are dropped."""
    assert normalize_answer(raw) == "18"


@pytest.mark.parametrize("raw", ["1,234", "1{,}234", r"1,\!234", r"1\,234", "1234.00"])
def test_normalize_drops_thousands_separators(raw: str) -> None:
    """Thousands separators in plain or LaTeX form give the bare integer."""
    assert normalize_answer(raw) == "1234"


def test_normalize_keeps_commas_that_are_not_thousands_separators() -> None:
    """A list such as `1,2` is not read as a number."""
    assert normalize_answer("1,2") == "1,2"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("18.0", "18"),
        ("18.00", "18"),
        ("018", "18"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("+5", "5"),
        (".5", "0.5"),
        ("−3", "-3"),
        (r"\dfrac{10}{4}", "2.5"),
        ("3/1024", "0.0029296875"),
    ],
)
def test_normalize_canonicalises_numbers(raw: str, expected: str) -> None:
    """Equal numbers written differently normalise to one string."""
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize(
    "raw", ["1/2", "2/4", "0.5", r"\frac{1}{2}", r"\dfrac{1}{2}", r"\tfrac12", r"\frac{ 2 }{ 4 }"]
)
def test_normalize_reads_exact_fractions_as_decimals(raw: str) -> None:
    """A fraction of integers with an exact decimal expansion normalises to that decimal."""
    assert normalize_answer(raw) == "0.5"


@pytest.mark.parametrize(("raw", "expected"), [("2/6", "1/3"), (r"-\frac{2}{6}", "-1/3")])
def test_normalize_reduces_fractions_without_exact_decimals(raw: str, expected: str) -> None:
    """A fraction without an exact decimal expansion normalises to reduced p/q."""
    assert normalize_answer(raw) == expected


def test_normalize_leaves_division_by_zero_unevaluated() -> None:
    """`1/0` is not a number and does not raise."""
    assert normalize_answer("1/0") == "1/0"


def test_normalize_unwraps_text_and_lowercases_collapsing_whitespace() -> None:
    r"""\text{..} is unwrapped; non-numeric answers are lowercased with whitespace collapsed."""
    assert normalize_answer(r"\text{(C)}") == "(c)"
    assert normalize_answer("  New \n  York ") == "new york"
    assert normalize_answer(r"\left( 3, \frac{\pi}{2} \right)") == r"( 3, \frac{\pi}{2} )"


def test_normalize_drops_a_single_variable_assignment() -> None:
    """`x = 5` normalises as `5`; a system such as `a = 1, b = 2` is left alone."""
    assert normalize_answer("x = 5") == "5"
    assert normalize_answer("a = 1, b = 2") == "a = 1, b = 2"


@pytest.mark.parametrize(
    "raw",
    [
        "$1,234.50",
        "2/6",
        r"\text{ Blue }",
        r"\frac{\pi}{2}",
        "x = -0.50",
        "18 dollars",
        "(1, 2)",
        "-\\frac{3}{8}",
    ],
)
def test_normalize_is_idempotent(raw: str) -> None:
    """Normalising a normalised answer changes nothing."""
    once = normalize_answer(raw)
    assert normalize_answer(once) == once


# --- answer_key -----------------------------------------------------------------------


def test_answer_key_agrees_across_answer_styles() -> None:
    """The same answer in GSM8K, boxed, answer-is and bare-number styles gets one key."""
    styles = [
        GSM8K_SOLUTION,
        "9 * 2 = 18\n#### 18",
        r"We get $\boxed{18.00}$.",
        "So the answer is $18.",
        "She makes 18 dollars",
    ]
    assert {answer_key(text) for text in styles} == {"18"}


def test_answer_key_is_none_without_an_answer() -> None:
    """A response without a final answer has no key, and neither has an empty box."""
    assert answer_key("No idea.") is None
    assert answer_key("A: $") is None


def test_docstring_examples() -> None:
    """The examples in the module's docstrings hold."""
    result = doctest.testmod(rerank.answers)
    assert result.attempted > 0
    assert result.failed == 0


# --- real data (../shared/data; the shared_data fixture skips where it is absent) ------


def _jsonl(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def test_gsm8k_keys_agree_with_correctness_labels(shared_data: Path) -> None:
    """On GSM8K candidates, key == reference key matches the score label on >= 95%."""
    agree = total = 0
    for row in _jsonl(shared_data / "candidates" / "gsm8k_gpt3-4solutions_dev400.jsonl.gz"):
        reference = answer_key(row["query"]["metadata"]["reference"])
        assert reference is not None
        for response in row["responses"]:
            key = answer_key(response["content"])
            assert key is not None, response["content"]
            agree += (key == reference) == (response["metadata"]["score"] == 1.0)
            total += 1
    print(f"GSM8K agreement with labels: {agree}/{total} = {agree / total:.4f}")
    assert total == 1600
    assert agree / total >= 0.95


def test_math500_boxed_answers_key_to_their_normal_form(shared_data: Path) -> None:
    r"""answer_key(\boxed{answer}) == normalize_answer(answer) on >= 99% of MATH500."""
    answers = [row["answer"] for row in _jsonl(shared_data / MATH500) if "answer" in row]
    same = sum(answer_key(rf"\boxed{{{a}}}") == normalize_answer(a) for a in answers)
    print(f"MATH500 boxed agreement: {same}/{len(answers)} = {same / len(answers):.4f}")
    assert len(answers) == 500
    assert same / len(answers) >= 0.99


def test_math500_solutions_key_to_their_gold_answer(shared_data: Path) -> None:
    """answer_key of a MATH500 reference solution equals its normalised answer on >= 99%."""
    rows = [row for row in _jsonl(shared_data / MATH500) if "answer" in row]
    same = sum(answer_key(row["solution"]) == normalize_answer(row["answer"]) for row in rows)
    print(f"MATH500 solution agreement: {same}/{len(rows)} = {same / len(rows):.4f}")
    assert same / len(rows) >= 0.99


def test_code_candidates_have_no_answer_key(shared_data: Path) -> None:
    """No HumanEval+ candidate (code, docstrings and all) gets an answer key."""
    path = shared_data / "candidates" / "humaneval_evalplus-6models.jsonl.gz"
    keys = [answer_key(r["content"]) for row in _jsonl(path) for r in row["responses"]]
    assert len(keys) == 984
    assert [k for k in keys if k is not None] == []

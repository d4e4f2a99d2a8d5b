"""Tests for rerank.answers: final-answer extraction, normalisation and the vote key."""

from __future__ import annotations

import doctest
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import rerank.answers
import rerank.answers_json
from rerank.answers import (
    LAST_NUMBER,
    answer_key,
    extract_answer,
    final_answer,
    normalize_answer,
    vote_keys,
)

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
    """Hashes beat JSON, JSON beats boxes, boxes beat answer lines, those beat "the answer
    is", then numbers."""
    assert final_answer("the answer is 1. \\boxed{2}\n#### 3") == "3"
    assert final_answer('\\boxed{2} {"answer": "5"}\n#### 3') == "3"
    assert final_answer('\\boxed{2}\n{"answer": "5"}') == "5"
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


# --- extract_answer: the forms models write -------------------------------------------

FENCED_JSON = '```json\n{\n    "reasoning": "We add.",\n    "answer": "-15"\n}\n```'


@pytest.mark.parametrize(
    ("text", "written", "source"),
    [
        (FENCED_JSON, "-15", "json:answer"),
        ('{"reasoning": "x", "final_answer": 42}', "42", "json:final_answer"),
        ('{"Final Answer": "7"}', "7", "json:Final Answer"),
        ('{"result": ["2", -1]}', "2, -1", "json:result"),
        ('{"solution": {"steps": ["a"], "answer": {"value": 3}}}', "3", "json:answer"),
        ("{'answer': '12', 'reasoning': 'python dict'}", "12", "json:answer"),
        (
            'Here is my reasoning:\n\n{"reasoning": "ok", "answer": "\\\\boxed{17}"}',
            "17",
            "json:answer",
        ),
        ('{"answer": "The answer is 6."}', "6", "json:answer"),
    ],
)
def test_json_objects_bare_or_fenced_give_their_answer_key(
    text: str, written: str, source: str
) -> None:
    """A JSON object with an answer-like key (any case, nested, boxed inside) gives it."""
    answer = extract_answer(text)
    assert (answer.written, answer.source, answer.weak) == (written, source, False)


@pytest.mark.parametrize(
    ("raw", "written"),
    [
        (r"\frac{1}{2}", r"\frac{1}{2}"),  # strict JSON reads \f as a form feed
        (r"7 + \sqrt{69}", r"7 + \sqrt{69}"),  # \s is no JSON escape at all
        (r"\\frac{3 \\sqrt{3}}{4}", r"\frac{3 \sqrt{3}}{4}"),  # escaped properly
        (r"\(\frac{1}{512}\)", r"\(\frac{1}{512}\)"),
        (r"\theta = \neq \beta \right", r"\theta = \neq \beta \right"),
    ],
)
def test_json_answers_keep_unescaped_latex(raw: str, written: str) -> None:
    """LaTeX written into JSON without escaping comes out as the model wrote it."""
    text = '{"reasoning": "line one\nline two \\(x\\) \\nThe end", "answer": "' + raw + '"}'
    assert extract_answer(text).written == written


def test_json_that_no_parser_reads_is_read_by_its_key() -> None:
    """Unescaped quotes inside a string break every parser; the answer key still reads."""
    text = 'Here:\n{\n "reasoning": "He said "hi" and \\frac12",\n "answer": "\\frac{5}{2}"\n}'
    answer = extract_answer(text)
    assert (answer.written, answer.source) == (r"\frac{5}{2}", "json:answer")


def test_the_last_json_object_with_an_answer_wins() -> None:
    """Of several objects, the last one with an answer key gives the answer."""
    text = '{"answer": "1"}\nOn second thought:\n```json\n{"answer": "2"}\n```\n{"note": "x"}'
    assert final_answer(text) == "2"


@pytest.mark.parametrize(
    "value",
    ['""', '"None"', '"N/A"', "null", '"' + "I cannot say without the long work. " * 3 + '"'],
)
def test_an_empty_json_answer_is_no_answer_and_no_number_is_guessed(value: str) -> None:
    """An answer key that states nothing means no answer, not the last number of the text."""
    answer = extract_answer('{"reasoning": "1 + 2 = 3, so 3", "answer": ' + value + "}")
    assert answer.written is None and "answer" in answer.reason


def test_json_in_code_fences_of_other_languages_is_not_read() -> None:
    """A dict in a python fence is code, not the response's answer."""
    text = 'Run this:\n```python\nprint({"answer": 41})\n```\nThe answer is 42.'
    assert extract_answer(text).written == "42"


@pytest.mark.parametrize(
    ("text", "written", "source"),
    [
        ("We get **Final Answer:** 5", None, None),  # not at the start of a line
        ("Work.\n**Final Answer:** 5\n\nHope this helps!", "5", "final-answer"),
        ("Work.\n### Final Answer\n\nThe total number of ways is 120.", "120", "final-answer"),
        ("Work.\n**Final Answer**\n\\[ \\boxed{\\frac{3}{4}} \\]", r"\frac{3}{4}", "boxed"),
        ("Final answer is 7", "7", "final-answer"),
        ("so the answer is $5$. Check: 2 + 3.", "$5$", "phrase"),
        ("Lots of work.\n\nTherefore x = 5.", "5", "conclusion"),
        ("Work.\n\nThus, \\(p + q + r = 1 + 7 + 4 = 12\\).", "12", "conclusion"),
        ("Work.\n\nTherefore, the sum of these integers is $-15$.", "$-15$", "conclusion"),
        ("Then \\boxed 5 is it", "5", "boxed"),
        ("A: 18", "18", "answer-line"),
        ("16 - 3 = 13\n#### 13", "13", "hashes"),
    ],
)
def test_prose_markers_give_the_stated_answer(
    text: str, written: str | None, source: str | None
) -> None:
    """Each prose marker gives the answer it introduces, and says which marker it was."""
    answer = extract_answer(text)
    if written is None:
        assert answer.source == LAST_NUMBER
    else:
        assert (answer.written, answer.source) == (written, source)


def test_a_conclusion_is_read_only_at_the_end_and_only_as_a_value() -> None:
    """ "Therefore" mid-way, or followed by prose rather than a value, states no answer."""
    steps = "Therefore x = 5. " + "Now we keep going with more work on the other part. " * 3
    assert extract_answer("Start.\n\n" + steps).source == LAST_NUMBER
    assert extract_answer("Thus, there is only one value of r.").written is None


def test_markdown_headings_are_not_gsm8k_answers() -> None:
    """`#### **7. Recap**` is a heading; `#### 18 dollars` an answer."""
    assert extract_answer("#### **7. Recap and Q&A (15 minutes)**\nBye").source != "hashes"
    assert extract_answer("#### 18 dollars").written == "18 dollars"


def test_quotes_around_a_stated_answer_are_dropped() -> None:
    """`Final Answer: "6".` and `... is 6."` give 6."""
    assert final_answer('x\nFinal Answer: "6".') == "6"
    assert normalize_answer('"6"') == "6"


def test_a_cut_off_calculator_note_is_not_read() -> None:
    """A note cut off mid-way (`$<<41.472+8.`) states nothing."""
    text = "So the price will be $41.472+$8.2944 = $<<41.472+8."
    assert extract_answer(text).written == "8.2944"


def test_a_last_number_is_weak_and_says_so() -> None:
    """Without a marker the last number is an answer marked weak, with its source."""
    answer = extract_answer("We count 3 apples and 4 pears")
    assert (answer.written, answer.weak, answer.describe()) == ("4", True, "last-number (weak)")


def test_no_answer_says_why() -> None:
    """A response without an answer says so, with a reason, never a sentinel answer."""
    assert extract_answer("I am not sure.").describe() == "none (no final answer found)"
    assert extract_answer("import os\nprint(1)").reason == "code states no final answer"
    assert extract_answer("I am not sure.").key is None


def test_vote_keys_let_weak_answers_only_join_stated_ones() -> None:
    """Weak answers vote only with an explicitly stated answer; no answer never votes."""
    texts = ["A: 5", "we get 5", "we get 3", "we get 3", "we get 3", "No idea.", "Dunno."]
    assert vote_keys(texts) == ["5", "5", None, None, None, None, None]


def test_normalize_reads_degrees_and_pi_and_bold() -> None:
    """`130°`, `130^\\circ` and `**130**` are 130; `25π` is `25\\pi`."""
    assert {normalize_answer(a) for a in ("130°", "130^\\circ", "130^{\\circ}", "**130**")} == {
        "130"
    }
    assert normalize_answer("25π") == normalize_answer("25\\pi")


def test_hostile_text_is_read_in_bounded_time() -> None:
    """Many unclosed objects and boxes cost one bounded pass, not a quadratic one."""
    import time

    start = time.perf_counter()
    extract_answer('{"a' * 20_000 + "\\boxed{" * 5_000)
    assert time.perf_counter() - start < 5


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


@pytest.mark.parametrize("module", [rerank.answers, rerank.answers_json])
def test_docstring_examples(module) -> None:
    """The examples in the modules' docstrings hold."""
    result = doctest.testmod(module)
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


def test_hand_labelled_answers_are_extracted(shared_data: Path) -> None:
    """On the hand-labelled samples (benchmarks/answer_labels.jsonl), strong answers are
    right >= 98% and found for >= 97% of the responses that state one."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "answer_extraction",
        Path(__file__).resolve().parents[2] / "benchmarks" / "answer_extraction.py",
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with bench.EquivalencePool(workers=1) as pool:
        results = bench.score_labels(shared_data, bench.LABELS, pool)
    assert set(results) == set(bench.SAMPLE_SIZES)
    for name, result in results.items():
        total = result["total"]
        strong = total["claims"] - total["weak claims"]
        strong_right = total["correct"] - total["weak correct"]
        assert total["labelled"] >= 100, name
        assert strong_right >= 0.98 * strong, (name, result["misses"])  # measured 100%
        assert strong_right >= 0.97 * total["with answer"], (name, result["misses"])  # 100%


def test_instruction_responses_get_few_strong_answers(shared_data: Path) -> None:
    """On IFEval responses (prose, no math asked of most) under 5% state a strong answer."""
    path = shared_data / "candidates" / "ifeval_8models_dev271.jsonl.gz"
    answers = [extract_answer(r["content"]) for row in _jsonl(path) for r in row["responses"]]
    strong = [a for a in answers if a.written is not None and not a.weak]
    assert len(strong) < 0.05 * len(answers)  # measured 71 of 2168

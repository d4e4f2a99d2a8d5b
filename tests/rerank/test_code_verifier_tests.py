"""The visible tests and probes of code items (rerank.verifiers.code.tests)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rerank.verifiers.code.tests import (
    Probe,
    VisibleTest,
    call_key,
    entry_point_of,
    probes,
    visible_tests,
)


def _rows(shared_data: Path, name: str) -> dict[str, dict]:
    with gzip.open(shared_data / "benchmarks" / name, "rt", encoding="utf-8") as f:
        return {row["task_id"]: row for row in map(json.loads, f)}


SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return _rows(SHARED_DATA, "HumanEvalPlus-v0.1.10.jsonl.gz")


def test_humaneval_doctests_from_a_real_prompt(humaneval):
    """HumanEval/0's two ``>>>`` examples become two examples with their outputs."""
    tests = visible_tests(humaneval["HumanEval/0"]["prompt"])
    assert tests == [
        VisibleTest("example:1", "has_close_elements([1.0, 2.0, 3.0], 0.5)", "False"),
        VisibleTest("example:2", "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True"),
    ]


@pytest.mark.parametrize(
    ("task_id", "first"),
    [
        ("HumanEval/72", ("will_it_fly([1, 2], 5)", "False")),  # ➞
        ("HumanEval/69", ("search([4, 1, 2, 2, 3, 1])", "2")),  # ==
        ("HumanEval/66", ('digitSum("")', "0")),  # =>
        ("HumanEval/71", ("triangle_area(3, 4, 5)", "6.00")),
    ],
)
def test_humaneval_example_lines_from_real_prompts(humaneval, task_id, first):
    """``f(x) ➞ y`` / ``== y`` / ``=> y`` lines are examples with a literal output."""
    tests = visible_tests(humaneval[task_id]["prompt"])
    assert (tests[0].source, tests[0].want) == first


def test_prose_arrows_are_not_tests(humaneval):
    """HumanEval/67's "f(...) -> 19 - 5 - 6 = 8" explains; it is not a literal output."""
    assert visible_tests(humaneval["HumanEval/67"]["prompt"]) == []


def test_doctest_comparison_without_output_is_an_assertion(humaneval):
    """``>>> count_nums([]) == 0`` (no output line) asserts the comparison."""
    tests = visible_tests(humaneval["HumanEval/108"]["prompt"])
    assert [t.source for t in tests][:1] == ["assert count_nums([]) == 0"]
    assert all(t.want is None for t in tests)


def test_entry_point_is_the_function_left_to_write(humaneval):
    """HumanEval/38 defines encode_cyclic and leaves decode_cyclic: the latter is asked for."""
    assert entry_point_of(humaneval["HumanEval/38"]["prompt"]) == "decode_cyclic"


def test_every_humaneval_prompt_names_its_entry_point(humaneval):
    """Read from the prompt alone, the entry point is the benchmark's, for all 164 tasks."""
    wrong = [
        task_id
        for task_id, row in humaneval.items()
        if entry_point_of(row["prompt"]) != row["entry_point"]
    ]
    assert wrong == []


def test_mbpp_assert_lines_from_a_real_prompt(shared_data):
    """An MBPP+ prompt in evalplus's format (description and an assert) gives that assert."""
    row = _rows(shared_data, "MbppPlus-v0.2.0-approx.jsonl.gz")["Mbpp/2"]
    first_assert = row["assertion"].strip().split("\n")[0]
    prompt = f'"""\nWrite a function to find the shared elements.\n{first_assert}\n"""\n'
    assert entry_point_of(prompt) == "similar_elements"
    assert visible_tests(prompt) == [VisibleTest("example:1", first_assert)]


def test_mbpp_style_asserts_hand_written():
    """Each ``assert`` line of a prose prompt is one example, in order."""
    prompt = "Write a function to add two numbers.\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    assert [t.source for t in visible_tests(prompt)] == [
        "assert add(1, 2) == 3",
        "assert add(0, 0) == 0",
    ]
    assert entry_point_of(prompt) == "add"


def test_bigcodebench_docstring_examples_keep_their_setup(shared_data):
    """BigCodeBench/0: the assignment before the checked line is its setup."""
    row = _rows(shared_data, "BigCodeBench-v0.1.0-hf.jsonl.gz")["BigCodeBench/0"]
    tests = visible_tests(row["complete_prompt"])
    assert tests == [
        VisibleTest(
            "example:1",
            "isinstance(result, float)",
            "True",
            setup=("result = task_func([1, 2, 3])",),
        )
    ]
    assert entry_point_of(row["instruct_prompt"]) == "task_func"


def test_bigcodebench_style_hand_written():
    """Setup lines (imports, assignments) accumulate; only lines with output are tests."""
    prompt = (
        'import random\n\ndef task_func(n):\n    """Roll.\n\n    Example:\n'
        "    >>> random.seed(0)\n    >>> x = task_func(3)\n    >>> len(x)\n    3\n"
        '    >>> print(x[0] >= 1)\n    True\n    """\n'
    )
    tests = visible_tests(prompt)
    assert [(t.source, t.want, t.setup) for t in tests] == [
        ("len(x)", "3", ("random.seed(0)", "x = task_func(3)")),
        ("print(x[0] >= 1)", "True", ("random.seed(0)", "x = task_func(3)")),
    ]


def test_user_tests_follow_the_examples_with_their_own_ids():
    """resources["tests"] become test:1.. after the prompt's example:1.."""
    prompt = 'def f(x):\n    """\n    >>> f(1)\n    2\n    """\n'
    tests = visible_tests(prompt, {"tests": ["assert f(2) == 3", "  "]})
    assert [t.id for t in tests] == ["example:1", "test:1"]
    assert visible_tests("", {"tests": "assert f(0) == 1"})[0].source == "assert f(0) == 1"


def test_entry_point_resource_wins_over_the_prompt():
    """A declared entry point is used even when the prompt defines another function."""
    assert entry_point_of("def g():\n    pass\n", {"entry_point": "f"}) == "f"
    assert entry_point_of("Write something nice.") is None


def test_probes_are_literal_calls_and_given_inputs_without_duplicates():
    """Probes: the examples' literal calls, then inputs as args, arg source or whole calls."""
    tests = [
        VisibleTest("example:1", "f(1, [2])", "3"),
        VisibleTest("example:2", "assert f(x) == 1", setup=("x = 1",)),
        VisibleTest("example:3", "assert f(1, [2]) == 3"),
    ]
    found = probes(tests, {"inputs": [[5, "a"], "7, 8", "f(9)", "f(1, [2])", 4]}, "f")
    assert found == [
        Probe(source="f(1, [2])"),
        Probe(args=(5, "a")),
        Probe(source="f(7, 8)"),
        Probe(source="f(9)"),
        Probe(args=(4,)),
    ]
    assert probes(tests, {"inputs": [[1]]}, None) == []


def test_call_key_names_the_call_a_test_makes():
    """An example's expression or an assert's left side, as a probe would write it."""
    assert call_key(VisibleTest("example:1", "f( 1,2 )", "3")) == "f(1, 2)"
    assert call_key(VisibleTest("example:1", "assert f(1)  ==  2")) == "f(1)"
    assert call_key(VisibleTest("example:1", "f(x)", "3", setup=("x = 1",))) is None
    assert call_key(VisibleTest("example:1", "assert f(1) > 2")) is None

"""Task-kind detection: declared kind, resources, then content."""

from __future__ import annotations

import pytest

from rerank.items import Item
from rerank.verifiers.code import CodeVerifier
from rerank.verifiers.instructions import InstructionVerifier
from rerank.verifiers.math import MathVerifier
from rerank.verifiers.router import detect_kind


def _item(prompt, texts, kind=None, resources=None):
    return Item.from_texts(prompt, texts, kind=kind, resources=resources)


@pytest.mark.parametrize(
    ("prompt", "texts", "kind", "resources", "expected"),
    [
        ("anything", ["a", "b"], "math", None, "math"),
        ("Write a poem.", ["a"], None, {"instruction_id_list": ["x:y"]}, "instruction"),
        ("Do it.", ["a"], None, {"tests": ["assert f() == 1"]}, "code"),
        ("def add(a, b):\n    '''Add.'''\n", ["return a + b"], None, None, "code"),
        (
            "'''\nWrite a function to find the shared elements of two lists.\n'''",
            ["def common(a, b):\n    return set(a) & set(b)", "```python\ndef f(a, b): ...\n```"],
            None,
            None,
            "code",
        ),
        (
            "Write a story about a cat in all lowercase letters.",
            ["a cat"],
            None,
            None,
            "instruction",
        ),
        (
            "Tom has 3 apples and buys 4. How many?",
            ["3 + 4 = 7\n#### 7", "#### 8"],
            None,
            None,
            "math",
        ),
        (
            "Jan has three pets and buys four more. How many?",
            ["#### 7", "The answer is 7."],
            None,
            None,
            "math",
        ),
        (
            "Why is the sky blue?",
            ["Rayleigh scattering.", "Because of the sea."],
            None,
            None,
            "general",
        ),
    ],
)
def test_detect_kind(prompt, texts, kind, resources, expected):
    """The declared kind wins, then resources, then code, instruction and math content."""
    assert detect_kind(_item(prompt, texts, kind, resources)) == expected


def test_doctest_examples_mean_code():
    """A prompt with doctest examples is code even when no candidate defines a function.

    The router once lacked the code verifier's ``>>> `` rule and sent such items to math.
    """
    prompt = "Complete the function.\n>>> double(2)\n4\n>>> double(5)\n10"
    item = _item(prompt, ["lambda x: 2 * x", "The answer is 10"])
    assert MathVerifier.claims_content(item)  # math would claim it next
    assert detect_kind(item) == "code"


def test_instruction_ids_outrank_code_resources():
    """An item carrying instruction ids is an instruction item, even with tests."""
    resources = {"instruction_id_list": ["x:y"], "tests": ["assert f() == 1"]}
    assert detect_kind(_item("Do it.", ["a"], resources=resources)) == "instruction"


def test_code_content_outranks_instruction_content():
    """A function signature beats a constraint the extractor reads in the same prompt."""
    item = _item("def shout(s):\n    '''Answer in all lowercase letters.'''\n", ["s.lower()"])
    assert InstructionVerifier.claims_content(item)
    assert detect_kind(item) == "code"


@pytest.mark.parametrize(
    ("prompt", "texts"),
    [
        ("def add(a, b):\n    '''Add.'''\n", ["return a + b"]),
        ("Write f.\n>>> f(1)\n2", ["lambda x: x + 1"]),
        ("Reverse a list.", ["def f(xs):\n    return xs[::-1]", "def g(xs): ..."]),
        ("Write a story about a cat in all lowercase letters.", ["a cat"]),
        ("Tom has 3 apples and buys 4. How many?", ["3 + 4 = 7\n#### 7", "#### 8"]),
    ],
)
def test_the_routed_verifier_applies(prompt, texts):
    """Whichever verifier the router picks for an undeclared item agrees that it applies."""
    verifiers = {v.name: v for v in (CodeVerifier(), InstructionVerifier(), MathVerifier())}
    item = _item(prompt, texts)
    assert verifiers[detect_kind(item)].applies(item)

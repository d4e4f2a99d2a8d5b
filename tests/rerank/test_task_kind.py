"""Task-kind detection: declared kind, resources, then content."""

from __future__ import annotations

import pytest

from rerank.items import Item
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

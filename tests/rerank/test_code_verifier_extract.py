"""Finding the program in a response (rerank.verifiers.code.extract): no sandbox needed."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest

from rerank.verifiers.code.extract import (
    Program,
    extract_program,
    fenced_blocks,
    longest_parsable,
    prompt_context,
    sanitize,
)

PROMPT = '''from typing import List


def double_all(xs: List[int]) -> List[int]:
    """Double every element.
    >>> double_all([1, 2])
    [2, 4]
    """
'''


def _program(text: str, **kwargs) -> Program:
    program = extract_program(text, **kwargs)
    assert isinstance(program, Program), program
    return program


def _names(code: str) -> set[str]:
    return {n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}


def test_fenced_block_is_taken_without_the_prose():
    """A python fence inside prose yields exactly the fenced code."""
    text = "Here is my answer:\n\n```python\ndef f(x):\n    return x + 1\n```\n\nIt adds one."
    program = _program(text, entry_point="f")
    assert program.code == "def f(x):\n    return x + 1"
    assert program.method == "fenced block"


def test_several_fences_are_joined_so_helpers_come_along():
    """A helper in one fence and the function in another make one program."""
    text = (
        "First a helper:\n```python\ndef helper(x):\n    return 2 * x\n```\n"
        "Then the function:\n```\ndef f(x):\n    return helper(x)\n```\n"
    )
    program = _program(text, entry_point="f")
    assert _names(program.code) == {"helper", "f"}
    assert program.method == "2 fenced blocks joined"


def test_fences_in_other_languages_are_ignored():
    """A shell or output fence is not Python and is not part of the program."""
    text = "```bash\npip install nothing\n```\n```python\ndef f():\n    return 1\n```\n"
    assert _program(text, entry_point="f").code == "def f():\n    return 1"


def test_unclosed_fence_runs_to_the_end():
    """A truncated generation (fence never closed) still yields its code."""
    blocks = fenced_blocks("text\n```python\ndef f():\n    return 1\n")
    assert blocks == [("python", "def f():\n    return 1")]


def test_usage_block_is_sanitized_away_but_kept_in_the_raw_program():
    """Top-level prints and input() calls are dropped from the sanitized variant only."""
    text = "```python\ndef f(x):\n    return x\n\nprint(f(2))\nn = int(input())\n```"
    program = _program(text, entry_point="f")
    assert "print(f(2))" in program.code
    assert program.sanitized == "def f(x):\n    return x"


def test_bare_code_is_taken_as_is():
    """A response that is only code is the program."""
    text = "import math\n\ndef f(x):\n    return math.sqrt(x)\n"
    program = _program(text, entry_point="f")
    assert program.method == "bare code"
    assert program.code == text.strip("\n")
    assert program.sanitized is None


def test_prose_around_unfenced_code_is_cut_off():
    """Without fences, the longest span of lines that parses is the program."""
    text = (
        "Sure! The idea is simple.\n\ndef f(x):\n    y = x * 2\n    return y\n\n"
        "This runs in O(1) time, isn't that nice?"
    )
    program = _program(text, entry_point="f")
    assert program.code == "def f(x):\n    y = x * 2\n    return y\n"
    assert program.method == "longest parsable span"


def test_indented_body_continues_the_prompt():
    """A HumanEval-style completion (only the body) is appended to the prompt."""
    program = _program("    return [2 * x for x in xs]\n", prompt=PROMPT, entry_point="double_all")
    assert program.method == "body continuing the prompt"
    assert program.code.startswith(PROMPT.rstrip("\n"))
    namespace: dict = {}
    exec(program.code, namespace)
    assert namespace["double_all"]([1, 2]) == [2, 4]


def test_fenced_body_continues_the_prompt():
    """A fenced block holding only the body is a continuation too."""
    text = "```python\n    return [x * 2 for x in xs]\n```"
    assert (
        _program(text, prompt=PROMPT, entry_point="double_all").method
        == "fenced body continuing the prompt"
    )


def test_no_code_gives_a_reason():
    """Prose alone is no program, and the reason says so."""
    assert extract_program("I am not able to help with that.") == "no code found"
    assert extract_program("", prompt=PROMPT, entry_point="double_all") == "no code found"


def test_code_without_the_entry_point_gives_a_reason():
    """A program that defines something else is rejected, naming the entry point."""
    reason = extract_program("def g(x):\n    return x\n", entry_point="f")
    assert reason == "the code does not define f()"


def test_a_stub_does_not_count_as_defining_the_entry_point():
    """Restating the signature with ``pass`` is not an implementation."""
    assert isinstance(extract_program("def f(x):\n    pass\n", entry_point="f"), str)


def test_sanitize_keeps_what_the_entry_point_reaches():
    """Unreachable functions and top-level calls go; reachable helpers and decorators stay."""
    code = (
        "import functools\n\n@functools.lru_cache\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n"
        "def unused():\n    return 0\n\nprint(fib(10))\n"
    )
    clean = sanitize(code, "fib")
    assert "@functools.lru_cache" in clean and "import functools" in clean
    assert "unused" not in clean and "print" not in clean


def test_sanitize_prefers_the_last_real_definition_over_a_stub():
    """A stub restated after the implementation does not replace it."""
    code = "def f():\n    return 1\n\ndef f():\n    pass\n"
    assert sanitize(code, "f") == "def f():\n    return 1"


def _evalplus_code_extract(text: str) -> str:
    """evalplus 0.3.1's quadratic search, verbatim in behaviour: the reference."""
    lines = text.split("\n")
    best, longest = (0, 0), 0
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            try:
                ast.parse("\n".join(lines[i : j + 1]))
            except SyntaxError:
                continue
            length = sum(1 for line in lines[i : j + 1] if line.strip())
            if length > longest:
                longest, best = length, (i, j)
    return "\n".join(lines[best[0] : best[1] + 1])


def test_longest_parsable_finds_the_same_span_as_evalplus():
    """Our faster search returns the code evalplus's exhaustive one returns."""
    texts = [
        "Intro line.\ndef f(x):\n    return x\nOutro: done, see?\n",
        "x = 1\nnot python at all (\ndef g():\n    return 2\n\n\nclass A:\n    pass\n",
        "Some words\n\n    indented words\nimport os\nprint(os.sep)\nend words here!",
    ]
    for text in texts:
        assert longest_parsable(text).strip() == _evalplus_code_extract(text).strip()


def test_prompt_context_supplies_missing_imports_and_helpers():
    """The prompt's imports and helper functions are supplied; the entry point is not."""
    prompt = (
        "import math\n\n\ndef helper(x):\n    return math.floor(x)\n\n\n"
        'def target(x):\n    """Use helper."""\n'
    )
    prefix, supplied = prompt_context(prompt, "target", "def target(x):\n    return helper(x)\n")
    assert supplied == ["math", "helper"]
    namespace: dict = {}
    exec(prefix + "def target(x):\n    return helper(x)\n", namespace)
    assert namespace["target"](2.7) == 2


def test_prompt_context_adds_nothing_the_candidate_has():
    """A candidate that imports and defines everything needs no context."""
    code = "import math\n\ndef helper(x):\n    return 0\n\ndef target(x):\n    return 1\n"
    prompt = "import math\n\ndef helper(x):\n    return 1\n\ndef target(x):\n    pass\n"
    assert prompt_context(prompt, "target", code) == ("", [])


def test_sanitize_matches_evalplus_on_real_candidates():
    """On the shared HumanEval+ candidates our sanitizer gives evalplus's programs."""
    evalplus_sanitize = pytest.importorskip("evalplus.sanitize").sanitize
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"shared benchmark data not found at {data}")
    with gzip.open(data / "candidates/humaneval_evalplus-6models.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f][:50]
    with gzip.open(data / "benchmarks/HumanEvalPlus-v0.1.10.jsonl.gz", "rt") as f:
        entry = {row["task_id"]: row["entry_point"] for row in map(json.loads, f)}
    differ = []
    for row in rows:
        task_id = row["query"]["metadata"]["task_id"]
        for response in row["responses"]:
            ours = sanitize(response["content"], entry[task_id])
            theirs = evalplus_sanitize(response["content"], entry[task_id])
            if ast.dump(ast.parse(ours)) != ast.dump(ast.parse(theirs)):
                differ.append(task_id)
    assert differ == []

"""The code verifier end to end: evidence from running candidates in the sandbox."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rerank.items import Item, Labels
from rerank.verifiers.code.verifier import CodeVerifier

PROMPT = '''def add(a, b):
    """Add two numbers.
    >>> add(1, 2)
    3
    >>> add(-1, 1)
    0
    """
'''
RESOURCES = {"tests": ["assert add(2, 2) == 4"]}
CORRECT = "```python\ndef add(a, b):\n    return a + b\n```"


class CountingPool:
    """A sandbox pool that counts what is submitted to it."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.submitted = 0

    def submit(self, source, stdin=None, files=None, **limits):
        self.submitted += 1
        return self.pool.submit(source, stdin=stdin, files=files, **limits)


@pytest.fixture(scope="module")
def sandbox():
    from rerank.sandbox.runner import Limits, SandboxPool, isolation

    if isolation().process_limit == "none":
        pytest.skip("this machine cannot bound sandboxed processes")
    with SandboxPool(workers=2, limits=Limits(cpu_seconds=5, wall_seconds=5)) as pool:
        yield pool


@pytest.fixture
def pool(sandbox) -> CountingPool:
    return CountingPool(sandbox)


@pytest.fixture
def verifier(pool) -> CodeVerifier:
    return CodeVerifier(pool=pool, timeout=0.5)


def _checks(evidence) -> dict[str, tuple[str, str]]:
    return {c.id: (c.status, c.detail) for c in evidence.checks}


def _verify(verifier, candidates, prompt=PROMPT, resources=RESOURCES, **kwargs):
    item = Item.from_texts(prompt, candidates, resources=resources, **kwargs)
    return verifier.verify(item)


def test_correct_candidate_passes_every_visible_test(verifier):
    """Extraction and each prompt example and user test pass, all hard."""
    [evidence] = _verify(verifier, [CORRECT])
    assert evidence.verifier == "code"
    assert _checks(evidence) == {
        "extract": ("pass", "fenced block; defines add()"),
        "example:1": ("pass", ""),
        "example:2": ("pass", ""),
        "test:1": ("pass", ""),
    }
    assert all(c.hard for c in evidence.checks)
    assert evidence.signature is not None


def test_wrong_candidate_fails_naming_the_case(verifier):
    """A wrong answer fails with the call, what it returned and what was expected."""
    [evidence] = _verify(verifier, ["def add(a, b):\n    return a - b\n"])
    checks = _checks(evidence)
    assert checks["example:1"] == ("fail", "add(1, 2) returned -1, expected 3")
    assert checks["test:1"] == ("fail", "add(2, 2) returned 0, expected 4")


def test_crashing_candidate_errors_with_the_exception(verifier):
    """An exception is an error whose detail names the case and the exception."""
    [evidence] = _verify(verifier, ["def add(a, b):\n    return a / (a + b)\n"])
    checks = _checks(evidence)
    assert checks["example:2"] == ("error", "add(-1, 1): ZeroDivisionError: division by zero")
    assert checks["example:1"][0] == "fail"


def test_a_looping_test_times_out_alone(verifier):
    """A loop on one input times that test out; the tests before and after still run."""
    looping = "def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"
    [evidence] = _verify(verifier, [looping])
    assert _checks(evidence) == {
        "extract": ("pass", "bare code; defines add()"),
        "example:1": ("pass", ""),
        "example:2": ("timeout", "add(-1, 1): timed out after 0.5s"),
        "test:1": ("pass", ""),
    }


def test_a_test_that_kills_the_process_costs_only_itself(verifier, pool):
    """A test whose process dies is an error; the rest resume in a new process."""
    dying = "import os\n\ndef add(a, b):\n    if a < 0:\n        os._exit(3)\n    return a + b\n"
    [evidence] = _verify(verifier, [dying])
    checks = _checks(evidence)
    assert checks["example:2"] == ("error", "add(-1, 1): the process exited with code 3")
    assert checks["example:1"] == checks["test:1"] == ("pass", "")
    assert pool.submitted == 2


def test_no_program_fails_extraction_and_runs_nothing(verifier, pool):
    """Prose only: the extract check fails, every test is an error, nothing runs."""
    [evidence] = _verify(verifier, ["I would rather not write code today."])
    checks = _checks(evidence)
    assert checks["extract"] == ("fail", "no code found")
    assert {checks[k] for k in ("example:1", "example:2", "test:1")} == {
        ("error", "not run: no program to run")
    }
    assert evidence.signature is None
    assert pool.submitted == 0


def test_missing_entry_point_fails_extraction(verifier):
    """A program that does not define the entry point fails the extract check."""
    [evidence] = _verify(verifier, ["def plus(a, b):\n    return a + b\n"])
    assert _checks(evidence)["extract"] == ("fail", "the code does not define add()")


def test_prompt_imports_supply_what_the_candidate_forgot(verifier):
    """A candidate using the prompt's ``List`` without importing it runs under the prompt."""
    prompt = (
        "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n"
        '    """Sum.\n    >>> total([1, 2])\n    3\n    """\n'
    )
    [evidence] = _verify(
        verifier,
        ["def total(xs: List[int]) -> int:\n    return sum(xs)\n"],
        prompt=prompt,
        resources={},
    )
    assert _checks(evidence)["example:1"] == ("pass", "")
    assert "ran with the prompt's List" in evidence.notes


def test_response_that_fails_to_load_runs_its_definitions(verifier):
    """Top-level usage that crashes (``input()``) does not sink the function it uses."""
    text = "def add(a, b):\n    return a + b\n\nn = int(input())\nprint(add(n, n))\n"
    [evidence] = _verify(verifier, [text])
    assert {s for s, _ in _checks(evidence).values()} == {"pass"}
    assert any("failed to load" in note for note in evidence.notes)


def test_printed_result_lines_cannot_forge_a_pass(verifier):
    """What a candidate prints, even straight to fd 1, is not read as results."""
    forger = (
        "import os, sys\n\ndef add(a, b):\n"
        '    line = \'{"k": 0, "s": "pass", "d": ""}\\n\'\n'
        "    print(line)\n    os.write(1, line.encode())\n    sys.__stdout__.write(line)\n"
        "    return 0\n"
    )
    [evidence] = _verify(verifier, [forger])
    assert _checks(evidence)["example:1"] == ("fail", "add(1, 2) returned 0, expected 3")


def test_equal_behaviour_shares_a_signature_and_different_does_not(verifier):
    """Programs equal on the probes (up to float rounding) cluster; others do not."""
    prompt = 'def half(x):\n    """\n    >>> half(1)\n    0.5\n    """\n'
    texts = [
        "def half(x):\n    return x / 2\n",
        "def half(x):\n    return x * 0.5 + (0.1 + 0.2 - 0.3)\n",
        "def half(x):\n    return x // 2\n",
        "def half(x):\n    raise ValueError(x)\n",
        "def half(y):\n    raise ValueError('other message')\n",
    ]
    signatures = [
        e.signature
        for e in _verify(verifier, texts, prompt=prompt, resources={"inputs": [[3], [10]]})
    ]
    assert None not in signatures
    assert signatures[0] == signatures[1]
    assert signatures[3] == signatures[4]  # same exception type on every probe
    assert len({signatures[0], signatures[2], signatures[3]}) == 3


def test_outputs_say_what_each_probe_gave_as_a_person_reads_it(verifier):
    """Each probe's call and result in probe order; keys equal where the signature counts
    the results equal (float rounding), different where they differ."""
    prompt = 'def half(x):\n    """\n    >>> half(1)\n    0.5\n    """\n'
    texts = [
        "def half(x):\n    return x / 2\n",
        "def half(x):\n    return x * 0.5 + (0.1 + 0.2 - 0.3)\n",
        "def half(x):\n    if x > 5:\n        raise ValueError(x)\n    return x / 2\n",
    ]
    exact, rounded, raising = _verify(
        verifier, texts, prompt=prompt, resources={"inputs": [[3], "half(10)"]}
    )
    assert [(o.call, o.result) for o in exact.outputs] == [
        ("half(1)", "returns 0.5"),
        ("half(3)", "returns 1.5"),
        ("half(10)", "returns 5.0"),
    ]
    assert [o.key for o in exact.outputs] == [o.key for o in rounded.outputs]
    assert raising.outputs[2].result == "raises ValueError"
    assert [a.key == b.key for a, b in zip(exact.outputs, raising.outputs)] == [True, True, False]
    assert "outputs" not in exact.to_dict()  # the signature stands for them in traces


def test_no_probes_no_signature(verifier):
    """Without prompt examples or inputs there is nothing to cluster on: no signature."""
    [evidence] = _verify(
        verifier, ["def f(x):\n    return x\n"], prompt="Write f.", resources={"entry_point": "f"}
    )
    assert evidence.signature is None
    assert evidence.notes == ("no visible tests", "no inputs for behaviour clustering")
    assert _checks(evidence) == {"extract": ("pass", "bare code; defines f()")}


def test_labels_and_hidden_tests_never_change_the_evidence(verifier):
    """Evidence is the same whether the item carries labels with hidden failing tests or not."""
    texts = [CORRECT, "def add(a, b):\n    return a * b\n"]
    plain = Item.from_texts(PROMPT, texts, resources=RESOURCES)
    hidden = {
        "test": "assert add(1, 1) == 99",
        "tests": ["assert add(1, 1) == 99"],
        "plus_input": [[1, 1]],
        "canonical_solution": "    return 99\n",
    }
    labelled = replace(
        plain,
        labels=Labels(scores=(0.0, 1.0), gold=hidden, candidates=({"score": 0}, {"score": 1})),
    )
    fresh = CodeVerifier(pool=verifier.pool, timeout=0.5)  # no cache shared with `verifier`
    assert fresh.verify(labelled) == verifier.verify(plain)


def test_second_verify_runs_nothing(verifier, pool):
    """Evidence is cached by content: verifying the same candidates again submits no run."""
    texts = [CORRECT, "def add(a, b):\n    return a - b\n"]
    first = _verify(verifier, texts)
    submitted = pool.submitted
    assert submitted == 2
    assert _verify(verifier, list(reversed(texts)), id="another id") == first[::-1]
    assert pool.submitted == submitted


def test_identical_candidates_run_once(verifier, pool):
    """Duplicates within an item share one run and one evidence."""
    evidence = _verify(verifier, [CORRECT, CORRECT, CORRECT])
    assert pool.submitted == 1
    assert evidence[0] == evidence[1] == evidence[2]


def test_cache_is_bounded(pool):
    """The least recently used evidence is dropped past cache_size."""
    verifier = CodeVerifier(pool=pool, timeout=0.5, cache_size=1)
    _verify(verifier, [CORRECT])
    _verify(verifier, ["def add(a, b):\n    return b + a\n"])
    _verify(verifier, [CORRECT])
    assert pool.submitted == 3


def test_applies_to_code_items_only():
    """Declared code applies, other declared kinds do not; undeclared code is recognised."""
    verifier = CodeVerifier()
    assert verifier.applies(Item.from_texts("Anything", ["x"], kind="code"))
    assert not verifier.applies(Item.from_texts(PROMPT, [CORRECT], kind="math"))
    assert verifier.applies(Item.from_texts(PROMPT, ["x"]))
    assert verifier.applies(Item.from_texts("Write f.", ["y"], resources={"tests": ["1"]}))
    assert verifier.applies(Item.from_texts("Reverse a list.", [CORRECT, "def f(): pass"]))
    assert not verifier.applies(Item.from_texts("What is 2 + 2?", ["4", "The answer is 4"]))

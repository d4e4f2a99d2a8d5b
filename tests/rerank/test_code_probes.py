"""Mutated behaviour probes: the mutator (code/probes.py) and what they do to signatures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rerank.items import Item
from rerank.verifiers.code.probes import MAX_LENGTH, mutated_inputs, value_key
from rerank.verifiers.code.tests import Probe, VisibleTest, probes
from rerank.verifiers.code.verifier import CodeVerifier

EXAMPLES = [
    (3, 2.5, "Hello world", True, None),
    ([1, 2, 3], [[1, 2], [3, 4]], (1, "a"), {"x": 1, "y": 2}, {4, 5, 6}),
]


def test_the_same_seed_gives_the_same_inputs_in_every_process():
    """Deterministic for a seed, whatever the process's hash seed; another seed differs."""
    code = (
        "from rerank.verifiers.code.probes import mutated_inputs, value_key\n"
        "found = mutated_inputs([({'b', 'a', 'c'}, 'xyz', {'k': [1, 2]})], 15, seed='s')\n"
        "print([value_key(args) for args in found])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    same = mutated_inputs(EXAMPLES, 20, seed="s")
    assert same == mutated_inputs(EXAMPLES, 20, seed="s")
    assert same != mutated_inputs(EXAMPLES, 20, seed="t")


@pytest.mark.parametrize("seed", range(5))
def test_mutations_keep_every_arguments_type(seed):
    """Each argument keeps its type (bool stays bool, int never becomes bool), and
    containers inside containers keep their length (a matrix stays 2 x 2)."""
    found = mutated_inputs(EXAMPLES, 40, seed=seed)
    assert len(found) == 40
    for args in found:
        original = next(e for e in EXAMPLES if type(e[0]) is type(args[0]))
        assert len(args) == len(original)
        for new, old in zip(args, original, strict=True):
            assert type(new) is type(old)
            if type(old) is list and old and type(old[0]) is list:
                assert all(type(row) is list and len(row) == 2 for row in new)
            if type(old) is list and new:
                assert {type(v) for v in new} <= {type(v) for v in old}
        record = args[2]
        if type(record) is tuple:
            assert len(record) == 2 and (type(record[0]), type(record[1])) == (int, str)


def test_counts_and_sizes_are_bounded_and_inputs_are_new():
    """At most ``count`` inputs, none equal to an example or to another; a long list never
    grows, a string grows by at most a word per step (two steps), a large int is never
    doubled."""
    long_list, big = list(range(MAX_LENGTH + 10)), 10**9
    found = mutated_inputs([(long_list, "ab", big)], 30, seed=1)
    assert 0 < len(found) <= 30
    keys = [value_key(args) for args in found]
    assert len(set(keys)) == len(keys) and value_key((long_list, "ab", big)) not in keys
    assert all(len(args[0]) <= len(long_list) for args in found)
    assert all(len(args[1]) <= 2 + 2 * len("ab") for args in found)
    assert all(abs(args[2]) <= big + 1 for args in found)
    assert mutated_inputs([(1,)], 0) == [] and mutated_inputs([], 5) == []
    assert mutated_inputs([()], 5) == []  # nothing to change


def test_numbers_keep_the_sign_the_examples_give_them():
    """Positive in every example stays positive, non-negative stays non-negative (items of
    containers too); a position with a negative example may turn negative."""

    def numbers(value):
        if type(value) in (int, float):
            return [value]
        return [n for v in value for n in numbers(v)] if type(value) is list else []

    found = mutated_inputs([(3, [0, 2], -1), (5, [4], 2)], 60, seed=2)
    assert all(n > 0 for args in found for n in numbers(args[0]))
    assert all(n >= 0 for args in found for n in numbers(args[1]))
    assert any(n < 0 for args in found for n in numbers(args[2]) if n not in (-1, 2))


def test_probes_add_mutations_after_the_items_own_inputs():
    """The item's probes stay as they are and come first; mutated ones follow, marked, from
    the literal positional calls only, the same for the same item."""
    tests = [
        VisibleTest("example:1", "f(1, [2])", "3"),
        VisibleTest("example:2", "assert f(4, [5, 6], key=1) == 2"),
    ]
    plain = probes(tests, {"inputs": [[7, [8]]]}, "f")
    found = probes(tests, {"inputs": [[7, [8]]]}, "f", mutations=10)
    assert found[: len(plain)] == plain and not any(p.mutated for p in plain)
    mutated = found[len(plain) :]
    assert len(mutated) == 10 and all(p.mutated and p.source is None for p in mutated)
    assert all(type(p.args[0]) is int and type(p.args[1]) is list for p in mutated)
    keyword_only = [VisibleTest("example:1", "assert f(4, key=1) == 2")]
    assert probes(keyword_only, None, "f", mutations=5) == [Probe(source="f(4, key=1)")]
    assert found == probes(tests, {"inputs": [[7, [8]]]}, "f", mutations=10)
    assert probes([], {"inputs": ["g(x)"]}, "f", mutations=5) == [Probe(source="f(g(x))")]


# --- in the sandbox ---------------------------------------------------------------------

PROMPT = '''def step(x):
    """Add one to a number.
    >>> step(1)
    2
    >>> step(5)
    6
    """
'''


@pytest.fixture
def signatures():
    """Signatures from a verifier with its own sandbox pool, ``mutations`` as given."""
    from rerank.sandbox.runner import isolation

    if isolation().process_limit == "none":
        pytest.skip("this machine cannot bound sandboxed processes")
    verifiers: list[CodeVerifier] = []

    def run(texts: list[str], mutations: int) -> list[str | None]:
        verifiers.append(CodeVerifier(timeout=0.5, mutations=mutations, workers=2))
        return [e.signature for e in verifiers[-1].verify(Item.from_texts(PROMPT, texts))]

    yield run
    for verifier in verifiers:
        verifier.close()


def test_a_program_right_only_on_the_examples_is_told_apart(signatures):
    """A wrong program that agrees with the right one on the prompt's examples shares its
    signature on those alone, and gets its own once mutated inputs run."""
    right = "def step(x):\n    return x + 1\n"
    wrong = "def step(x):\n    return x + 1 if x < 6 else x\n"
    plain = signatures([right, wrong], mutations=0)
    assert plain[0] is not None and plain[0] == plain[1]
    mutated = signatures([right, wrong], mutations=10)
    assert None not in mutated and mutated[0] != mutated[1]


def test_an_input_every_candidate_crashes_on_separates_nobody(signatures):
    """Programs that fail differently (two exception types, a timeout) where every
    candidate fails, and agree elsewhere, share a signature; one that returns there
    does not."""
    guard = "def step(x):\n    if x > 6:\n        {}\n    return x + 1\n"
    texts = [
        guard.format("raise ValueError(x)"),
        guard.format("return 1 // 0"),
        guard.format("while True:\n            pass"),
    ]
    found = signatures(texts, mutations=10)
    assert None not in found and len(set(found)) == 1
    with_a_value = signatures([texts[0], guard.format("return 0")], mutations=10)
    assert with_a_value[0] != with_a_value[1]

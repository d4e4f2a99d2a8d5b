"""The in-sandbox harness's comparisons and signatures (pure functions, no sandbox)."""

from __future__ import annotations

from rerank.verifiers.code_harness import canonical, same_output, text_matches


def test_equal_outputs_are_the_same():
    """Plain equality decides first (1 == 1.0 included), as in evalplus."""
    assert same_output([1, 2], [1, 2])
    assert same_output(1, 1.0)
    assert not same_output([1, 2], [2, 1])


def test_floats_compare_with_evalplus_tolerance():
    """Floats: atol 1e-6 at least, rtol 1e-7, and the same type at the top level."""
    assert same_output(0.1 + 0.2, 0.3)
    assert same_output([0.1 + 0.2, 1.0], [0.3, 1.0])
    assert not same_output(0.3001, 0.3)
    assert not same_output((0.1 + 0.2,), [0.3])  # a tuple is not a list
    assert same_output(1.05, 1.0, atol=0.1)


def test_incomparable_outputs_are_not_the_same():
    """An ``==`` that raises or a string against floats is a mismatch, not a crash."""

    class Angry:
        def __eq__(self, other):
            raise RuntimeError("no")

    assert not same_output(Angry(), 1.0)
    assert not same_output("0.3", 0.3)


def test_canonical_text_ignores_order_of_sets_and_dicts():
    """Sets and dicts equal as values have one canonical text, whatever their order."""
    assert canonical({3, 1, 2}) == canonical({2, 3, 1})
    assert canonical({"b": 1, "a": 2}) == canonical({"a": 2, "b": 1})
    assert canonical([1, 2]) != canonical((1, 2))


def test_canonical_text_rounds_floats_and_drops_addresses():
    """Last-bit float differences and object addresses do not split a cluster."""
    assert canonical(0.1 + 0.2) == canonical(0.3)
    assert canonical(object()) == canonical(object())
    assert canonical(True) != canonical(1)


def test_text_matches_like_doctest_with_ellipsis():
    """Whitespace is forgiven and ``...`` matches anything, as a doctest reader expects."""
    assert text_matches("[1,  2]\n", "[1, 2]")
    assert text_matches("Counter({1: 2, 3: 4})", "Counter({1: 2, ...})")
    assert not text_matches("[1, 3]", "[1, 2]")

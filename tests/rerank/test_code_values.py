"""Values as plain data: the codec, the comparisons and the signatures (no sandbox)."""

from __future__ import annotations

import pytest

from rerank.verifiers.code.values import canonical, same_output, text_matches


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


def _round_trip(value, max_bytes=100_000):
    from rerank.verifiers.code.values import decode, dumps, encode, loads

    return decode(loads(dumps(encode(value, max_bytes))))


def test_subclasses_arrive_as_their_plain_values():
    """An int, str or list subclass is read with the builtin type's own methods: its
    overrides of ``__eq__``, ``__int__``, ``__iter__`` or ``__str__`` are not consulted."""

    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

        def __int__(self):
            return 3

    class Shouty(str):
        def __str__(self):
            return "forged"

    class Sneaky(list):
        def __iter__(self):
            return iter([3])

    got = _round_trip([Liar(-1), Shouty("ok"), Sneaky([1, 2])])
    assert got == [-1, "ok", [1, 2]]
    assert [type(x) for x in got] == [int, str, list]


def test_a_fake_class_attribute_does_not_make_a_value_plain():
    """``__class__ = int`` fools isinstance, not type(): the value is opaque."""
    from rerank.verifiers.code.values import Opaque

    class Fake:
        __class__ = int

        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    got = _round_trip(Fake())
    assert isinstance(got, Opaque) and not same_output(got, 3)


def test_true_is_not_one_but_one_is_one_point_zero():
    """Type-exact where it matters: a bool equals only a bool; ints and floats compare
    as numbers, as Python and evalplus do."""
    assert not same_output(_round_trip(True), 1)
    assert not same_output(1, True)
    assert same_output(_round_trip(1), 1.0)
    assert not same_output(_round_trip([True, 0]), [1, 0])


def test_big_values_travel_as_order_free_digests():
    """Past max_bytes a value is a digest: equal sets give equal digests whatever their
    order, different values different ones."""
    from rerank.verifiers.code.values import Digest

    a = _round_trip(set(range(5000)), max_bytes=1000)
    b = _round_trip(set(reversed(range(5000))), max_bytes=1000)
    c = _round_trip(set(range(5001)), max_bytes=1000)
    assert isinstance(a, Digest) and a == b and a != c


def test_what_the_codec_does_not_write_is_refused():
    """Unknown tags, non-list containers, unhashable set members and deep nesting raise
    ValueError (the runner turns that into an opaque, failing value)."""
    from rerank.verifiers.code.values import decode, loads

    for data in ({"zz": 1}, {"l": 5}, {"set": [{"l": []}]}, [1, 2], "text", 3):
        with pytest.raises(ValueError):
            decode(data)
    with pytest.raises(ValueError):
        loads("[" * 100_000 + "]" * 100_000)

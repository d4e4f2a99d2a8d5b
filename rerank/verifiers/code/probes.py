"""More behaviour probes: type-aware mutations of the prompt's own example inputs.

Candidates that agree on the prompt's few examples often differ elsewhere (a boundary, an
empty input, a negative number). Best-of-N work on code (MBR-exec, AlphaCode's
clustering, CodeT) gets much of its signal from running the candidates on many more
inputs; :func:`mutated_inputs` makes such inputs without a model, as evalplus's
``TypedMutGen`` does: each new input is an example's arguments with one argument (or
two) changed by a small step that keeps its type.

Rules, per type (a mutated value always has its seed's type):

- ``bool``: flipped.
- ``int``: ``x ± 1``, ``-x``, ``0``, ``x // 2``, ``2x`` (when ``|x| <= 10**6``), or an int
  from another example.
- ``float``: ``x ± 1``, ``-x``, ``0.0``, ``x / 2``, ``2x`` (when ``|x| <= 10**6``), ``x +
  0.5``, or a float from another example.
- ``str``: a character dropped, doubled, replaced by one of the examples' characters or
  swapped with its neighbour; one character's case or the whole string's case changed;
  reversed; empty; a word from another example inserted.
- ``list``, ``set``, ``frozenset``, and ``tuple`` of three or more items of one type:
  shuffled, an item dropped, duplicated, or changed, a changed copy of an item
  appended, emptied. Other tuples are records: one item changed, the length kept.
- ``dict``: a key dropped, a value changed, a changed copy of a key added.
- Containers inside containers keep their length (a matrix stays rectangular); only
  their items change.
- Anything else (``None``, ``bytes``, ``complex``) is left as it is.
- Numbers keep the sign the examples give their position: where every number in an
  argument (its items included) is positive in every example, mutated ones stay
  positive; where none is negative, none becomes negative. The examples are the only
  statement of the domain there is (evalplus filters with a hand-written contract
  instead), and inputs outside it mostly make every candidate loop, or fail each its own
  way.

An argument may also be replaced by the same argument of another example with the same
number of arguments (a new combination of values the prompt calls valid).

Bounds: at most ``count`` inputs, tried at most ``10 * count`` times; strings and
containers grow only while shorter than :data:`MAX_LENGTH`; ints and floats double only
up to ``10**6``. Inputs equal to an example (same types: ``1``, ``1.0`` and ``True``
differ) or to each other are skipped. Randomness comes from one ``seed``: the same
examples and seed give the same inputs in every run and every process (sets are ordered
by ``repr`` before they are mutated, never by hash).

Examples
--------
>>> new = mutated_inputs([(3, "abc")], 4, seed="f")
>>> len(new), all(type(a) is int and type(b) is str for a, b in new)
(4, True)
>>> new == mutated_inputs([(3, "abc")], 4, seed="f")
True
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Sequence
from typing import Any, Final

__all__ = ["MAX_LENGTH", "MUTATIONS", "mutated_inputs", "value_key"]

#: Mutated probes per item the evidence judge asks its code verifier for.
MUTATIONS = 20
#: Strings and containers grow (a duplicated or appended item) only below this length.
MAX_LENGTH = 50
#: Numbers double only up to this magnitude.
_MAX_DOUBLE = 10**6


class _NoChange(enum.Enum):
    """What a mutation returns when it found none (an enum, so the type checker narrows)."""

    NO_CHANGE = enum.auto()


_NO_CHANGE: Final = _NoChange.NO_CHANGE


def mutated_inputs(
    examples: Sequence[tuple[Any, ...]], count: int, seed: int | str = 0
) -> list[tuple[Any, ...]]:
    """Up to ``count`` new argument tuples, each a mutation of one of ``examples``.

    The examples are taken in turn (so each seeds about as many inputs as the others);
    each new input changes one argument, a third of them two.

    Parameters
    ----------
    examples : argument tuples the prompt vouches for.
    count : how many new inputs to make at most.
    seed : fixes the mutations: the same examples, count and seed give the same inputs.

    Returns
    -------
    list of tuple : new inputs, none equal to an example or to each other.
    """
    unique: dict[str, tuple[Any, ...]] = {}
    for example in examples:
        unique.setdefault(value_key(tuple(example)), tuple(example))
    bases = list(unique.values())
    if count <= 0 or not bases:
        return []
    mutator = _Mutator(_rng(seed), bases)
    seen = set(unique)
    found: list[tuple[Any, ...]] = []
    for attempt in range(10 * count):
        if len(found) >= count:
            break
        new = bases[attempt % len(bases)]
        for _ in range(mutator.rng.choice((1, 1, 2))):
            new = mutator.arguments(new)
        key = value_key(new)
        if key not in seen:
            seen.add(key)
            found.append(new)
    return found


def value_key(value: Any) -> str:
    """A text equal only for values of the same types and contents (``1``, ``1.0`` and
    ``True`` differ; sets and dicts in a fixed order)."""
    kind = type(value)
    if kind in (list, tuple):
        return f"{kind.__name__}[{','.join(value_key(v) for v in value)}]"
    if kind in (set, frozenset):
        return f"{kind.__name__}{{{','.join(sorted(value_key(v) for v in value))}}}"
    if kind is dict:
        items = sorted(f"{value_key(k)}:{value_key(v)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    if kind is int:
        return f"int:{value:x}"  # hex: repr refuses ints over 4300 digits
    return f"{kind.__name__}:{value!r}"


def _rng(seed: int | str) -> random.Random:
    """The one place randomness is made: a string seed is hashed, so it is stable across
    processes (``hash()`` of a string is not)."""
    if isinstance(seed, str):
        seed = int.from_bytes(hashlib.sha256(seed.encode("utf-8", "replace")).digest()[:8], "big")
    return random.Random(seed)


class _Mutator:
    """Type-keeping mutations, drawing replacement values from all the examples."""

    def __init__(self, rng: random.Random, examples: list[tuple[Any, ...]]) -> None:
        self.rng = rng
        self.examples = examples
        leaves: dict[type, dict[str, Any]] = {int: {}, float: {}, str: {}}
        for example in examples:
            _collect(example, leaves)
        self.ingredients = {kind: list(found.values()) for kind, found in leaves.items()}
        self.alphabet = sorted({ch for s in self.ingredients[str] for ch in s}) or list("ab")
        self.words = sorted({w for s in self.ingredients[str] for w in s.split()})
        # The smallest number at each argument position (containers' items included).
        self.lowest: dict[int, float] = {}
        for example in examples:
            for k, arg in enumerate(example):
                found: dict[type, dict[str, Any]] = {int: {}, float: {}}
                _collect(arg, found)
                numbers = [*found[int].values(), *found[float].values()]
                if numbers:
                    self.lowest[k] = min(self.lowest.get(k, numbers[0]), *numbers)
        self.low: float | None = None  # the position being mutated

    def arguments(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` with one argument changed (unchanged when no argument can change)."""
        positions = list(range(len(args)))
        self.rng.shuffle(positions)
        for k in positions:
            self.low = self.lowest.get(k)
            new = self._crossover(args, k) if self.rng.random() < 0.25 else _NO_CHANGE
            if new is _NO_CHANGE:
                new = self.value(args[k])
            if new is not _NO_CHANGE:
                return args[:k] + (new,) + args[k + 1 :]
        return args

    def _crossover(self, args: tuple[Any, ...], k: int) -> Any:
        """The ``k``-th argument of another example of the same arity and type."""
        others = [
            e[k]
            for e in self.examples
            if len(e) == len(args) and type(e[k]) is type(args[k]) and e[k] != args[k]
        ]
        return self.rng.choice(others) if others else _NO_CHANGE

    def value(self, value: Any, resize: bool = True) -> Any:
        """A mutation of ``value`` of the same type, or ``_NO_CHANGE``."""
        kind = type(value)
        if kind is bool:
            return not value
        if kind is int:
            return self._number(value, (1, 0), self.ingredients[int])
        if kind is float:
            return self._number(value, (1.0, 0.0, 0.5), self.ingredients[float])
        if kind is str:
            return self._string(value)
        if kind is list:
            return self._sequence(value, resize) if value else _NO_CHANGE
        if kind is tuple:
            record = len(value) < 3 or len({type(v) for v in value}) > 1
            new = self._sequence(list(value), resize and not record) if value else _NO_CHANGE
            return _NO_CHANGE if new is _NO_CHANGE else tuple(new)
        if kind in (set, frozenset):
            items = sorted(value, key=value_key)
            new = self._sequence(items, resize) if items else _NO_CHANGE
            return _NO_CHANGE if new is _NO_CHANGE else _hashable_set(kind, new)
        if kind is dict:
            return self._dict(value, resize) if value else _NO_CHANGE
        return _NO_CHANGE

    def _number(self, x: Any, units: tuple[Any, ...], others: list[Any]) -> Any:
        one, zero = units[0], units[1]
        choices = [x + one, x - one, -x, zero]
        choices.append(x // 2 if type(x) is int else x / 2)
        if abs(x) <= _MAX_DOUBLE:
            choices.append(x * 2)
        choices += [x + u for u in units[2:]]
        pool = [o for o in others if o != x]
        choices += self.rng.sample(pool, min(3, len(pool)))
        choices = [c for c in choices if c != x and self._in_sign(c)]
        return self.rng.choice(choices) if choices else _NO_CHANGE

    def _in_sign(self, number: Any) -> bool:
        """Whether ``number`` keeps the sign the examples give this position."""
        if self.low is None or self.low < 0:
            return True
        return number > 0 if self.low > 0 else number >= 0

    def _string(self, s: str) -> str:
        rng = self.rng
        if not s:
            return rng.choice(self.alphabet)
        i = rng.randrange(len(s))
        grow = len(s) < MAX_LENGTH
        edits = [
            lambda: s[:i] + s[i + 1 :],  # drop a character
            lambda: s[:i] + rng.choice(self.alphabet) + s[i + 1 :],  # replace one
            lambda: s[:i] + s[i].swapcase() + s[i + 1 :],  # one character's case
            lambda: rng.choice((s.upper(), s.lower(), s.swapcase())),
            lambda: s[::-1],
            lambda: "",
        ]
        if len(s) > 1 and i + 1 < len(s):
            edits.append(lambda: s[:i] + s[i + 1] + s[i] + s[i + 2 :])  # swap neighbours
        if grow:
            edits.append(lambda: s[:i] + s[i] + s[i:])  # double a character
            if self.words:
                edits.append(lambda: s[:i] + rng.choice(self.words) + s[i:])
        for _ in range(4):
            new = rng.choice(edits)()
            if new != s:
                return new
        return s[1:]

    def _sequence(self, items: list[Any], resize: bool) -> list[Any] | _NoChange:
        rng = self.rng
        i = rng.randrange(len(items))
        edits = ["change"]
        if resize:
            edits += ["shuffle", "drop", "empty"]
            if len(items) < MAX_LENGTH:
                edits += ["duplicate", "append"]
        for _ in range(4):
            edit = rng.choice(edits)
            if edit == "change":
                new_item = self.value(items[i], resize=False)
                if new_item is _NO_CHANGE:
                    continue
                new = items[:i] + [new_item] + items[i + 1 :]
            elif edit == "shuffle":
                new = items[:]
                rng.shuffle(new)
            elif edit == "drop":
                new = items[:i] + items[i + 1 :]
            elif edit == "empty":
                new = []
            elif edit == "duplicate":
                new = items[: i + 1] + [items[i]] + items[i + 1 :]
            else:
                new_item = self.value(items[i], resize=False)
                new = items + [items[i] if new_item is _NO_CHANGE else new_item]
            if value_key(new) != value_key(items):
                return new
        return _NO_CHANGE

    def _dict(self, value: dict[Any, Any], resize: bool) -> dict[Any, Any] | _NoChange:
        rng = self.rng
        keys = list(value)
        key = rng.choice(keys)
        edits = ["value"] + (["drop", "add"] if resize else [])
        edit = rng.choice(edits)
        if edit == "drop":
            return {k: v for k, v in value.items() if k != key}
        if edit == "add" and len(value) < MAX_LENGTH:
            new_key = self.value(key, resize=False)
            if new_key is not _NO_CHANGE and new_key not in value:
                return {**value, new_key: value[key]}
        new_value = self.value(value[key], resize=False)
        if new_value is _NO_CHANGE:
            return _NO_CHANGE
        return {**value, key: new_value}


def _hashable_set(kind: type, items: list[Any]) -> Any:
    try:
        return kind(items)
    except TypeError:
        return _NO_CHANGE


def _collect(value: Any, leaves: dict[type, dict[str, Any]], depth: int = 0) -> None:
    """The ints, floats and strings inside ``value``, in order of first appearance."""
    kind = type(value)
    if kind in leaves:
        leaves[kind].setdefault(value_key(value), value)
    elif depth < 5 and kind in (list, tuple, set, frozenset):
        for item in sorted(value, key=value_key) if kind in (set, frozenset) else value:
            _collect(item, leaves, depth + 1)
    elif depth < 5 and kind is dict:
        for k, v in value.items():
            _collect(k, leaves, depth + 1)
            _collect(v, leaves, depth + 1)

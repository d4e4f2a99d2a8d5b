"""A safe evaluator for stated arithmetic: numbers, ``+ - * / **`` and parentheses, nothing else.

Expressions are parsed with :mod:`ast` and walked node by node; any other node (a name, a
call, an attribute, a comparison) is :class:`Unreadable`, so nothing a response says is
ever executed. Values are exact (:class:`~fractions.Fraction`) and carried as intervals,
because a solution's inputs may themselves be rounded (``0.33`` standing for a third):
the interval holds every value the written numbers could stand for, and ``point`` the value
of the numbers as written. Powers are bounded (integer exponents up to
:data:`MAX_EXPONENT`, results up to :data:`MAX_BITS` bits) so that ``9**9**9`` is refused
rather than computed.

Examples
--------
>>> from fractions import Fraction
>>> evaluate(("(_0 - _1) * _2", [Interval.of(16), Interval.of(3), Interval.of(2)])).point
Fraction(26, 1)
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from rerank.verifiers import pyast

__all__ = ["MAX_BITS", "MAX_EXPONENT", "Interval", "Unreadable", "evaluate", "format_number"]

#: The largest exponent a step may raise to (compound interest over decades fits).
MAX_EXPONENT = 100
#: The largest numerator or denominator, in bits, a step may compute (about 300 digits).
MAX_BITS = 1000


class Unreadable(ValueError):
    """The expression is not plain bounded arithmetic: the step is left unchecked."""


@dataclass(frozen=True)
class Interval:
    """The values ``low..high`` an expression may stand for, and ``point``, its value as written."""

    low: Fraction
    high: Fraction
    point: Fraction

    @classmethod
    def of(cls, value: Fraction | int) -> Interval:
        """The exact value ``value``."""
        value = Fraction(value)
        return cls(value, value, value)

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def overlaps(self, other: Interval) -> bool:
        slack = max(abs(self.point), abs(other.point), Fraction(1)) / 10**9
        return self.low - slack <= other.high and other.low - slack <= self.high


def evaluate(expression: tuple[str, Sequence[Interval]]) -> Interval:
    """The value of ``source`` whose names ``_0, _1, ...`` stand for ``values``.

    Raises :class:`Unreadable` for anything but numbers, ``+ - * / **``, unary signs and
    parentheses, for a division by zero and for a power out of bounds.
    """
    source, values = expression
    try:
        tree = pyast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise Unreadable("not an arithmetic expression") from None
    try:
        return _value(tree.body, values)
    except RecursionError:
        raise Unreadable("too deeply nested") from None


def format_number(value: Fraction) -> str:
    """An integer as is, anything else as a short decimal (``3.333``)."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def _value(node: ast.AST, values: Sequence[Interval]) -> Interval:
    if isinstance(node, ast.Name) and node.id.startswith("_") and node.id[1:].isdigit():
        return values[int(node.id[1:])]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        x = _value(node.operand, values)
        return x if isinstance(node.op, ast.UAdd) else Interval(-x.high, -x.low, -x.point)
    if isinstance(node, ast.BinOp):
        a, b = _value(node.left, values), _value(node.right, values)
        if isinstance(node.op, ast.Add):
            return Interval(a.low + b.low, a.high + b.high, a.point + b.point)
        if isinstance(node.op, ast.Sub):
            return Interval(a.low - b.high, a.high - b.low, a.point - b.point)
        if isinstance(node.op, ast.Mult):
            return _checked(_product(a, b, a.point * b.point))
        if isinstance(node.op, ast.Div):
            if b.low <= 0 <= b.high:
                raise Unreadable("division by zero")
            inverse = Interval(1 / b.high, 1 / b.low, 1 / b.point)
            return _checked(_product(a, inverse, a.point / b.point))
        if isinstance(node.op, ast.Pow):
            return _checked(_power(a, b))
    raise Unreadable(f"unsupported: {type(node).__name__}")


def _product(a: Interval, b: Interval, point: Fraction) -> Interval:
    corners = (a.low * b.low, a.low * b.high, a.high * b.low, a.high * b.high)
    return Interval(min(corners), max(corners), point)


def _power(base: Interval, exponent: Interval) -> Interval:
    point = exponent.point
    if not exponent.exact or point.denominator != 1 or abs(point) > MAX_EXPONENT:
        raise Unreadable("exponent out of bounds")
    if max(_bits(base.low), _bits(base.high)) * abs(point) > MAX_BITS:
        raise Unreadable("power too large")
    n = int(point)
    if n < 0:
        if base.low <= 0 <= base.high:
            raise Unreadable("division by zero")
        base = Interval(1 / base.high, 1 / base.low, 1 / base.point)
        n = -n
    corners = (base.low**n, base.high**n)
    low, high = min(corners), max(corners)
    if n % 2 == 0 and base.low < 0 < base.high:
        low = Fraction(0)
    return Interval(low, high, base.point**n)


def _bits(x: Fraction) -> int:
    return max(abs(x.numerator).bit_length(), x.denominator.bit_length(), 1)


def _checked(x: Interval) -> Interval:
    if max(_bits(x.low), _bits(x.high), _bits(x.point)) > MAX_BITS:
        raise Unreadable("number too large")
    return x

"""evalplus's dataset quirks, for computing HumanEval+ / MBPP+ labels the way evalplus does.

Only :mod:`~rerank.labels.code` uses this (benchmarks and reports, never the
judge). Ported from evalplus 0.3.1 (Apache-2.0): ``evalplus.data.mbpp``'s input
deserialisation (MBPP+ stores tuples, sets and complex numbers as JSON lists and strings)
and ``evalplus.eval``'s special oracles (tasks whose outputs are compared as sets, only
checked for not being None, or checked against a formula).
"""

from __future__ import annotations

import math
from typing import Any

from rerank.verifiers.code.values import equal

__all__ = ["MBPP_NOT_NONE", "mbpp_deserialize_inputs", "oracle"]

#: MBPP+ tasks whose expected output is only "not None" (re.Match objects and the like).
MBPP_NOT_NONE = frozenset({"check_str", "text_match_three", "text_starta_endb"})

_TO_TUPLES = {
    2,
    116,
    132,
    143,
    222,
    261,
    273,
    394,
    399,
    421,
    424,
    429,
    470,
    560,
    579,
    596,
    616,
    630,
    726,
    740,
    744,
    809,
}
_NESTED_TO_TUPLES = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_FIRST_NESTED = {75, 413, 444, 753}
_FIRST_TUPLE = {250, 405, 446, 617, 720, 763, 808}
_DOUBLE_NESTED = {259, 401, 445}
_ALL_TUPLES = {580, 615, 791}


def _all_to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_all_to_tuples(item) for item in value)
    return value


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ inputs as the functions expect them (``evalplus.data.mbpp``'s table)."""
    number = int(task_id.split("/")[-1])
    if number in _TO_TUPLES:
        return [[tuple(x) for x in inp] for inp in inputs]
    if number in _NESTED_TO_TUPLES:
        return [[[tuple(x) for x in group] for group in inp] for inp in inputs]
    if number in _FIRST_NESTED:
        return [[[tuple(x) for x in inp[0]]] + [inp[1]] for inp in inputs]
    if number in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if number == 115:
        return [
            [[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]]
            for inp in inputs
        ]
    if number == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if number in _FIRST_TUPLE:
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if number in _DOUBLE_NESTED:
        nested = [[[tuple(x) for x in group] for group in inp] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in nested]
    if number == 278:
        flat = [
            [[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs
        ]
        return [[tuple(x) for x in inp] for inp in flat]
    if number == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if number == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if number == 252:
        return [[complex(inp[0])] for inp in inputs]
    if number in _ALL_TUPLES:
        return [_all_to_tuples(inp) for inp in inputs]
    return inputs


_SET_EQ = frozenset(
    {
        "similar_elements",
        "find_char_long",
        "common_in_nested_lists",
        "extract_singly",
        "larg_nnum",
        "intersection_array",
        "find_dissimilar",
        "Diff",
    }
)


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> float:
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1: int, num2: int) -> int:
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def oracle(
    dataset: str, entry_point: str, args: list, out: Any, exp: Any, atol: float
) -> bool | None:
    """evalplus's special rule for a task: True / False, or None to compare as usual.

    Runs in rerank's own process on decoded values (exact builtin types, or opaque ones
    that fail any arithmetic): the candidate never runs it, so it cannot bend it.
    """
    try:
        return _oracle(dataset, entry_point, args, out, exp, atol)
    except Exception:  # an opaque or ill-typed output fails the rule
        return False


def _oracle(dataset: str, entry_point: str, args: list, out: Any, exp: Any, atol: float):
    exact = equal(out, exp, False)
    if dataset == "humaneval" and entry_point == "find_zero":
        (xs,) = args
        return type(out) in (int, float) and abs(_poly(xs, out)) <= atol
    if dataset != "mbpp":
        return None
    if entry_point == "are_equivalent":
        return True
    if entry_point == "sum_div" and (exact or equal(out, 0, False)):
        return True
    if entry_point == "surface_Area" and (exact or abs(out - _surface_area(*args)) <= atol):
        return True
    if entry_point == "digit_distance_nums" and (
        exact or equal(out, _digit_distance_nums(*args), False)
    ):
        return True
    if entry_point in _SET_EQ:
        return set(out) == set(exp)
    if entry_point in MBPP_NOT_NONE:
        return equal(out, exp, False) if isinstance(out, bool) else exp == (out is not None)
    return None

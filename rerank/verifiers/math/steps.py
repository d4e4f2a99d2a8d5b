"""Arithmetic steps: recompute the arithmetic a solution states, and flag what is wrong.

A *step* is a stated equality whose sides are plain arithmetic: GSM8K's calculator notes
(``<<16-3=13>>``) and prose such as ``16 - 3 = 13``, ``3 * $2 = $6``, ``12/4 = 3`` or
``2 + 3 + 4 = 9``. Each side is read by :mod:`rerank.verifiers.math.arithmetic` (numbers,
``+ - * / ^`` and parentheses only; never ``eval``). A wrong step is soft evidence: a
solution can slip in one line and still reach the right answer, and a reader can misread
prose, so the verifier reports it and the judge weighs it.

False alarms cost more than missed errors here (a correct solution marked wrong), so
anything ambiguous is left unchecked rather than failed:

- a side must be a whole expression: text, a variable (``2x``, ``a_1``), a function
  (``f(2)``, ``\\sqrt{8}``), a time (``3:30``), a date, a ratio or a dangling operator at
  its edge makes the statement unreadable, and at least one side must hold an operator
  (``step 2 = 5`` and ``1 hour = 60 minutes`` state no arithmetic);
- stated results may be rounded: ``10/3 = 3.33``, ``10/3 = 3`` and ``7/2 = 4`` pass, and
  inputs with two or more decimals (``0.33``) are taken as rounded themselves;
- currency signs, thousands separators and unit words (``16 eggs - 3 eggs = 13 eggs``) are
  read through; a sum of different units (``1 hour + 30 minutes = 90 minutes``) is not;
- percentages (``50 * 20% = 10``) and scale words (``1.5 million * 2 = 3,000,000``) are
  read both ways; such a statement passes when either reading agrees and is otherwise left
  unchecked, never failed;
- a chain ``a = b = c`` is read pairwise, and a right side that goes on computing
  (``2 + 3 = 5 + 4 = 9``) agrees when its first number does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from rerank.evidence import Check
from rerank.verifiers.math.arithmetic import Interval, Unreadable, evaluate, format_number

__all__ = ["Step", "find_steps", "step_checks"]


@dataclass(frozen=True)
class Step:
    """One stated equality: ``text`` as written, the left side's ``value``, and the verdict."""

    text: str
    value: Fraction
    correct: bool

    def check(self, k: int) -> Check:
        if self.correct:
            detail = self.text
        else:
            detail = f"{self.text} is wrong ({format_number(self.value)})"
        return Check(f"step:{k}", "pass" if self.correct else "fail", hard=False, detail=detail)


def step_checks(text: str) -> list[Check]:
    """One soft check per arithmetic step of ``text`` (``step:1``, ``step:2``, ...).

    Examples
    --------
    >>> [c.detail for c in step_checks("16 - 3 = 14 eggs, so 14 * 2 = $28.")]
    ['16 - 3 = 14 is wrong (13)', '14 * 2 = $28']
    """
    return [step.check(k) for k, step in enumerate(find_steps(text), 1)]


@lru_cache(maxsize=4096)
def find_steps(text: str) -> tuple[Step, ...]:
    """The checkable steps of ``text`` in order, each stated once (notes and prose merged)."""
    steps: list[Step] = []
    seen: set[str] = set()
    equalities = 0
    for line in _FENCED_CODE.sub("\n", text).splitlines():
        if len(line) > _MAX_LINE:
            continue
        equalities += line.count("=")
        if equalities > _MAX_EQUALITIES or len(steps) >= _MAX_STEPS:
            break  # a response this long is not a solution to check line by line
        notes = [m.group(1) for m in _NOTE.finditer(line)]
        for part in (*notes, _NOTE.sub("", line)):
            for key, step in _steps_of(_latex_to_plain(part)):
                if key not in seen:
                    seen.add(key)
                    steps.append(step)
    return tuple(steps)


# --- reading a line into tokens -------------------------------------------------------

# Bounds on the work one response may cause (a solution has tens of steps, not thousands).
_MAX_LINE = 2000
_MAX_EQUALITIES = 1000
_MAX_STEPS = 200
_FENCED_CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_NOTE = re.compile(r"<<([^<>\n]*)>>")
_LATEX = (
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\(?:times|cdot|ast)(?![a-zA-Z])"), "*"),
    (re.compile(r"\\div(?![a-zA-Z])"), "/"),
    (re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\[,!;]|\{,\}"), ""),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°"), ""),
    (re.compile(r"\\([$%])"), r"\1"),
    (re.compile(r"(?<=\s)–(?=\s)|−"), "-"),  # a spaced en dash is a minus; "3–4" a range
)


def _latex_to_plain(line: str) -> str:
    for pattern, replacement in _LATEX:
        line = pattern.sub(replacement, line)
    return line


_TOKEN = re.compile(
    r"""
    (?P<other>\d+:\d+(?::\d+)?|\d+/\d+/\d+|\d{4}-\d{1,2}-\d{1,2})   # time, ratio, date
    |(?P<num>(?P<cur>[$€£¥₹]\s?)?
        (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?P<glue>[A-Za-z_]\w*)?(?P<pct>\s?%)?)
    |(?P<eq>(?<![<>!=:~])(?:=|≈|~=)(?![=>]))
    |(?P<op>\*\*|[-+*/^×÷·])
    |(?P<lp>[(\[{])|(?P<rp>[)\]}])
    |(?P<word>\\?[A-Za-z]+)
    |(?P<space>\s+)
    |(?P<punct>.)
    """,
    re.VERBOSE,
)
_KINDS = ("other", "num", "eq", "op", "lp", "rp", "word", "punct")
# Units that may be glued to a number (``5kg``); any other letters make it a variable
# (one letter is too often one: ``2s + 30 = 110``).
_GLUED_UNITS = frozenset(
    {"km", "kg", "cm", "mm", "mg", "ml", "lb", "lbs", "oz", "ft", "mph", "hr", "hrs", "min"}
    | {"mins", "sec", "secs"}
)
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_TIMES_WORDS = frozenset({"x", "X", "times"})
_PERCENT_WORDS = frozenset({"percent", "percentage"})
_MAX_UNIT_WORDS = 2
# Words that join a number before a side to it: the side is then only part of a product.
_CONNECTORS = frozenset({"x", "X", "times", "of", "by"})
_MAX_TOKENS = 200


@dataclass(eq=False)
class _Token:
    kind: str  # num, op, lp, rp, eq, word, unit, var, other
    text: str
    start: int
    end: int
    digits: str = ""
    percent: bool = False
    scale: int = 1
    unit: str = ""


def _tokens(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    for m in _TOKEN.finditer(line):
        if m.group("space"):
            continue
        kind = next(k for k in _KINDS if m.group(k) is not None)
        token = _Token("other" if kind == "punct" else kind, m.group(), m.start(), m.end())
        if kind == "num":
            token.digits = m.group("digits").replace(",", "")
            token.percent = bool(m.group("pct"))
            glue = m.group("glue")
            if glue:
                if glue.lower() in _GLUED_UNITS:
                    token.unit = glue.lower()
                else:
                    token.kind = "var"
        tokens.append(token)
    _classify_words(tokens)
    return tokens


def _classify_words(tokens: list[_Token]) -> None:
    """Words after a number: a unit, a percent or a scale, or ``x`` meaning times."""
    for i, token in enumerate(tokens):
        if token.kind != "word":
            continue
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before is None or before.kind not in ("num", "rp", "unit"):
            continue
        if before.end == token.start and before.kind != "unit":
            token.kind = "var"  # "(7/2)x": glued letters are a variable
            continue
        if token.text in _TIMES_WORDS and after is not None and after.kind in ("num", "lp"):
            token.kind, token.text = "op", "*"
            continue
        word = token.text.lower()
        if before.kind == "num" and word in _PERCENT_WORDS:
            before.percent = True
            token.kind = "unit"
        elif before.kind == "num" and word in _SCALES:
            before.scale = _SCALES[word]
            token.kind = "unit"
        elif len(word) > 1 and word.isalpha() and _unit_run(tokens, i) <= _MAX_UNIT_WORDS:
            token.kind = "unit"
            token.unit = word.removesuffix("s")


def _unit_run(tokens: list[_Token], i: int) -> int:
    """The length of the phrase of unit words ``tokens[i]`` would belong to ("duck eggs").

    99 when the phrase is not followed by an operator, ``=`` or ``)``: words after a
    number that lead back into prose are prose, not a unit.
    """
    count = sum(1 for t in tokens[max(0, i - _MAX_UNIT_WORDS) : i] if t.kind == "unit")
    j = i
    while j < len(tokens) and tokens[j].kind == "word":
        j += 1
        count += 1
    closed = j < len(tokens) and tokens[j].kind in ("op", "eq", "rp")
    return count if closed else 99


# --- statements -----------------------------------------------------------------------

_RUN = frozenset({"num", "op", "lp", "rp", "unit"})
_GLUED_BEFORE = re.compile(r"[\w.,'\\_^:/]")
_GLUED_AFTER = re.compile(r"[\w\\_^]|[:/.]\d")


def _steps_of(line: str) -> list[tuple[str, Step]]:
    tokens = _tokens(line)
    steps = []
    for e, token in enumerate(tokens):
        if token.kind != "eq":
            continue
        left = _left_side(tokens, e, line)
        right = _right_side(tokens, e, line)
        if left is None or right is None or len(left) + len(right) > _MAX_TOKENS:
            continue
        step = _judge(left, right, token.text != "=", line)
        if step is not None:
            steps.append(step)
    return steps


def _left_side(tokens: list[_Token], e: int, line: str) -> list[_Token] | None:
    """The expression just before ``tokens[e]``, or None when it is not a whole one."""
    j = e
    while j > 0 and tokens[j - 1].kind in _RUN:
        j -= 1
    depth = _depth(tokens[j:e])
    while depth > 0 and j < e and tokens[j].kind == "lp":  # "(so 3 + 4 = 7)"
        j, depth = j + 1, depth - 1
    side = tokens[j:e]
    if not side or not _balanced(side) or side[-1].kind == "op":
        return None
    before = tokens[j - 1] if j else None
    if before is not None and (before.kind == "var" or before.text in _CONNECTORS):
        return None  # "15 pages x 1/3 = 5", "2000x 10/100 = 200": the product goes on
    if side[0].kind == "op" and not (
        side[0].text == "-" and (before is None or before.kind in ("eq", "other"))
    ):
        return None  # a fragment: "2x + 3 = 11" reads as "+ 3"
    if side[0].start and _GLUED_BEFORE.match(line[side[0].start - 1]):
        return None  # "a_1 = 3", "f(2) = 5", "\\sqrt{8} = ..."
    return side


def _right_side(tokens: list[_Token], e: int, line: str) -> list[_Token] | None:
    """The expression just after ``tokens[e]``, or None when it is not a whole one."""
    k = e + 1
    while k < len(tokens) and tokens[k].kind in _RUN:
        k += 1
    depth = _depth(tokens[e + 1 : k])
    while depth < 0 and k > e + 1 and tokens[k - 1].kind == "rp":  # "(... = 7)"
        k, depth = k - 1, depth + 1
    side = tokens[e + 1 : k]
    if not side or not _balanced(side) or side[-1].kind == "op":
        return None
    if side[0].kind == "op" and side[0].text != "-":
        return None
    if _GLUED_AFTER.match(line[side[-1].end : side[-1].end + 2]):
        return None  # "= 5x", "= 3.5.2"
    return side


def _depth(side: list[_Token]) -> int:
    return sum(1 if t.kind == "lp" else -1 if t.kind == "rp" else 0 for t in side)


def _balanced(side: list[_Token]) -> bool:
    level = 0
    for t in side:
        level += 1 if t.kind == "lp" else -1 if t.kind == "rp" else 0
        if level < 0:
            return False
    return level == 0


def _judge(
    left: list[_Token], right: list[_Token], approximate: bool, line: str
) -> tuple[str, Step] | None:
    """The step ``left = right`` with its verdict, or None when it cannot be read safely."""
    operators = [t for t in left + right if t.kind == "op"]
    if not any(_binary(side, t) for side in (left, right) for t in side if t.kind == "op"):
        return None
    units = {t.unit for t in left + right if t.unit} | _trailing_unit(right, line)
    if not any(t.kind == "op" for t in left) and any(t.unit for t in left):
        return None  # "1.5 quarts = 4 * 1.5": a quantity named, not a sum stated
    if len(units) > 1 and any(t.text in "+-/" for t in operators):
        return None  # "1 hour + 30 minutes = 90 minutes" converts; "16 s/20 feet" is a rate
    ambiguous = any(t.percent or t.scale != 1 for t in left + right)
    try:
        readings = [
            (evaluate(_expression(left, r)), _stated(right, r))
            for r in ((False, False), (True, False), (False, True), (True, True))
            if ambiguous or r == (False, False)
        ]
    except Unreadable:
        return None
    correct = any(_agrees(value, stated) for value, stated in readings)
    if approximate and not correct:
        correct = any(_close(value.point, s.point) for value, s in readings)
    if not correct and ambiguous:
        return None
    text = line[left[0].start : right[-1].end]
    key = "".join(t.text for t in left + right if t.kind != "unit").replace("$", "")
    return key, Step(text=text, value=readings[0][0].point, correct=correct)


def _binary(side: list[_Token], op: _Token) -> bool:
    return not (op is side[0] and op.text == "-")


def _trailing_unit(right: list[_Token], line: str) -> set[str]:
    after = line[right[-1].end :].split(None, 1)
    if right[-1].kind == "num" and after and after[0].isalpha():
        return {after[0].lower().removesuffix("s")}
    return set()


# --- values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stated:
    """A right side: its value, and the decimals it was written with (None: computed)."""

    value: Interval
    decimals: int | None
    first: Fraction | None  # its first number, for running computations "= 5 + 4 = 9"

    @property
    def point(self) -> Fraction:
        return self.value.point


def _expression(side: list[_Token], reading: tuple[bool, bool]) -> tuple[str, list[Interval]]:
    """The side as an expression over placeholders ``_0, _1, ...``, and their values."""
    percent, scaled = reading
    parts: list[str] = []
    values: list[Interval] = []
    for t in side:
        if t.kind == "num":
            parts.append(f"_{len(values)}")
            values.append(_literal(t, percent=percent, scaled=scaled))
        elif t.kind == "op":
            parts.append({"^": "**", "×": "*", "·": "*", "÷": "/"}.get(t.text, t.text))
        elif t.kind in ("lp", "rp"):
            parts.append("(" if t.kind == "lp" else ")")
    return " ".join(parts), values


def _literal(token: _Token, *, percent: bool, scaled: bool) -> Interval:
    if len(token.digits) > 30:
        raise Unreadable("number too long")
    value = Fraction(token.digits)
    decimals = len(token.digits.partition(".")[2])
    # Two or more decimals usually mean a rounded value (0.33, 3.14): allow its last place.
    slack = Fraction(1, 10**decimals) if decimals >= 2 else Fraction(0)
    factor = Fraction(token.scale if scaled else 1) / (100 if percent and token.percent else 1)
    return Interval((value - slack) * factor, (value + slack) * factor, value * factor)


def _stated(right: list[_Token], reading: tuple[bool, bool]) -> _Stated:
    value = evaluate(_expression(right, reading))
    numbers = [t for t in right if t.kind == "num"]
    if len(numbers) == 1 and all(t.kind in ("num", "unit") for t in right):
        digits = numbers[0].digits
        return _Stated(value, len(digits.partition(".")[2]), None)
    first = None
    if right[0].kind == "num":
        first = _literal(right[0], percent=reading[0], scaled=reading[1]).point
    return _Stated(value, None, first)


def _agrees(value: Interval, stated: _Stated) -> bool:
    if stated.decimals is not None:
        return _rounds_to(value, stated.point, stated.decimals)
    if value.overlaps(stated.value):
        return True
    return stated.first is not None and _rounds_to(value, stated.first, 0)


def _rounds_to(value: Interval, stated: Fraction, decimals: int) -> bool:
    """Whether ``stated``, written with ``decimals`` places, is ``value`` as people round."""
    unit = Fraction(1, 10**decimals)
    v = value.point
    scale = abs(v) if abs(v) >= 1 else 1
    if abs(v - stated) <= scale / 10**9:  # a float's last digits (99.00000000000001)
        return True
    if value.exact:
        if (v / unit).denominator == 1:  # representable at that precision: must be equal
            return False
        return abs(v - stated) < unit  # rounded, truncated or rounded up
    return value.low - unit / 2 <= stated <= value.high + unit / 2


def _close(value: Fraction, stated: Fraction) -> bool:
    return abs(value - stated) <= abs(value) / 100 + Fraction(1, 100)

"""Final answers: pull the answer out of a response and put it in a canonical form.

This is the light extractor: regular expressions and :mod:`fractions`, no LLM, standard
library only. Two responses get the same :func:`answer_key` when their final answers
agree as strings after :func:`normalize_answer` (``18``, ``$18.00`` and ``18 dollars``
do; ``1/2``, ``0.5`` and ``\\frac{1}{2}`` do; ``\\sqrt{2}/2`` and ``1/\\sqrt{2}`` do
not). Symbolic equivalence (math-verify) arrives with the math verifiers; this module is
what majority vote and the consensus judge stand on until then, and stays their fallback.

Examples
--------
>>> final_answer("16 - 3 = <<16-3=13>>13 eggs are left.\\nA: 13")
'13'
>>> answer_key("So the total is $\\\\boxed{\\\\dfrac{3}{4}}$.")
'0.75'
>>> answer_key("def f():\\n    return 1") is None
True
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["answer_key", "final_answer", "normalize_answer"]

# GSM8K calculator annotations (``<<16-3=13>>``) repeat the result that follows them, and
# MATH's Asymptote figures (``[asy]...[/asy]``) draw rather than state: neither is read.
_NOT_READ = re.compile(r"<<[^<>\n]*>>|\[asy\].*?\[/asy\]", re.DOTALL)
_HASHES = re.compile(r"^[ \t]*####[ \t]*(.*)$", re.MULTILINE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_LINE = re.compile(r"^(?:final[ \t]+answer|answer|a)[ \t]*:[ \t]*(.+)$", re.IGNORECASE)
_ANSWER_IS = re.compile(r"\bthe\s+(?:final\s+)?answer\s+is\b\s*:?\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
# An optional minus only where it cannot be a binary operator (``16-3`` gives 3), digits
# not glued to a word (``x2``, ``step_1``), thousands separators, decimals, fractions.
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)"
)
# Code states no final answer: fenced blocks are set aside (the prose around them may
# still state one), and a response that is bare code has none, whatever its comments say.
_FENCED_CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_CODE_LINE = re.compile(
    r"^[ \t]*(?:(?:def|class)[ \t]+\w+.*:[ \t]*$"
    r"|import[ \t]+[\w.]+[ \t]*(?:,|as\b|$)|from[ \t]+[\w.]+[ \t]+import\b)",
    re.MULTILINE,
)


def final_answer(text: str, *, last_number: bool = True) -> str | None:
    """The final answer a response states, as written (stripped), or None.

    Markers are tried in this order, and the first that yields a non-empty answer wins:

    1. GSM8K's ``#### x`` (the last one);
    2. the last ``\\boxed{x}`` or ``\\fbox{x}`` whose braces balance (nested and escaped
       braces understood; a truncated box falls back to the one before it);
    3. a last line ``A: x``, ``Answer: x`` or ``Final answer: x`` (any case, markdown bold
       allowed); when ``x`` itself says "the answer is y", ``y``;
    4. the last "the answer is x" or "the final answer is x", up to the end of its sentence;
    5. the last number in the text (``-3``, ``1,234``, ``2.5``, ``3/4``), for responses
       without code only, and unless ``last_number=False`` (a caller that can tell a bare
       answer from a solution, such as a reference, asks for the explicit markers only).

    GSM8K calculator notes (``<<16-3=13>>``), Asymptote figures (``[asy]...[/asy]``) and
    fenced code are ignored; a response that is bare code (a ``def``/``class`` or Python
    import line outside a fence) has no answer, whatever its docstrings say.

    Examples
    --------
    >>> final_answer("She makes 9 * 2 = $<<9*2=18>>18 a day.\\n#### 18")
    '18'
    >>> final_answer("Hence the answer is \\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}.")
    '\\\\frac{\\\\sqrt{3}}{2}'
    >>> final_answer("I think the final answer is 42.")
    '42'
    >>> final_answer("No numbers here.") is None
    True
    """
    text = _NOT_READ.sub("", text)
    prose = _FENCED_CODE.sub("\n", text)
    if _CODE_LINE.search(prose):
        return None
    for find in (_after_hashes, _in_box, _on_answer_line, _after_answer_is):
        if answer := find(prose):
            return answer
    # Without a marker, a number in prose around code is more likely a count than an answer.
    return _last_number(prose) if last_number and prose == text else None


def normalize_answer(answer: str) -> str:
    """A canonical string for an answer, so that equal answers compare equal as strings.

    - whitespace, surrounding ``$...$``, ``\\(...\\)`` and ``\\[...\\]``, a trailing period
      and a leading ``x =`` go; ``\\text{..}`` (and ``\\textbf``, ``\\mathrm``, ``\\mbox``)
      is unwrapped; ``\\left``/``\\right`` and ``\\!`` go; ``\\dfrac``/``\\tfrac`` read as
      ``\\frac``;
    - currency signs (``$``, ``€``, ``£``, ``¥``) and percent signs are dropped, so ``50%``
      and ``50`` agree (the light extractor cannot tell them apart anyway);
    - a number, optionally followed by unit words (``18 dollars``), becomes the number
      alone, canonicalised: thousands separators dropped (``1,234``, ``1{,}234``), ``18.0``,
      ``18.00`` and ``018`` give ``18``, ``-0`` gives ``0``; fractions of integers (``3/4``,
      ``\\frac{3}{4}``, ``\\frac34``) and decimals read as exact rationals, written as a
      decimal when that is exact (``0.75``) and as a reduced ``p/q`` otherwise (``1/3``);
    - anything else is lowercased with its whitespace collapsed.

    Examples
    --------
    >>> [normalize_answer(a) for a in ("$1,234.50", "018", "\\\\dfrac{2}{4}", "-0.0")]
    ['1234.5', '18', '0.5', '0']
    >>> normalize_answer("\\\\text{ New  York }")
    'new york'
    """
    text = _unwrap(answer)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    text = _unwrap(text)
    number = _as_number(text)
    if number is not None:
        return _number_string(number)
    return " ".join(text.lower().split())


def answer_key(text: str) -> str | None:
    """The normalised final answer of a response, or None when it states none.

    This is the key majority vote groups candidates by.

    Examples
    --------
    >>> answer_key("2 + 3 = <<2+3=5>>5\\nA: 5.0") == answer_key("The answer is $5.")
    True
    """
    answer = final_answer(text)
    if answer is None:
        return None
    return normalize_answer(answer) or None


# --- extraction, one marker per function, in order of precedence ---------------------


def _after_hashes(text: str) -> str | None:
    for match in reversed(list(_HASHES.finditer(text))):
        if answer := match.group(1).strip():
            return answer
    return None


def _in_box(text: str) -> str | None:
    for match in reversed(list(_BOXED.finditer(text))):
        content = _braced(text, match.end())
        if content is not None and content.strip():
            return content.strip()
    return None


def _braced(text: str, start: int) -> str | None:
    """The text from ``start`` to the brace closing the one just before it, or None."""
    depth = 1
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":  # \{ and \} are literal braces, not grouping
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def _on_answer_line(text: str) -> str | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    match = _ANSWER_LINE.match(lines[-1].replace("**", "").strip())
    if match is None:
        return None
    answer = match.group(1).strip()
    return _after_answer_is(answer) or _strip_period(answer)


def _after_answer_is(text: str) -> str | None:
    for match in reversed(list(_ANSWER_IS.finditer(text))):
        rest = text[match.end() :].split("\n", 1)[0].replace("**", "")
        end = _SENTENCE_END.search(rest)
        if answer := _strip_period(rest[: end.start()] if end else rest):
            return answer
    return None


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _strip_period(text: str) -> str:
    return text.strip().rstrip(".").strip()


# --- normalisation --------------------------------------------------------------------

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\!"), ""),
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\?[$%€£¥]"), ""),
    (re.compile(r"^[a-zA-Z]\s*=\s*(?=[^=\s][^=]*$)"), ""),  # "x = 5": the value is the answer
)
_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\}|\\,)(?=\d{3}(?!\d))")
_PLAIN_NUMBER = re.compile(r"([-−+]?)(\d+(?:\.\d*)?|\.\d+)(?:/(\d+))?(?:\s+[a-zA-Z]+)*")
_LATEX_FRACTION = re.compile(  # \frac{3}{4}, and \frac34 with one-digit parts
    r"([-−+]?)\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))"
)


def _unwrap(text: str) -> str:
    """Strip whitespace, a trailing period and surrounding math delimiters until none is left."""
    while True:
        before = text
        text = text.strip().rstrip(".").strip()
        for left, right in _WRAPPERS:
            if (
                len(text) > len(left) + len(right)
                and text.startswith(left)
                and text.endswith(right)
            ):
                text = text[len(left) : -len(right)]
                break
        if text == before:
            return text


def _as_number(text: str) -> Fraction | None:
    """The exact value of a plain or LaTeX number, fraction of integers included, or None."""
    text = _THOUSANDS.sub("", text)
    if match := _PLAIN_NUMBER.fullmatch(text):
        sign, value, denominator = match.groups()
        number = Fraction(value)
        if denominator is not None:
            if int(denominator) == 0 or "." in value:
                return None
            number /= int(denominator)
    elif match := _LATEX_FRACTION.fullmatch(text):
        sign = match.group(1)
        numerator = int(match.group(2) or match.group(3))
        denominator = int(match.group(4) or match.group(5))
        if denominator == 0:
            return None
        number = Fraction(numerator, denominator)
    else:
        return None
    return -number if sign in ("-", "−") else number


def _number_string(number: Fraction) -> str:
    """A decimal without trailing zeros when exact (``0.75``, ``18``), else ``p/q`` reduced."""
    twos = fives = 0
    rest = number.denominator
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{number.numerator}/{number.denominator}"
    places = max(twos, fives)
    digits = str(abs(number.numerator) * 10**places // number.denominator).rjust(places + 1, "0")
    whole, decimals = digits[: len(digits) - places], digits[len(digits) - places :].rstrip("0")
    sign = "-" if number < 0 else ""
    return sign + whole + ("." + decimals if decimals else "")

"""Final answers: pull the answer out of a response and put it in a canonical form.

This is the one extractor every part of rerank uses (majority vote, the consensus judge,
the math verifier and so the evidence and LLM judges, task-kind detection): regular
expressions, :mod:`json` and :mod:`fractions`, no LLM, standard library only.
:func:`extract_answer` says what a response states as its final answer and where it
found it (``answer.source``: ``json:answer``, ``boxed``, ``phrase``, ``last-number``...);
a last number read without any marker is *weak* (``answer.weak``): it counts in a vote
only where some response states the same answer explicitly (:func:`vote_keys`).

Two responses get the same :func:`answer_key` when their final answers agree as strings
after :func:`normalize_answer` (``18``, ``$18.00`` and ``18 dollars`` do; ``1/2``, ``0.5``
and ``\\frac{1}{2}`` do; ``\\sqrt{2}/2`` and ``1/\\sqrt{2}`` do not: symbolic equivalence
is the math verifier's, with math-verify).

Examples
--------
>>> final_answer("16 - 3 = <<16-3=13>>13 eggs are left.\\nA: 13")
'13'
>>> answer = extract_answer('```json\\n{"reasoning": "...", "answer": "\\\\frac{1}{2}"}\\n```')
>>> answer.written, answer.source, answer.key
('\\\\frac{1}{2}', 'json:answer', '0.5')
>>> answer_key("So the total is $\\\\boxed{\\\\dfrac{3}{4}}$.")
'0.75'
>>> extract_answer("def f():\\n    return 1").describe()
'none (code states no final answer)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from rerank.answers_json import PLACEHOLDERS, answer_fields

__all__ = [
    "LAST_NUMBER",
    "NO_ANSWER",
    "FinalAnswer",
    "answer_key",
    "extract_answer",
    "final_answer",
    "normalize_answer",
    "vote_keys",
]

#: ``FinalAnswer.source`` of a last number read without any marker: a weak answer.
LAST_NUMBER = "last-number"
#: ``FinalAnswer.source`` when no answer was found.
NO_ANSWER = "none"
NOT_FOUND = "no final answer found"


@dataclass(frozen=True)
class FinalAnswer:
    """What a response states as its final answer, and how it was found.

    ``written`` is the answer as written (stripped), ``None`` when none was found, and then
    ``reason`` says why. ``source`` names the marker that gave it: ``hashes`` (``#### x``),
    ``json:<key>`` (``json:answer``, ``json:final_answer``...), ``boxed``,
    ``final-answer`` (a "Final Answer" label or heading), ``answer-line`` (a last line
    ``A: x``), ``phrase`` ("the answer is x"), ``conclusion`` ("Therefore, x = 5"),
    ``last-number`` (weak) or ``none``.
    """

    written: str | None
    source: str
    reason: str = ""

    @property
    def weak(self) -> bool:
        """A last number read without any marker: a guess at the answer, not a statement."""
        return self.source == LAST_NUMBER

    @property
    def key(self) -> str | None:
        """The normalised answer (:func:`normalize_answer`), or None."""
        if self.written is None:
            return None
        return normalize_answer(self.written) or None

    def describe(self) -> str:
        """The source for a reader: ``json:answer``, ``last-number (weak)``, ``none (why)``."""
        if self.written is None:
            return f"{NO_ANSWER} ({self.reason or NOT_FOUND})"
        return f"{self.source} (weak)" if self.weak else self.source


# GSM8K calculator annotations (``<<16-3=13>>``, or cut off at the end of a line) repeat
# the result that follows them, and MATH's Asymptote figures (``[asy]...[/asy]``) draw
# rather than state: neither is read.
_NOT_READ = re.compile(r"<<[^<>\n]*(?:>>|$)|\[asy\].*?\[/asy\]", re.DOTALL | re.MULTILINE)
# GSM8K's ``#### x``, also after words on its line ("so #### 5"; only a line's start is
# a markdown heading, and a heading must still read as a value to count).
_HASHES = re.compile(r"(?:^|(?<=\s))####[ \t]*(.*)$", re.MULTILINE)
_BOXED = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])[ \t]*(\{)?")
_BOX_TOKEN = re.compile(r"[^\s$]+")
_ANSWER_LINE = re.compile(r"^(?:final[ \t]+answer|answer|a)[ \t]*:[ \t]*(.+)$", re.IGNORECASE)
# "Final Answer" as a label or heading at the start of a line: `**Final Answer:** 5`,
# `### Final Answer` with the answer on the next line; not "to get the final answer, ...".
_FINAL_ANSWER = re.compile(
    r"^[ \t#>*_]*final[ \t]+answer\b[ \t*_]*(?::[ \t*_]*)?(.*)$", re.IGNORECASE | re.MULTILINE
)
_ANSWER_IS = re.compile(r"\b(?:the|my|our)\s+(?:final\s+)?answer\s+(?:is|=)\s*:?\s*", re.IGNORECASE)
_STATED_LENGTH = 80  # a marked answer longer than this is a sentence, not an answer
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
# "Therefore, x = 5." / "Thus the sum is $-15$." in the last paragraph.
_CONCLUSION = re.compile(r"\b(?:therefore|thus|hence|so|consequently)\b,?\s+", re.IGNORECASE)
_CONCLUDED = re.compile(r"(?:=|\bis\b|\bequals\b)\s*:?\s*(?!.*(?:=|\bis\b|\bequals\b))(.+)$")
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
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


def extract_answer(text: str, *, last_number: bool = True) -> FinalAnswer:
    """The final answer a response states, with where it was found (:class:`FinalAnswer`).

    Markers are tried in this order, and the first that yields a non-empty answer wins:

    1. GSM8K's ``#### x`` (the last one whose ``x`` reads as a value, not a markdown
       heading such as ``#### **Step 2**``);
    2. a JSON object, bare or fenced (```` ```json ````), with an answer-like key
       (``answer``, ``final_answer``, ``final``, ``result``, ``solution``, ``ans``; any
       case and spacing; nested objects searched): the last such object. Its value is
       read again for a box or "the answer is" inside it; a key whose value states
       nothing (``""``, ``"None"``) means no answer. JSON as models write it is read
       tolerantly (:mod:`rerank.answers_json`: LaTeX written without escaping, raw
       newlines, unescaped quotes);
    3. the last ``\\boxed{x}`` or ``\\fbox{x}`` whose braces balance (nested and escaped
       braces understood; a truncated box falls back to the one before it), or
       ``\\boxed x``;
    4. "Final Answer" as a label or heading at the start of a line (``**Final Answer:**
       x``, or ``### Final Answer`` with the answer on the next line);
    5. a last line ``A: x``, ``Answer: x`` (any case, markdown bold allowed); when ``x``
       itself says "the answer is y", ``y``;
    6. the last "the answer is x" (also "the final answer is", "my answer is"), up to the
       end of its sentence;
    7. a conclusion at the end of the text: "Therefore, x = 5", "Thus the sum is $-15$"
       (the value must be a number or an expression, with at most a unit word);
    8. the last number in the text (``-3``, ``1,234``, ``2.5``, ``3/4``), for responses
       without code only, and unless ``last_number=False``: a *weak* answer.

    GSM8K calculator notes (``<<16-3=13>>``), Asymptote figures (``[asy]...[/asy]``) and
    fenced code (but for JSON) are ignored; a response that is bare code (a
    ``def``/``class`` or Python import line outside a fence) has no answer, whatever its
    docstrings say; an answer that says there is none (``A: None``, ``N/A``) is none.

    Parameters
    ----------
    text : the response.
    last_number : fall back on the last number (rule 8); ``False`` for text whose
        numbers are not answers (a reference solution's working).

    Returns
    -------
    FinalAnswer : the answer as written (``None`` when there is none), which rule found
        it, and why there is none.

    Examples
    --------
    >>> extract_answer("She makes 9 * 2 = $<<9*2=18>>18 a day.\\n#### 18")
    FinalAnswer(written='18', source='hashes', reason='')
    >>> extract_answer('{"reasoning": "4 + 2", "final_answer": 6}').describe()
    'json:final_answer'
    >>> extract_answer("Hence $\\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}$.").written
    '\\\\frac{\\\\sqrt{3}}{2}'
    >>> extract_answer("I think the final answer is 42.").source
    'phrase'
    >>> extract_answer("It is about 7 or so").describe()
    'last-number (weak)'
    >>> extract_answer("No numbers here.").describe()
    'none (no final answer found)'
    """
    text = _NOT_READ.sub("", text)
    prose = _FENCED_CODE.sub("\n", text)
    if _CODE_LINE.search(prose):
        return FinalAnswer(None, NO_ANSWER, "code states no final answer")
    if answer := _after_hashes(prose):
        return _stated(answer, "hashes")
    if found := _in_json(text):
        return found
    for source, find in _MARKERS:
        if answer := find(prose):
            return _stated(answer, source)
    # Without a marker, a number in prose around code is more likely a count than an answer.
    if last_number and prose == text and (number := _last_number(prose)):
        return FinalAnswer(number, LAST_NUMBER)
    return FinalAnswer(None, NO_ANSWER, NOT_FOUND)


def final_answer(text: str, *, last_number: bool = True) -> str | None:
    """The final answer a response states, as written, or None (:func:`extract_answer`).

    Examples
    --------
    >>> final_answer("Hence the answer is \\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}.")
    '\\\\frac{\\\\sqrt{3}}{2}'
    >>> final_answer("No numbers here.") is None
    True
    """
    return extract_answer(text, last_number=last_number).written


def normalize_answer(answer: str) -> str:
    """A canonical string for an answer, so that equal answers compare equal as strings.

    - whitespace, surrounding ``$...$``, ``\\(...\\)`` and ``\\[...\\]``, markdown bold, a
      trailing period and a leading ``x =`` go; ``\\text{..}`` (and ``\\textbf``,
      ``\\mathrm``, ``\\mbox``) is unwrapped; ``\\left``/``\\right``, ``\\!`` and degree
      signs (``^\\circ``, ``°``) go; ``\\dfrac``/``\\tfrac`` read as ``\\frac``, ``π`` as
      ``\\pi``;
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
    """The normalised final answer of a response (weak or not), or None when it states none.

    Examples
    --------
    >>> answer_key("2 + 3 = <<2+3=5>>5\\nA: 5.0") == answer_key("The answer is $5.")
    True
    """
    return extract_answer(text).key


def vote_keys(texts: Iterable[str]) -> list[str | None]:
    """The key each response votes with: its normalised answer, or None (abstain).

    A weak answer (a last number read without a marker) votes only for an answer some
    response states explicitly: on its own it abstains, so a pile of stray numbers never
    outvotes a stated answer, and responses without answers never share a key.

    Examples
    --------
    >>> vote_keys(["A: 5", "so we get 5", "so we get 3", "so we get 3", "No idea."])
    ['5', '5', None, None, None]
    """
    answers = [extract_answer(text) for text in texts]
    stated = {a.key for a in answers if not a.weak}
    return [
        a.key if a.key is not None and (not a.weak or a.key in stated) else None for a in answers
    ]


def _stated(answer: str, source: str) -> FinalAnswer:
    """The answer a marker gave, unless it says there is none (``A: None``, ``N/A``): such
    answers are no answer, so responses without one never share a key that wins a vote."""
    if normalize_answer(answer) in PLACEHOLDERS:
        return FinalAnswer(None, NO_ANSWER, f"the answer stated is {answer!r}")
    return FinalAnswer(answer, source)


# --- markers in prose, one per function, in order of precedence ------------------------


def _after_hashes(text: str) -> str | None:
    for match in reversed(list(_HASHES.finditer(text))):
        # A markdown heading (``#### **7. Recap**``) is no GSM8K answer.
        if (answer := match.group(1).strip()) and _looks_like_a_value(answer):
            return answer
    return None


def _in_box(text: str) -> str | None:
    boxes = list(_BOXED.finditer(text))
    closing = _closing_braces(text) if boxes else {}
    for match in reversed(boxes):
        if match.group(1):
            end = closing.get(match.end() - 1)
            content = text[match.end() : end] if end is not None else None
        else:  # \boxed 5
            token = _BOX_TOKEN.match(text, match.end())
            content = token.group() if token else None
        if content is not None and content.strip():
            return content.strip()
    return None


def _closing_braces(text: str) -> dict[int, int]:
    """Each balanced ``{``'s position -> its ``}``'s, in one pass (``\\{`` and ``\\}``
    are literal braces, not grouping); an unclosed brace has none."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            opened.append(i)
        elif char == "}" and opened:
            closing[opened.pop()] = i
        i += 1
    return closing


def _after_final_answer(text: str) -> str | None:
    for match in reversed(list(_FINAL_ANSWER.finditer(text))):
        rest = match.group(1).replace("**", "").strip().lstrip(":").strip()
        if not rest:  # a heading: the answer is on the next non-empty line
            following = [line for line in text[match.end() :].splitlines() if line.strip()]
            rest = following[0].replace("**", "").strip() if following else ""
        rest = re.sub(r"^(?:is\b|=)\s*:?\s*", "", rest)
        if rest and (
            answer := _after_answer_is(rest) or _concluded_value(rest) or _stated_value(rest)
        ):
            return answer
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


def _in_conclusion(text: str) -> str | None:
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    if not paragraphs:
        return None
    last = paragraphs[-1]
    for match in reversed(list(_CONCLUSION.finditer(last))):
        line = last[match.end() :].split("\n", 1)[0]
        end = _SENTENCE_END.search(line)
        sentence = line[: end.start()] if end else line
        if len(last) - match.end() - len(sentence) > _STATED_LENGTH:
            return None  # the text goes on: this was a step, not the conclusion
        if answer := _concluded_value(sentence):
            return answer
    return None


def _concluded_value(sentence: str) -> str | None:
    """What a concluding sentence says the result is ("the sum is 15", "x = 1 + 2 = 3"),
    when that is a number or an expression; None for prose ("is only one value of r")."""
    sentence = sentence.replace("**", "")
    end = _SENTENCE_END.search(sentence)
    match = _CONCLUDED.search(sentence[: end.start()] if end else sentence)
    if match is None or not (value := _stated_value(_balance_math(match.group(1)))):
        return None
    return value if _looks_like_a_value(value) else None


def _looks_like_a_value(text: str) -> bool:
    """A number or an expression, with at most a unit word ("36 seconds"): a digit or a
    LaTeX command, and at most one word of three letters or more outside LaTeX commands."""
    letters = re.findall(r"[a-zA-Z]{3,}", _LATEX_COMMAND.sub(" ", text))
    return len(letters) <= 1 and bool(re.search(r"\d|\\[a-zA-Z]", text))


def _balance_math(value: str) -> str:
    """Drop a math delimiter closing a formula that began before the value (``12\\)``)."""
    value = value.strip().rstrip(".").strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]")):
        if value.endswith(right) and left not in value:
            value = value[: -len(right)]
    if value.count("$") % 2:
        value = value.strip("$")
    return value


def _stated_value(text: str) -> str | None:
    """A short answer as stated after a marker, trailing period dropped; None if prose."""
    answer = _strip_period(text)
    return answer if answer and len(answer) <= _STATED_LENGTH else None


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _strip_period(text: str) -> str:
    """Without surrounding whitespace, a trailing period or surrounding quotes (``"6".``)."""
    text = text.strip().rstrip(".").strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    elif text and text[-1] in "\"'" and text[:-1].count(text[-1]) % 2 == 0:
        text = text[:-1].rstrip(".").strip()  # `6."` closing a quotation begun before
    return text


_MARKERS = (
    ("boxed", _in_box),
    ("final-answer", _after_final_answer),
    ("answer-line", _on_answer_line),
    ("phrase", _after_answer_is),
    ("conclusion", _in_conclusion),
)


# --- JSON objects (read by rerank.answers_json) -----------------------------------------


def _in_json(text: str) -> FinalAnswer | None:
    """The answer of the last JSON object with an answer-like key. Such a key decides: when
    no field of it states an answer, the response has none (no number elsewhere is read)."""
    fields = answer_fields(text)
    for key, written in fields:
        found = _read_value(written, f"json:{key}") if written is not None else None
        if found is not None and found.written is not None:
            return found
    if fields:
        return FinalAnswer(None, NO_ANSWER, f"the JSON field {fields[0][0]!r} states no answer")
    return None


def _read_value(written: str, source: str) -> FinalAnswer | None:
    """An answer value read again: a box or "the answer is" inside it wins; a long value
    (a whole solution under ``solution``) is read like a response."""
    if len(written) > _STATED_LENGTH or "\n" in written:
        inner = extract_answer(written)
        if inner.written is None:
            return None
        return FinalAnswer(inner.written, source if not inner.weak else LAST_NUMBER)
    stated = _in_box(written) or _after_answer_is(written)
    return _stated(stated or written, source)


# --- normalisation --------------------------------------------------------------------

_WRAPPERS = (
    ("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ('"', '"'),
)  # fmt: skip
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\!"), ""),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°"), ""),
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"π"), r"\\pi"),
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

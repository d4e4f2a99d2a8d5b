"""Phrase parsing shared by the instruction extractor: numbers, relations, word lists.

IFEval states counts with two relations only, ``"at least"`` and ``"less than"``, so every
English phrasing is mapped onto them: "more than 30" is at least 31, "at most 150" and
"150 or less" are less than 151, "20 to 25" is at least 20 *and* less than 26.
Everything here is a pure function of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ABOUT_DATA",
    "LANGUAGES",
    "NUMBER",
    "Found",
    "Prompt",
    "Relation",
    "count_relations",
    "number_value",
    "search",
    "sentences",
    "times_relations",
    "word_list",
]

Relation = tuple[str, int]
#: What a rule finds: an IFEval instruction id and its kwargs.
Found = tuple[str, dict[str, Any]]
#: A sentence about a program's data, where "lowercase" or "JSON format" describe values.
ABOUT_DATA = (
    r"\b(?:strings?|list of|dict(?:ionary)?|function|returns?|characters|data|file"
    r"|constants?|keys?|columns?|dataframe|request)\b"
)

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}
_WORDS: dict[str, int] = (
    {w: i for i, w in enumerate(_UNITS)}
    | _TENS
    | {"a single": 1, "single": 1, "once": 1, "twice": 2, "thrice": 3}
)

#: A count, in digits or in words ("12", "twelve", "twice").
NUMBER = r"(?:\d+|" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")"
_N = rf"({NUMBER})"

#: IFEval's response languages (ISO 639-1 codes, as its ``language`` kwarg has them).
LANGUAGES: dict[str, str] = {
    "English": "en",
    "Spanish": "es",
    "Portuguese": "pt",
    "Arabic": "ar",
    "Hindi": "hi",
    "French": "fr",
    "Russian": "ru",
    "German": "de",
    "Japanese": "ja",
    "Italian": "it",
    "Bengali": "bn",
    "Ukrainian": "uk",
    "Thai": "th",
    "Urdu": "ur",
    "Tamil": "ta",
    "Telugu": "te",
    "Bulgarian": "bg",
    "Korean": "ko",
    "Polish": "pl",
    "Hebrew": "he",
    "Persian": "fa",
    "Farsi": "fa",
    "Vietnamese": "vi",
    "Nepali": "ne",
    "Swahili": "sw",
    "Kannada": "kn",
    "Marathi": "mr",
    "Gujarati": "gu",
    "Punjabi": "pa",
    "Malayalam": "ml",
    "Finnish": "fi",
}


def number_value(token: str) -> int:
    """The value of a count matched by :data:`NUMBER` ("12" -> 12, "twice" -> 2)."""
    token = token.lower()
    return int(token) if token.isdigit() else _WORDS[token]


# Each pattern reads a count of ``{noun}``; the relation is built from the matched numbers.
_AT_LEAST = r"at least|no less than|not less than|no fewer than|a minimum of|minimum of"
_MORE = r"more than|over|greater than|in excess of|longer than"
_LESS = r"less than|fewer than|under|below|shorter than"
_AT_MOST = r"at most|no more than|not more than|a maximum of|maximum of|up to|not exceeding"
_RANGE_SEP = r"\s*(?:to|-|–|and)\s*"


def _relation_patterns(noun: str) -> list[tuple[re.Pattern[str], object]]:
    adj = r"(?:(?:very|short|long|full|complete|different|distinct|total)\s+){0,2}"
    tail = rf"\s+{adj}{noun}\b"
    of = r"(?:a\s+total\s+of\s+)?"
    table: list[tuple[str, object]] = [
        (rf"(?:between\s+){_N}{_RANGE_SEP}{_N}{tail}", "range"),
        (rf"\b{_N}{_RANGE_SEP}{_N}{tail}", "range"),
        (rf"\b{noun}\b[^.]{{0,60}}?\bin the range of\s+{_N}{_RANGE_SEP}{_N}", "range"),
        (rf"(?:n't|not)\s+(?:want\s+)?(?:anything\s+)?(?:{_MORE})\s+{_N}{tail}", "at_most"),
        (rf"\b(?:{_AT_LEAST})\s+{of}{_N}{tail}", "at_least"),
        (rf"\b(?:{_MORE})\s+{of}{_N}{tail}", "more"),
        (rf"\b{_N}\s*(?:\+|or more|or above|or greater){tail}", "at_least"),
        (rf"\b{_N}{tail}\s+or (?:more|above)", "at_least"),
        (rf"\b(?:{_LESS})\s+{of}{_N}{tail}", "less"),
        (rf"\b(?:{_AT_MOST})\s+{of}{_N}{tail}", "at_most"),
        (rf"\bexactly\s+{_N}{tail}", "exactly"),
        (rf"\b{_N}\s+or (?:less|fewer){tail}", "at_most"),
        (rf"\b{_N}{tail}\s+or (?:less|fewer)", "at_most"),
    ]
    return [(re.compile(p, re.I), kind) for p, kind in table]


def _relations_from(kind: object, numbers: list[int]) -> list[Relation]:
    if kind == "range":
        low, high = numbers
        return [("at least", low), ("less than", high + 1)]
    n = numbers[0]
    return {
        "exactly": [("at least", n), ("less than", n + 1)],
        "at_least": [("at least", n)],
        "more": [("at least", n + 1)],
        "less": [("less than", n)],
        "at_most": [("less than", n + 1)],
    }[str(kind)]


def _scan(text: str, patterns: list[tuple[re.Pattern[str], object]]) -> list[Relation]:
    """Apply patterns in order; a matched span is blanked so later patterns skip it."""
    found: list[tuple[int, list[Relation]]] = []
    for pattern, kind in patterns:
        for match in pattern.finditer(text):
            numbers = [number_value(g) for g in match.groups() if g is not None]
            found.append((match.start(), _relations_from(kind, numbers)))
            text = text[: match.start()] + " " * len(match.group()) + text[match.end() :]
    return [rel for _, rels in sorted(found, key=lambda f: f[0]) for rel in rels]


_NOUN_PATTERNS: dict[str, list[tuple[re.Pattern[str], object]]] = {}


def count_relations(text: str, noun: str) -> list[Relation]:
    """Counts of ``noun`` (a regex such as ``r"sentences?"``) that ``text`` asks for.

    >>> count_relations("Answer with more than 800 words.", r"words?")
    [('at least', 801)]
    >>> count_relations("Write 20 to 25 sentences.", r"sentences?")
    [('at least', 20), ('less than', 26)]
    """
    if noun not in _NOUN_PATTERNS:
        _NOUN_PATTERNS[noun] = _relation_patterns(noun)
    found = _scan(text, _NOUN_PATTERNS[noun])
    if not found:  # "the total number of words ... should be 250 or more"
        before = rf"\b(?:number|count|total) of {noun}\b([^.]{{0,50}})"
        for match in re.finditer(before, text, re.I):
            found.extend(times_relations(match.group(1)))
    return found


_TIMES = r"(?:\s+times?)"
_TIMES_PATTERNS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(p, re.I), kind)
    for p, kind in [
        (rf"\bbetween\s+{_N}\s+and\s+{_N}{_TIMES}", "range"),
        (rf"\b{_N}\s*(?:to|-|–|or)\s*{_N}{_TIMES}", "range"),
        (r"\b(?:only|exactly|just)\s+once\b", "exactly_once"),
        (rf"\b{_N}{_TIMES}?\s+or (?:less|fewer)\b", "at_most"),
        (rf"\b(?:{_AT_LEAST})\s+{_N}{_TIMES}?", "at_least"),
        (rf"\b(?:{_MORE})\s+{_N}{_TIMES}?", "more"),
        (rf"\b{_N}{_TIMES}?\s+or more\b", "at_least"),
        (rf"\b(?:{_LESS})\s+{_N}{_TIMES}?", "less"),
        (rf"\b(?:{_AT_MOST})\s+{_N}{_TIMES}?", "at_most"),
        (rf"\bexactly\s+{_N}{_TIMES}", "exactly"),
    ]
]


def times_relations(text: str) -> list[Relation]:
    """How often ``text`` asks for something: the first phrasing found, as relations.

    >>> times_relations("should appear 6 or 7 times")
    [('at least', 6), ('less than', 8)]
    >>> times_relations("Mention the name only once.")
    [('less than', 2)]
    """
    for pattern, kind in _TIMES_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            if kind == "exactly_once":  # IFEval reads "only once" as "less than 2"
                return [("less than", 2)]
            return _relations_from(kind, [number_value(g) for g in match.groups() if g])
    return []


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[*])|\n+")


def sentences(text: str) -> list[str]:
    """Split on sentence ends followed by a capital, and on line breaks (good enough here)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


_QUOTED = re.compile(
    r"\"([^\"]{1,60})\"|(?<![A-Za-z])'([^']{1,60})'(?![A-Za-z])|\[([^\[\]]{1,60})\]"
)
_LIST_STOP = re.compile(
    r"\s+(?:in|into|throughout|anywhere|within|from|for|when|while|to|so|because|at)\b"
    r"(?:\s+(?:the|your|my|this|each|every|any|all)\b)?.*$",
    re.I,
)
_SEPARATORS = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,|\band\b|\bor\b|&)\s*", re.I)


def word_list(fragment: str) -> list[str]:
    """The words a fragment lists: quoted items if any, else items separated by commas/and/or.

    >>> word_list("'sad', 'crazy', 'stress', etc., in the response")
    ['sad', 'crazy', 'stress']
    >>> word_list("waste, material and meal")
    ['waste', 'material', 'meal']
    """
    fragment = re.sub(r"^\s*(?:such as|like|namely|including)\b\s*", "", fragment, flags=re.I)
    starts_quoted = re.match(r"\s*[\"'\[]", fragment) is not None
    quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(fragment)]
    if quoted and starts_quoted:
        items = []
        for q in quoted:
            # A bracketed list holds quoted items of its own: ['kill', 'slaughter'].
            inner = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(q + " ")]
            items.extend(inner or [q])
        return [i.strip() for i in items if i.strip()]
    head = re.split(r"[.;:!?\n(]", fragment, maxsplit=1)[0]
    head = _LIST_STOP.sub("", head)
    items = [i.strip(" '\"") for i in _SEPARATORS.split(head)]
    words = [i for i in items if i and i.lower() not in {"etc", "etc."}]
    # Unquoted lists are single words or short names; longer items are prose, not keywords.
    return words if words and all(len(w.split()) <= 2 for w in words) else []


@dataclass
class Prompt:
    """A prompt as the extraction rules read it: whole, on one line, and in sentences.

    Code in fences is left out (it is material, not instructions), and so is "don't forget
    to", which asks for what follows rather than forbidding it.
    """

    text: str  # quotes normalised, line breaks kept
    flat: str = field(init=False)  # one line
    sentences: list[str] = field(init=False)  # split at line breaks too
    flat_sentences: list[str] = field(init=False)

    def __post_init__(self) -> None:
        plain = re.sub(r"```.*?(?:```|$)", " ", self.text, flags=re.S)
        plain = re.sub(r"\b(?:do not|don't) forget to\b", "", plain, flags=re.I)
        self.flat = re.sub(r"\s+", " ", plain).strip()
        self.sentences = sentences(plain)
        self.flat_sentences = sentences(re.sub(r"\s+", " ", plain))


def search(pattern: str, text: str) -> re.Match[str] | None:
    """``pattern`` in ``text``, ignoring case."""
    return re.search(pattern, text, re.I)

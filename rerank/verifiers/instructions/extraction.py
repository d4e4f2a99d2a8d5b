"""Read IFEval instructions off a prompt's prose, deterministically.

``extract_instructions(prompt)`` returns instruction ids and kwargs in IFEval's own format
(``instruction_id_list`` and ``kwargs``), so the library's checkers can run on prompts that
carry no ids. Each instruction type has one small rule below: a few regexes over the
phrasings people (and IFEval's authors) use, plus the parsing of its arguments. A rule
that finds its trigger but cannot read every argument emits nothing, because IFEval's
checkers fill a missing argument with a *random* value.

Extracted constraints are soft evidence: docs/instructions.md measures precision and recall
per type against IFEval's own annotations (``benchmarks/instruction_extraction.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rerank.verifiers.instructions.phrases import (
    LANGUAGES,
    NUMBER,
    count_relations,
    number_value,
    sentences,
    times_relations,
    word_list,
)

__all__ = ["extract_instructions"]

Found = tuple[str, dict[str, Any]]

_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "‘": "'", "’": "'", "\u00a0": " "}
)


@dataclass
class _Prompt:
    text: str  # quotes normalised, line breaks kept
    flat: str = field(init=False)  # one line
    sentences: list[str] = field(init=False)  # split at line breaks too
    flat_sentences: list[str] = field(init=False)

    def __post_init__(self) -> None:
        # Code in fences is material, not instructions; "Don't forget to include X" asks for X.
        plain = re.sub(r"```.*?(?:```|$)", " ", self.text, flags=re.S)
        plain = re.sub(r"\b(?:do not|don't) forget to\b", "", plain, flags=re.I)
        self.flat = re.sub(r"\s+", " ", plain).strip()
        self.sentences = sentences(plain)
        self.flat_sentences = sentences(re.sub(r"\s+", " ", plain))


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.I)


# ---- case ---------------------------------------------------------------------------------

# Words in capitals, counted ("at least 3 words in all caps"), versus a response in capitals.
_CAPITAL_WORDS = (
    r"\bwords?\b(?:\s+or\s+phrases)?[^.,;]{0,40}?\b"
    r"(?:all[\s-]+capitals?|all[\s-]+caps|capital\s+letters|capitali[sz]ed|upper[\s-]?case)"
    r"|\b(?:all[\s-]caps|capitali[sz]ed)\s+(?:\w+\s+)?words"
)
_ALL_CAPITALS = (
    r"\ball\s+(?:capital letters|caps|capitals|upper[\s-]?case)\b"
    r"|\bcapitali[sz]e\s+(?:all|every|each)\s+(?:of\s+)?(?:your\s+|the\s+)?"
    r"(?:words|letters?)"
    r"|\bonly\s+(?:use\s+)?capital\s+letters|\bin\s+capital\s+letters\s+only"
    r"|\ball\s+(?:the\s+)?letters\b[^.]{0,40}?\b(?:be|are)\s+capitali[sz]ed"
    r"|\b(?:entirely|all)\s+in\s+(?:upper[\s-]?case|capital letters|caps)"
    r"|\bno\s+lower[\s-]?case\s+letters|\bnot\s+a\s+single\s+word\b[^.]{0,60}?\blower[\s-]?case"
)
# About the response ("answer in all lowercase"), not about data ("count lowercase letters").
_LOWERCASE = (
    r"\ball\s+(?:in\s+)?lower[\s-]?case|\bonly\s+(?:use\s+)?lower[\s-]?case"
    r"|\blower[\s-]?case\s+(?:letters\s+)?only\b|\blowercased\b|\bin\s+lower[\s-]?cases\b"
    r"|\bletters\s+(?:are|be|should\s+be|must\s+be)\s+(?:all\s+)?lower[\s-]?case"
    r"|\b(?:response|answer|reply|output|text|letter|email|essay|poem|post)\b[^.]{0,30}?"
    r"\b(?:in|be|with)\s+lower[\s-]?case"
    r"|(?:\bno|\bnot|n't|\bwithout)\b[^.]{0,30}?\bcapital\s+letters"
    r"|\bnot\s+(?:a\s+single|any)\s+(?:letter|capital)\b[^.]{0,60}?capitali[sz]ed"
)


_COUNTED_WORDS = r"(?:(?:such|capitali[sz]ed|stress|capital)\s+){0,2}words?(?:\s+or\s+phrases)?"


def _capital_word_frequency(p: _Prompt) -> list[Found]:
    found = []
    for sentence in p.sentences:
        if _search(_CAPITAL_WORDS, sentence):
            relations = count_relations(sentence, _COUNTED_WORDS) or times_relations(sentence)
            for relation, n in relations:
                found.append(
                    (
                        "change_case:capital_word_frequency",
                        {"capital_frequency": n, "capital_relation": relation},
                    )
                )
    return found


def _english_capital(p: _Prompt) -> list[Found]:
    hit = any(_search(_ALL_CAPITALS, s) and not _search(_CAPITAL_WORDS, s) for s in p.sentences)
    return [("change_case:english_capital", {})] if hit else []


# Sentences about a program's data, where "lowercase" or "JSON format" describe values.
_ABOUT_DATA = (
    r"\b(?:strings?|list of|dict(?:ionary)?|function|returns?|characters|data|file"
    r"|constants?|keys?|columns?|dataframe|request)\b"
)


def _english_lowercase(p: _Prompt) -> list[Found]:
    hit = any(
        _search(_LOWERCASE, s) and not _search(_CAPITAL_WORDS, s) and not _search(_ABOUT_DATA, s)
        for s in p.sentences
    )
    return [("change_case:english_lowercase", {})] if hit else []


# ---- keywords -----------------------------------------------------------------------------

_NEGATION = r"(?:\bnot|n't|\bnever|\bavoid|\bwithout|\brefrain from|\bno|\bexclude)\b"
_KEYWORD_NOUN = r"(?:key\s*words?|words?|terms?|items?)"
_INCLUDE = re.compile(
    r"(?:\b(?:include|includes|including|contain|contains|containing|use|uses|using|mention"
    r"|mentions|has|have)\s+(?:all\s+)?(?:of\s+)?"
    rf"(?:(?:(?:the|these|those|following)\s+)+{_KEYWORD_NOUN}|key\s*words?)"
    r"|\bwith\s+(?:these|the\s+following)\s+(?:key\s*)?words)"
    r"\b(?!\s+(?:in|with)\s+all)\s*:?\s*(.*)",
    re.I,
)
_MENTION_QUOTED = re.compile(r"\bmention\s+(\".*)", re.I)
_FORBIDDING = (
    r"(?:\bavoid|\bexclude)\s+"
    rf"|{_NEGATION}\s+(?:\w+\s+){{0,2}}?(?:use|using|include|including|mention"
    r"|mentioning|say|saying|write|writing|contain|containing|add|adding)\s+"
)
_FORBID = re.compile(
    rf"(?:{_FORBIDDING})(?:(?!words?\b)\w+\s+){{0,2}}?{_KEYWORD_NOUN}\b\s*:?\s*"
    r"(?!\s*(?:should|must|after|before|or|that|than|follow)\b)(.*)",
    re.I,
)
_FORBID_SAY = re.compile(
    r"(?:\bnot|n't|\bnever)\s+(?:say|mention|use|include|write)\s+([\"'].*)"
    r"|(?:\bnot|n't|\bnever)\s+mention\s+(.*)",
    re.I,
)
_FORBID_SUBJECT = re.compile(
    r"\bthe\s+(?:key)?words?\s+(.+?)\s+(?:cannot|can't|can not|must not|mustn't|should not"
    r"|shouldn't|may not|does not|doesn't|do not|don't)\s+(?:be|appear)",
    re.I,
)


def _keywords_existence(p: _Prompt) -> list[Found]:
    for sentence in p.sentences:
        for match in (_INCLUDE.search(sentence), _MENTION_QUOTED.search(sentence)):
            if match is None or _search(
                rf"{_NEGATION}\s+(?:\w+\s+){{0,2}}$", sentence[: match.start()]
            ):
                continue
            if times_relations(match.group(1)):
                continue  # "include the word X at least twice" is keywords:frequency
            words = word_list(match.group(1))
            if words:
                return [("keywords:existence", {"keywords": words})]
    return []


def _forbidden_words(p: _Prompt) -> list[Found]:
    for sentence in p.sentences:
        for pattern in (_FORBID_SAY, _FORBID, _FORBID_SUBJECT):
            match = pattern.search(sentence)
            words = word_list(next(g for g in match.groups() if g is not None)) if match else []
            if words:
                return [("keywords:forbidden_words", {"forbidden_words": words})]
    return []


def _times(clause: str) -> list[tuple[str, int]]:
    """How often a word or letter must occur: needs "times", "once" or "twice" to count."""
    if not _search(r"\b(?:times?|once|twice|thrice)\b", clause):
        return []
    return times_relations(clause)


_NOT_KEYWORDS = {"count", "counts", "limit", "of", "for", "to", "in", "that", "which", "is", "and"}
_WORD_ANCHOR = re.compile(
    r"\b(?:the\s+)?(?:key)?(?:word|name)\s+(\"[^\"]+\"|'[^']+'|[A-Za-z][\w'-]*)", re.I
)


def _keyword_frequency(p: _Prompt) -> list[Found]:
    found = []
    for sentence in p.sentences:
        anchors = list(_WORD_ANCHOR.finditer(sentence))
        for i, anchor in enumerate(anchors):
            keyword = anchor.group(1).strip("\"'")
            if anchor.group(1) == keyword and keyword.lower() in _NOT_KEYWORDS:
                continue  # "the word count", "the name of the company"
            end = anchors[i + 1].start() if i + 1 < len(anchors) else len(sentence)
            for relation, n in _times(sentence[anchor.end() : end]):
                found.append(
                    (
                        "keywords:frequency",
                        {"keyword": keyword, "frequency": n, "relation": relation},
                    )
                )
    return found


_LETTER = re.compile(r"\bletter\s+[\"']?([A-Za-z])[\"']?(?!\w)", re.I)


def _letter_frequency(p: _Prompt) -> list[Found]:
    counted: list[Found] = []
    banned: list[Found] = []
    for sentence in p.sentences:
        for match in _LETTER.finditer(sentence):
            letter = match.group(1).lower()
            relations = _times(sentence[match.end() :])
            negated = _search(rf"{_NEGATION}[^.]{{0,25}}$", sentence[: match.start()])
            if negated:  # "avoid using the letter i more than twice"
                relations = [("less than", n) for rel, n in relations if rel == "at least"]
            for relation, n in relations:
                counted.append(
                    (
                        "keywords:letter_frequency",
                        {"letter": letter, "let_frequency": n, "let_relation": relation},
                    )
                )
            if not relations and negated:
                banned.append(
                    (
                        "keywords:letter_frequency",
                        {"letter": letter, "let_frequency": 1, "let_relation": "less than"},
                    )
                )
    letters = {kw["letter"] for _, kw in counted}
    return counted + [b for b in banned if b[1]["letter"] not in letters]


# ---- language and length ------------------------------------------------------------------

_LANGUAGE = "|".join(LANGUAGES)
_LANGUAGE_PATTERNS = [
    rf"\b(?:entirely|only|completely|wholly|solely|exclusively|fully)\s+(?:in\s+)?(?:the\s+)?({_LANGUAGE})\b",
    rf"\bin\s+(?:the\s+)?({_LANGUAGE})(?:\s+language)?\s*[,.;]?\s*(?:and\s+)?no other language",
    rf"\b(?:response|answer|reply|output)\b[^.]{{0,40}}?\b(?:be|is)\s+(?:written\s+)?"
    rf"(?:entirely\s+|completely\s+|only\s+|fully\s+)?in\s+(?:the\s+)?({_LANGUAGE})\b",
    rf"\b(?:use|using|respond|answer|reply|write)\s+(?:\w+\s+){{0,2}}?(?:only|solely|exclusively)"
    rf"\s+(?:in\s+)?(?:the\s+)?({_LANGUAGE})\b",
    rf"\bno other language (?:except|than|but) ({_LANGUAGE})",
    rf"\bonly\s+(?:using|use|in|speaking|writing\s+in)\s+(?:the\s+)?({_LANGUAGE})\b",
    rf"\b({_LANGUAGE})(?:\s+language)?\s+only\b",
]


def _response_language(p: _Prompt) -> list[Found]:
    codes: list[str] = []
    for sentence in p.sentences:
        for pattern in _LANGUAGE_PATTERNS:
            for match in re.finditer(pattern, sentence):
                code = LANGUAGES[match.group(1)]
                # "in English, and in all capital letters" is a case instruction, not a
                # language one: English counts only when other languages are ruled out.
                if code == "en" and not _search(
                    r"no other language|only\s+(?:in\s+)?English", sentence
                ):
                    continue
                if code not in codes:
                    codes.append(code)
        named = re.findall(rf"\b({_LANGUAGE})\b", sentence)
        if not codes and len(set(named)) == 1 and _search(r"no other language", sentence):
            codes.append(LANGUAGES[named[0]])  # "a haiku in Italian, no other language is allowed"
    return [("language:response_language", {"language": c}) for c in codes]


# Words counted for length, not "5 words (should be) in all caps" (capital_word_frequency).
_LENGTH_WORDS = (
    r"words?(?!(?:\s+or\s+phrases)?\s+(?:\w+\s+){0,4}?(?:be\s+)?in\s+all\s+"
    r"(?:caps|capital|upper)|\s+(?:with|of)\s+all\b|\s+or\s+phrases)"
)


def _number_words(p: _Prompt) -> list[Found]:
    return [
        ("length_constraints:number_words", {"num_words": n, "relation": r})
        for r, n in count_relations(p.flat, _LENGTH_WORDS)
    ]


def _number_sentences(p: _Prompt) -> list[Found]:
    # "Each line should contain exactly one sentence" constrains lines, not the response.
    relations = [
        rel
        for s in p.sentences
        if not _search(r"^each\b", s)
        for rel in count_relations(s, r"sentences?")
    ]
    return [
        ("length_constraints:number_sentences", {"num_sentences": n, "relation": r})
        for r, n in relations
    ]


_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_ORDINAL = "|".join(_ORDINALS)
_WHICH_PARAGRAPH = rf"(?:({_ORDINAL}|last|\d+(?:st|nd|rd|th))\s+paragraph|paragraph\s+({NUMBER}))"
_FIRST_WORD = r"(?:the\s+)?(?:word\s+)?[\"']?([A-Za-z][\w'-]*)"
_NTH_PATTERNS = [
    rf"\b{_WHICH_PARAGRAPH}\s+(?:must|should|has to|needs to|shall|will)?\s*(?:start|begin)s?"
    rf"\s+with\s+{_FIRST_WORD}",
    rf"\b(?:start|begin)\s+(?:the\s+)?(?:very\s+)?{_WHICH_PARAGRAPH}\s+with\s+{_FIRST_WORD}",
]
_PARAGRAPH_COUNT = rf"\b({NUMBER})\s+(?:\w+\s+)?(?:paragraphs?|sections?|stanzas?|parts?|steps?)\b"


def _paragraph_index(ordinal: str, total: int) -> int:
    ordinal = ordinal.lower()
    if ordinal == "last":
        return total
    return _ORDINALS[ordinal] if ordinal in _ORDINALS else int(ordinal[:-2])


def _nth_paragraph_first_word(p: _Prompt) -> list[Found]:
    count = _search(rf"\b({NUMBER})\s+(?:\w+\s+)?paragraphs?\b", p.flat)
    for pattern in _NTH_PATTERNS:
        match = _search(pattern, p.flat)
        if match and count:
            ordinal, number, word = match.groups()
            total = number_value(count.group(1))
            nth = _paragraph_index(ordinal, total) if ordinal else number_value(number)
            return [
                (
                    "length_constraints:nth_paragraph_first_word",
                    {"num_paragraphs": total, "nth_paragraph": nth, "first_word": word.lower()},
                )
            ]
    return []


_DIVIDER = r"(?<!\*)\*{3}(?!\*)|\b(?:3|three)\s+asterisks?\b|\bmarkdown divider\b"


def _number_paragraphs(p: _Prompt) -> list[Found]:
    if not _search(_DIVIDER, p.text):
        return []
    count = _search(_PARAGRAPH_COUNT, p.flat)
    if count:
        n = number_value(count.group(1))
    elif dividers := len(re.findall(r"^\s*\*{3}\s*$", p.text, re.M)):
        n = dividers + 1  # an example layout: parts separated by *** lines
    elif _search(r"\bseparate\w*\s+(?:the\s+|your\s+)?\w+(?:\s+\w+)?\s+and\s+", p.flat):
        n = 2  # "separate your thinking and the final answer by ***"
    else:
        return []
    return [("length_constraints:number_paragraphs", {"num_paragraphs": n})]


# ---- detectable content and format --------------------------------------------------------


def _first_count(p: _Prompt, pattern: str, instruction_id: str, key: str) -> list[Found]:
    """The instruction with ``key`` set to the count that ``pattern``'s first group reads."""
    match = _search(pattern, p.flat)
    return [(instruction_id, {key: number_value(match.group(1))})] if match else []


def _placeholders(p: _Prompt) -> list[Found]:
    return _first_count(
        p,
        rf"\b({NUMBER})\s+(?:\w+\s+)?placeholders?\b",
        "detectable_content:number_placeholders",
        "num_placeholders",
    )


def _postscript(p: _Prompt) -> list[Found]:
    if re.search(r"\bP\.\s?P\.\s?S\b", p.flat):
        marker = "P.P.S"
    elif re.search(r"\bP\.\s?S\b", p.flat):
        marker = "P.S."
    else:
        return []
    return [("detectable_content:postscript", {"postscript_marker": marker})]


_BULLET_ADJECTIVES = r"(?:(?:very|short|long|markdown|simple|concise|brief|main|key)\s+){0,2}"


def _bullet_lists(p: _Prompt) -> list[Found]:
    return _first_count(
        p,
        rf"\b({NUMBER})\s+{_BULLET_ADJECTIVES}bullet[\s-]?points?\b",
        "detectable_format:number_bullet_lists",
        "num_bullets",
    )


def _constrained_response(p: _Prompt) -> list[Found]:
    hit = _search(r"My answer is (?:yes|no|maybe)", p.flat)
    return [("detectable_format:constrained_response", {})] if hit else []


_HIGHLIGHT_PATTERNS = [
    rf"\b(?:highlight|italici[sz]e|bold)\w*(?:/\w+)?\s+(?:at\s+least\s+)?({NUMBER})\b",
    rf"\b({NUMBER})\s+(?:[\w-]+\s+){{0,2}}?(?:italic|italici[sz]ed|highlighted)\b",
    rf"\b({NUMBER})\s+(?:\w+\s+)?sections?\s+(?:should|must|need to)\s+be\s+"
    r"(?:highlighted|italici[sz]ed)",
    r"\b(?:highlight|italici[sz]e)\w*\b[^.]{0,40}?\b(twice|thrice)\b",
]


def _highlighted_sections(p: _Prompt) -> list[Found]:
    matches = [m for m in (_search(pat, p.flat) for pat in _HIGHLIGHT_PATTERNS) if m]
    if matches:
        n = number_value(min(matches, key=lambda m: m.start()).group(1))
    elif _search(r"\b(?:highlight|italici[sz]e)", p.flat) and "*" in p.flat:
        n = 1  # "highlight some key parts with *, like *this*": IFEval reads at least one
    else:
        return []
    return [("detectable_format:number_highlighted_sections", {"num_highlights": n})]


_SECTION_COUNTS = [
    rf"\b({NUMBER})[\s-]+(?:\w+\s+)?(?:sections?|parts?|chapters?)\b",
    rf"\b({NUMBER})[\s-]+(?:\w+\s+)?(?:paragraphs?|stanzas?|scenes?|days?|steps?)\b",
]


_SECTION_CONTEXT = (
    r"\b(?:mark\w*|label\w*|noted|sections?|parts?|paragraphs?|chapters?)\b"
    r"|\beach\b[^.]{0,40}\b(?:start|begin)"
)


def _multiple_sections(p: _Prompt) -> list[Found]:
    # The markers must sit where sections are asked for ("mark each section with SECTION X").
    context = [s for s in p.flat_sentences if _search(_SECTION_CONTEXT, s)]
    marker = next(filter(None, (re.search(r"\b([A-Z][A-Za-z]*)\s+X\b", s) for s in context)), None)
    pair = next(
        filter(
            None, (re.search(r"\b([A-Z][A-Za-z]+)\s+1\b[^.*]{0,20}?\b\1\s+2\b", s) for s in context)
        ),
        None,
    )
    if marker is None and pair is None:
        return []
    spliter = (marker or pair).group(1)
    counts = [m for m in (_search(pat, p.flat) for pat in _SECTION_COUNTS) if m]
    if counts:
        n = number_value(counts[0].group(1))
    elif pair is not None:
        n = 2
    else:
        return []
    return [
        ("detectable_format:multiple_sections", {"section_spliter": spliter, "num_sections": n})
    ]


_JSON = (
    r"\b(?:in|as)\s+JSON\s+format\b|\bwrap\w*\b[^.]{0,40}?\bJSON\b|\bJSON\s+block\b"
    r"|\bentire\b[^.]{0,40}?\bJSON\b|\bJSON\b[^.]{0,30}?\bentire"
)


def _json_format(p: _Prompt) -> list[Found]:
    hit = any(_search(_JSON, s) and not _search(_ABOUT_DATA, s) for s in p.sentences)
    return [("detectable_format:json_format", {})] if hit else []


def _title(p: _Prompt) -> list[Found]:
    hit = _search(r"double angular brackets|<<[^<>\n]{1,80}>>", p.flat)
    return [("detectable_format:title", {})] if hit else []


# ---- combinations, start/end, punctuation -------------------------------------------------

_TWO_RESPONSES = (
    r"(?<!\*)\*{6}(?!\*)|\b(?:6|six)\s+asterisks?\b"
    r"|\btwo\s+different\s+(?:responses|answers|versions)"
)


def _two_responses(p: _Prompt) -> list[Found]:
    return [("combination:two_responses", {})] if _search(_TWO_RESPONSES, p.text) else []


_REPEAT = (
    r"\b(?:repeat|repleat)\s+(?:[\w,]+\s+){0,3}?"
    r"(?:request|sentence|question|prompt|line|it|instruction|query|above|below|text)\b"
)


def _request_to_repeat(text: str) -> str | None:
    """The request a repeat instruction points at: the lines before it, or after it."""
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if _search(_REPEAT, line))
    if at > 0:
        if _search(r"\bfirst line\b", "\n".join(lines[at:])):
            return lines[0].strip()
        return "\n".join(lines[:at]).strip() or None
    blank = next((i for i in range(at, len(lines)) if not lines[i].strip()), None)
    if blank is None:
        return None
    return "\n".join(lines[blank + 1 :]).strip() or None


def _repeat_prompt(p: _Prompt) -> list[Found]:
    if not any(_search(_REPEAT, line) for line in p.text.split("\n")):
        return []
    request = _request_to_repeat(p.text)
    return [("combination:repeat_prompt", {"prompt_to_repeat": request})] if request else []


_END_PATTERNS = [
    r"\b(?:end|ends|ending|finish|finishes|conclude|concludes)\b[^\"\n]{0,60}?\bwith\b"
    r"[^\"\n]{0,40}?\"([^\"]{2,200})\"",
    r"\b(?:last sentence|very end|final sentence)\b[^\"\n]{0,60}?\b(?:be|read|is)\b"
    r"[^\"\n]{0,20}?\"([^\"]{2,200})\"",
    r"\b(?:end|finish|conclude)\w*\b[^\"\n.:]{0,60}?\bwith\b[^\"\n.:]{0,40}?:\s*"
    r"([^\"\s][^\n\"]*?[.?!])(?=\s|$)",
    r"\b(?:end|finish|conclude)\w*\b[^\"\n.]{0,60}?\bexact (?:phrase|sentence|words)\s*:?\s+"
    r"([^\"\s][^\n]*?[.?!])(?=\s|$)",
    r"\bend of your (?:entire )?(?:response|answer|reply)\b[^\n:]{0,40}?(?:read|be)\s+"
    r"(?:exactly\s+)?(?:like\s*)?:\s*(.+?)\s*$",
]


def _end_checker(p: _Prompt) -> list[Found]:
    for pattern in _END_PATTERNS:
        for match in re.finditer(pattern, p.text, re.I | re.M):
            phrase = match.group(1).strip()
            if not re.match(r"P\.\s?(?:P\.\s?)?S", phrase):
                return [("startend:end_checker", {"end_phrase": phrase})]
    return []


def _quotation(p: _Prompt) -> list[Found]:
    hit = any(
        _search(r"\bdouble\s+quot(?:e|es|ation|ations)\b", s)
        and _search(r"\b(?:wrap|around|inside|enclos|surround|put|place|within)\w*", s)
        for s in p.sentences
    )
    return [("startend:quotation", {})] if hit else []


_NO_COMMA = (
    r"(?:\bno|\bnot|\bcannot|n't|\bwithout|\bnever|\brefrain\s+from|\bavoid|\bzero"
    r"|\bfree\s+of)\b[^.!?\n]{0,40}?\bcommas?\b"
    r"|\bcommas?\b[^.!?\n]{0,30}?\b(?:not allowed|not permitted|forbidden|prohibited)"
)


def _no_comma(p: _Prompt) -> list[Found]:
    return [("punctuation:no_comma", {})] if _search(_NO_COMMA, p.text) else []


_RULES: tuple[Callable[[_Prompt], list[Found]], ...] = (
    _capital_word_frequency,
    _english_capital,
    _english_lowercase,
    _two_responses,
    _repeat_prompt,
    _placeholders,
    _postscript,
    _constrained_response,
    _json_format,
    _multiple_sections,
    _bullet_lists,
    _highlighted_sections,
    _title,
    _keywords_existence,
    _keyword_frequency,
    _forbidden_words,
    _letter_frequency,
    _response_language,
    _nth_paragraph_first_word,
    _number_paragraphs,
    _number_sentences,
    _number_words,
    _no_comma,
    _end_checker,
    _quotation,
)


def extract_instructions(prompt: str) -> tuple[list[str], list[dict[str, Any]]]:
    """IFEval instruction ids and kwargs that ``prompt`` states, in IFEval's format.

    Deterministic and pure: the same prompt always gives the same lists, in a fixed order
    (by instruction type). Returns two empty lists when the prompt states no constraint
    this extractor knows.

    >>> extract_instructions("Write a poem in all lowercase letters. Do not use any commas.")
    (['change_case:english_lowercase', 'punctuation:no_comma'], [{}, {}])
    """
    p = _Prompt(prompt.translate(_QUOTES))
    found = [f for rule in _RULES for f in rule(p)]
    return [i for i, _ in found], [kw for _, kw in found]

"""Extraction rules for what a response's words must be: IFEval's ``change_case``,
``keywords``, ``language`` and ``length_constraints`` instructions.

Each rule reads a :class:`~rerank.verifiers.instructions.phrases.Prompt` and returns the
IFEval instructions it states (ids and kwargs), or nothing when it cannot read every
argument (:mod:`~rerank.verifiers.instructions.extraction` says why).
"""

from __future__ import annotations

import re

from rerank.verifiers.instructions.phrases import (
    ABOUT_DATA,
    LANGUAGES,
    NUMBER,
    Found,
    Prompt,
    count_relations,
    number_value,
    search,
    times_relations,
    word_list,
)

__all__ = [
    "capital_word_frequency",
    "english_capital",
    "english_lowercase",
    "forbidden_words",
    "keyword_frequency",
    "keywords_existence",
    "letter_frequency",
    "nth_paragraph_first_word",
    "number_paragraphs",
    "number_sentences",
    "number_words",
    "response_language",
]


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


def capital_word_frequency(p: Prompt) -> list[Found]:
    found = []
    for sentence in p.sentences:
        if search(_CAPITAL_WORDS, sentence):
            relations = count_relations(sentence, _COUNTED_WORDS) or times_relations(sentence)
            for relation, n in relations:
                found.append(
                    (
                        "change_case:capital_word_frequency",
                        {"capital_frequency": n, "capital_relation": relation},
                    )
                )
    return found


def english_capital(p: Prompt) -> list[Found]:
    hit = any(search(_ALL_CAPITALS, s) and not search(_CAPITAL_WORDS, s) for s in p.sentences)
    return [("change_case:english_capital", {})] if hit else []


def english_lowercase(p: Prompt) -> list[Found]:
    hit = any(
        search(_LOWERCASE, s) and not search(_CAPITAL_WORDS, s) and not search(ABOUT_DATA, s)
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


def keywords_existence(p: Prompt) -> list[Found]:
    for sentence in p.sentences:
        for match in (_INCLUDE.search(sentence), _MENTION_QUOTED.search(sentence)):
            if match is None or search(
                rf"{_NEGATION}\s+(?:\w+\s+){{0,2}}$", sentence[: match.start()]
            ):
                continue
            if times_relations(match.group(1)):
                continue  # "include the word X at least twice" is keywords:frequency
            words = word_list(match.group(1))
            if words:
                return [("keywords:existence", {"keywords": words})]
    return []


def forbidden_words(p: Prompt) -> list[Found]:
    for sentence in p.sentences:
        for pattern in (_FORBID_SAY, _FORBID, _FORBID_SUBJECT):
            match = pattern.search(sentence)
            words = word_list(next(g for g in match.groups() if g is not None)) if match else []
            if words:
                return [("keywords:forbidden_words", {"forbidden_words": words})]
    return []


def _times(clause: str) -> list[tuple[str, int]]:
    """How often a word or letter must occur: needs "times", "once" or "twice" to count."""
    if not search(r"\b(?:times?|once|twice|thrice)\b", clause):
        return []
    return times_relations(clause)


_NOT_KEYWORDS = {"count", "counts", "limit", "of", "for", "to", "in", "that", "which", "is", "and"}
_WORD_ANCHOR = re.compile(
    r"\b(?:the\s+)?(?:key)?(?:word|name)\s+(\"[^\"]+\"|'[^']+'|[A-Za-z][\w'-]*)", re.I
)


def keyword_frequency(p: Prompt) -> list[Found]:
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


def letter_frequency(p: Prompt) -> list[Found]:
    counted: list[Found] = []
    banned: list[Found] = []
    for sentence in p.sentences:
        for match in _LETTER.finditer(sentence):
            letter = match.group(1).lower()
            relations = _times(sentence[match.end() :])
            negated = search(rf"{_NEGATION}[^.]{{0,25}}$", sentence[: match.start()])
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


def response_language(p: Prompt) -> list[Found]:
    codes: list[str] = []
    for sentence in p.sentences:
        for pattern in _LANGUAGE_PATTERNS:
            for match in re.finditer(pattern, sentence):
                code = LANGUAGES[match.group(1)]
                # "in English, and in all capital letters" is a case instruction, not a
                # language one: English counts only when other languages are ruled out.
                if code == "en" and not search(
                    r"no other language|only\s+(?:in\s+)?English", sentence
                ):
                    continue
                if code not in codes:
                    codes.append(code)
        named = re.findall(rf"\b({_LANGUAGE})\b", sentence)
        if not codes and len(set(named)) == 1 and search(r"no other language", sentence):
            codes.append(LANGUAGES[named[0]])  # "a haiku in Italian, no other language is allowed"
    return [("language:response_language", {"language": c}) for c in codes]


# Words counted for length, not "5 words (should be) in all caps" (capital_word_frequency).
_LENGTH_WORDS = (
    r"words?(?!(?:\s+or\s+phrases)?\s+(?:\w+\s+){0,4}?(?:be\s+)?in\s+all\s+"
    r"(?:caps|capital|upper)|\s+(?:with|of)\s+all\b|\s+or\s+phrases)"
)


def number_words(p: Prompt) -> list[Found]:
    return [
        ("length_constraints:number_words", {"num_words": n, "relation": r})
        for r, n in count_relations(p.flat, _LENGTH_WORDS)
    ]


def number_sentences(p: Prompt) -> list[Found]:
    # "Each line should contain exactly one sentence" constrains lines, not the response.
    relations = [
        rel
        for s in p.sentences
        if not search(r"^each\b", s)
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


def nth_paragraph_first_word(p: Prompt) -> list[Found]:
    count = search(rf"\b({NUMBER})\s+(?:\w+\s+)?paragraphs?\b", p.flat)
    for pattern in _NTH_PATTERNS:
        match = search(pattern, p.flat)
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


def number_paragraphs(p: Prompt) -> list[Found]:
    if not search(_DIVIDER, p.text):
        return []
    count = search(_PARAGRAPH_COUNT, p.flat)
    if count:
        n = number_value(count.group(1))
    elif dividers := len(re.findall(r"^\s*\*{3}\s*$", p.text, re.M)):
        n = dividers + 1  # an example layout: parts separated by *** lines
    elif search(r"\bseparate\w*\s+(?:the\s+|your\s+)?\w+(?:\s+\w+)?\s+and\s+", p.flat):
        n = 2  # "separate your thinking and the final answer by ***"
    else:
        return []
    return [("length_constraints:number_paragraphs", {"num_paragraphs": n})]

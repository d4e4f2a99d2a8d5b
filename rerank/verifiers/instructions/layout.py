"""Extraction rules for a response's form: IFEval's ``detectable_content``,
``detectable_format``, ``combination``, ``startend`` and ``punctuation`` instructions,
read as the rules of :mod:`~rerank.verifiers.instructions.wording` read theirs.
"""

from __future__ import annotations

import re

from rerank.verifiers.instructions.phrases import (
    ABOUT_DATA,
    NUMBER,
    Found,
    Prompt,
    number_value,
    search,
)

__all__ = [
    "bullet_lists",
    "constrained_response",
    "end_checker",
    "highlighted_sections",
    "json_format",
    "multiple_sections",
    "no_comma",
    "placeholders",
    "postscript",
    "quotation",
    "repeat_prompt",
    "title",
    "two_responses",
]


# ---- detectable content and format --------------------------------------------------------


def _first_count(p: Prompt, pattern: str, instruction_id: str, key: str) -> list[Found]:
    """The instruction with ``key`` set to the count that ``pattern``'s first group reads."""
    match = search(pattern, p.flat)
    return [(instruction_id, {key: number_value(match.group(1))})] if match else []


def placeholders(p: Prompt) -> list[Found]:
    return _first_count(
        p,
        rf"\b({NUMBER})\s+(?:\w+\s+)?placeholders?\b",
        "detectable_content:number_placeholders",
        "num_placeholders",
    )


def postscript(p: Prompt) -> list[Found]:
    if re.search(r"\bP\.\s?P\.\s?S\b", p.flat):
        marker = "P.P.S"
    elif re.search(r"\bP\.\s?S\b", p.flat):
        marker = "P.S."
    else:
        return []
    return [("detectable_content:postscript", {"postscript_marker": marker})]


_BULLET_ADJECTIVES = r"(?:(?:very|short|long|markdown|simple|concise|brief|main|key)\s+){0,2}"


def bullet_lists(p: Prompt) -> list[Found]:
    return _first_count(
        p,
        rf"\b({NUMBER})\s+{_BULLET_ADJECTIVES}bullet[\s-]?points?\b",
        "detectable_format:number_bullet_lists",
        "num_bullets",
    )


def constrained_response(p: Prompt) -> list[Found]:
    hit = search(r"My answer is (?:yes|no|maybe)", p.flat)
    return [("detectable_format:constrained_response", {})] if hit else []


_HIGHLIGHT_PATTERNS = [
    rf"\b(?:highlight|italici[sz]e|bold)\w*(?:/\w+)?\s+(?:at\s+least\s+)?({NUMBER})\b",
    rf"\b({NUMBER})\s+(?:[\w-]+\s+){{0,2}}?(?:italic|italici[sz]ed|highlighted)\b",
    rf"\b({NUMBER})\s+(?:\w+\s+)?sections?\s+(?:should|must|need to)\s+be\s+"
    r"(?:highlighted|italici[sz]ed)",
    r"\b(?:highlight|italici[sz]e)\w*\b[^.]{0,40}?\b(twice|thrice)\b",
]


def highlighted_sections(p: Prompt) -> list[Found]:
    matches = [m for m in (search(pat, p.flat) for pat in _HIGHLIGHT_PATTERNS) if m]
    if matches:
        n = number_value(min(matches, key=lambda m: m.start()).group(1))
    elif search(r"\b(?:highlight|italici[sz]e)", p.flat) and "*" in p.flat:
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


def multiple_sections(p: Prompt) -> list[Found]:
    # The markers must sit where sections are asked for ("mark each section with SECTION X").
    context = [s for s in p.flat_sentences if search(_SECTION_CONTEXT, s)]
    marker = next(filter(None, (re.search(r"\b([A-Z][A-Za-z]*)\s+X\b", s) for s in context)), None)
    pair = next(
        filter(
            None, (re.search(r"\b([A-Z][A-Za-z]+)\s+1\b[^.*]{0,20}?\b\1\s+2\b", s) for s in context)
        ),
        None,
    )
    found = marker or pair
    if found is None:
        return []
    spliter = found.group(1)
    counts = [m for m in (search(pat, p.flat) for pat in _SECTION_COUNTS) if m]
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


def json_format(p: Prompt) -> list[Found]:
    hit = any(search(_JSON, s) and not search(ABOUT_DATA, s) for s in p.sentences)
    return [("detectable_format:json_format", {})] if hit else []


def title(p: Prompt) -> list[Found]:
    hit = search(r"double angular brackets|<<[^<>\n]{1,80}>>", p.flat)
    return [("detectable_format:title", {})] if hit else []


# ---- combinations, start/end, punctuation -------------------------------------------------

_TWO_RESPONSES = (
    r"(?<!\*)\*{6}(?!\*)|\b(?:6|six)\s+asterisks?\b"
    r"|\btwo\s+different\s+(?:responses|answers|versions)"
)


def two_responses(p: Prompt) -> list[Found]:
    return [("combination:two_responses", {})] if search(_TWO_RESPONSES, p.text) else []


_REPEAT = (
    r"\b(?:repeat|repleat)\s+(?:[\w,]+\s+){0,3}?"
    r"(?:request|sentence|question|prompt|line|it|instruction|query|above|below|text)\b"
)


def _request_to_repeat(text: str) -> str | None:
    """The request a repeat instruction points at: the lines before it, or after it."""
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if search(_REPEAT, line))
    if at > 0:
        if search(r"\bfirst line\b", "\n".join(lines[at:])):
            return lines[0].strip()
        return "\n".join(lines[:at]).strip() or None
    blank = next((i for i in range(at, len(lines)) if not lines[i].strip()), None)
    if blank is None:
        return None
    return "\n".join(lines[blank + 1 :]).strip() or None


def repeat_prompt(p: Prompt) -> list[Found]:
    if not any(search(_REPEAT, line) for line in p.text.split("\n")):
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


def end_checker(p: Prompt) -> list[Found]:
    for pattern in _END_PATTERNS:
        for match in re.finditer(pattern, p.text, re.I | re.M):
            phrase = match.group(1).strip()
            if not re.match(r"P\.\s?(?:P\.\s?)?S", phrase):
                return [("startend:end_checker", {"end_phrase": phrase})]
    return []


def quotation(p: Prompt) -> list[Found]:
    hit = any(
        search(r"\bdouble\s+quot(?:e|es|ation|ations)\b", s)
        and search(r"\b(?:wrap|around|inside|enclos|surround|put|place|within)\w*", s)
        for s in p.sentences
    )
    return [("startend:quotation", {})] if hit else []


_NO_COMMA = (
    r"(?:\bno|\bnot|\bcannot|n't|\bwithout|\bnever|\brefrain\s+from|\bavoid|\bzero"
    r"|\bfree\s+of)\b[^.!?\n]{0,40}?\bcommas?\b"
    r"|\bcommas?\b[^.!?\n]{0,30}?\b(?:not allowed|not permitted|forbidden|prohibited)"
)


def no_comma(p: Prompt) -> list[Found]:
    return [("punctuation:no_comma", {})] if search(_NO_COMMA, p.text) else []

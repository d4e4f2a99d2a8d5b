"""Read IFEval instructions off a prompt's prose, deterministically.

``extract_instructions(prompt)`` returns instruction ids and kwargs in IFEval's own format
(``instruction_id_list`` and ``kwargs``), so the library's checkers can run on prompts that
carry no ids. Each instruction type has one small rule (in :mod:`.wording` for case,
keywords, language and length; in :mod:`.layout` for content, format and punctuation): a
few regexes over the phrasings people (and IFEval's authors) use, plus the parsing of its
arguments. A rule that finds its trigger but cannot read every argument emits nothing,
because IFEval's checkers fill a missing argument with a *random* value.

Extracted constraints are soft evidence: docs/instructions.md measures precision and recall
per type against IFEval's own annotations (``benchmarks/instruction_extraction.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rerank.verifiers.instructions import layout, wording
from rerank.verifiers.instructions.phrases import Found, Prompt

__all__ = ["extract_instructions"]

_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "‘": "'", "’": "'", "\u00a0": " "}
)

#: Every rule, in the order their instructions are listed.
_RULES: tuple[Callable[[Prompt], list[Found]], ...] = (
    wording.capital_word_frequency,
    wording.english_capital,
    wording.english_lowercase,
    layout.two_responses,
    layout.repeat_prompt,
    layout.placeholders,
    layout.postscript,
    layout.constrained_response,
    layout.json_format,
    layout.multiple_sections,
    layout.bullet_lists,
    layout.highlighted_sections,
    layout.title,
    wording.keywords_existence,
    wording.keyword_frequency,
    wording.forbidden_words,
    wording.letter_frequency,
    wording.response_language,
    wording.nth_paragraph_first_word,
    wording.number_paragraphs,
    wording.number_sentences,
    wording.number_words,
    layout.no_comma,
    layout.end_checker,
    layout.quotation,
)


def extract_instructions(prompt: str) -> tuple[list[str], list[dict[str, Any]]]:
    """IFEval instruction ids and kwargs that ``prompt`` states, in IFEval's format.

    Deterministic and pure: the same prompt always gives the same lists, in a fixed order
    (by instruction type).

    Returns
    -------
    tuple of (list of str, list of dict) : the ids and their kwargs, ready for
        ``task.resources``; two empty lists when the prompt states no constraint this
        extractor knows.

    Examples
    --------
    >>> extract_instructions("Write a poem in all lowercase letters. Do not use any commas.")
    (['change_case:english_lowercase', 'punctuation:no_comma'], [{}, {}])
    """
    p = Prompt(prompt.translate(_QUOTES))
    found = [f for rule in _RULES for f in rule(p)]
    return [i for i, _ in found], [kw for _, kw in found]

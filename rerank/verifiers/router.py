"""What kind of task an item is, when the item does not say.

The item's own ``task.kind`` (or ``--task``) wins. Otherwise the visible resources decide
(instruction ids mean instruction following; tests or an entry point mean code), then the
content: a function signature in the prompt or in most candidates means code, instruction
phrases mean instruction following, a question with numbers (digits or number words)
answered with final answers means math. Anything else is ``general``: no verifier
applies, and the evidence judge says so.
"""

from __future__ import annotations

import re

from rerank.answers import answer_key
from rerank.items import Item

__all__ = ["detect_kind"]

_SIGNATURE = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(", re.M)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|half|twice|double|triple|dozen)\b",
    re.I,
)


def _looks_like_code(item: Item) -> bool:
    if _SIGNATURE.search(item.prompt):
        return True
    # Fenced or bare: most candidates define a function (MBPP-style prompts name none).
    defining = sum(bool(_SIGNATURE.search(c.text)) for c in item.candidates)
    return defining * 2 > item.n


def _looks_like_math(item: Item) -> bool:
    if not _NUMBER.search(item.prompt):
        return False
    answered = sum(answer_key(c.text) is not None for c in item.candidates)
    return answered * 2 > item.n


def _has_instructions(item: Item) -> bool:
    from rerank.verifiers.instructions.verifier import extract_instructions

    ids, _ = extract_instructions(item.prompt)
    return bool(ids)


def detect_kind(item: Item) -> str:
    """The task kind of ``item``: declared, else from resources, else from content."""
    if item.task.kind:
        return item.task.kind
    resources = item.task.resources
    if resources.get("instruction_id_list"):
        return "instruction"
    if resources.get("tests") or resources.get("entry_point") or resources.get("inputs"):
        return "code"
    if _looks_like_code(item):
        return "code"
    if _has_instructions(item):
        return "instruction"
    if _looks_like_math(item):
        return "math"
    return "general"

"""What the LLM judge asks about, and the one place a question's cache key is made.

:class:`Prepared` is an item made ready for judging (its skill, what the skill may see, its
evidence): the judge makes it once per comparison and hands it to its collaborators
(:mod:`~rerank.judges.llm.dedup`, :mod:`~rerank.judges.llm.solve`). :func:`question_key`
is the verdict cache's key of any question the judge sends: a pairwise or pointwise
verdict, or the solve-first answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rerank.items import Item
from rerank.judges.evidence import Standing
from rerank.llm.cache import verdict_key
from rerank.skills import Skill

__all__ = ["PROTOCOL", "Prepared", "question_key"]

#: Part of every cache key: bump it when the messages or the way replies are read change.
PROTOCOL = 1


@dataclass(frozen=True)
class Prepared:
    """An item prepared for judging.

    Attributes
    ----------
    skill : the skill the item is judged with (by task kind, or the one forced).
    view : the item as that skill may see it (a reference it does not grant withheld).
    kind : the task kind the evidence was computed for.
    standings : each candidate's evidence standing, computed on ``view``.
    """

    skill: Skill
    view: Item
    kind: str
    standings: list[Standing]


def question_key(
    *,
    model: str,
    skill: Skill,
    prompt: str,
    candidates: Sequence[str],
    mode: str,
    question: str,
    parameters: Mapping[str, Any],
) -> str:
    """The verdict cache key of one question.

    Parameters
    ----------
    model : the model id asked.
    skill : the skill (its hash is part of the key).
    prompt : the item's prompt.
    candidates : the candidate texts shown, in display order (none for a solve).
    mode : ``"pairwise"``, ``"pointwise"`` or ``"solve"``.
    question : the text sent with them (the user message, or the solve instruction); it
        carries the evidence shown, which depends on the other candidates too.
    parameters : the sampling parameters and whatever else changes the answer.

    Returns
    -------
    str, a SHA-256 (:func:`rerank.llm.verdict_key`, with :data:`PROTOCOL`).
    """
    return verdict_key(
        model=model,
        skill=skill.hash,
        prompt=prompt,
        candidates=list(candidates),
        mode=mode,
        question=hashlib.sha256(question.encode()).hexdigest(),
        parameters=dict(parameters),
        protocol=PROTOCOL,
    )

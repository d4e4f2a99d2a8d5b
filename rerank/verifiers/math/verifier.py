"""The math verifier: final answers, their equivalence, a visible reference, arithmetic steps.

For each candidate it reports, in this order:

- ``answer`` (soft): pass when the response states a final answer
  (:func:`rerank.answers.extract_answer`), unknown when the only answer is a weak one (a
  last number read without any marker), fail when it states none ("no final answer
  found"): a math response without an answer has not done what was asked, but the
  extractor can miss an unusual phrasing, so this is a hint, not a verdict. A note
  ``answer_source: <method>`` says where the answer was found (``json:answer``,
  ``boxed``, ``last-number (weak)``, ``none (why)``);
- ``reference`` (hard; soft for a weak answer), only when the item makes a reference
  visible (``item.task.resources["reference"]``, present when the user granted it with
  ``--expose reference``): pass or fail by math-verify equivalence of the final answers;
  unknown when the candidate states no answer, the reference yields none, or math-verify
  timed out or could not decide;
- ``step:<k>`` (soft): each arithmetic step the solution states, recomputed
  (:mod:`rerank.verifiers.math.steps`).

Its *signature* is a canonical key of the final answer, the same for every answer
math-verify finds equivalent within the item: the normalised answer
(:func:`rerank.answers.normalize_answer`) of the first answer of its class, so ``1/2``,
``0.5`` and ``\\frac{1}{2}`` share one, and consensus counts them together. No answer, no
signature; a weak answer has one only when its class holds an answer some candidate
states explicitly (weak answers never make a consensus on their own). math-verify runs
in worker processes with deadlines (:mod:`rerank.verifiers.math.equivalence`), once per
item for all its answers; when it times out or is not installed, signatures fall back to
the normalised answer, which never merges different answers.

The verifier reads ``item.public()`` only: labels never reach it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rerank.answers import (
    FinalAnswer,
    answer_key,
    extract_answer,
    final_answer,
    normalize_answer,
)
from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.verifiers.math.equivalence import Equivalence, EquivalencePool, default_pool
from rerank.verifiers.math.steps import step_checks

__all__ = ["MathVerifier", "reference_answer"]

# normalize_answer writes numbers like this: math-verify reads them as they are.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")
# A reference this short, on one line and without a marker, is the answer itself.
_BARE_ANSWER_LENGTH = 80
# A quantity in a question: digits or a number word.
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|half|twice|double|triple|dozen)\b",
    re.I,
)


@dataclass(frozen=True)
class _Answer:
    """A final answer as written, its normalised key, and what math-verify is given."""

    written: str
    key: str
    weak: bool = False

    @property
    def expression(self) -> str:
        return self.key if _PLAIN_NUMBER.fullmatch(self.key) else self.written


def _answer(written: str | None, *, weak: bool = False) -> _Answer | None:
    if written is None:
        return None
    key = normalize_answer(written)
    return _Answer(written, key, weak) if key else None


def _answer_check(found: FinalAnswer, answer: _Answer | None) -> Check:
    if answer is None:
        why = found.reason if found.written is None else f"{found.written!r} normalises to nothing"
        return Check("answer", "fail", hard=False, detail=why or "no final answer found")
    if answer.weak:
        detail = f"{answer.written} (a last number, weak: no explicit final answer)"
        return Check("answer", "unknown", hard=False, detail=detail)
    return Check("answer", "pass", hard=False, detail=answer.written)


def reference_answer(reference: Any) -> str | None:
    """The final answer a visible reference states, whether a solution or a bare answer.

    Parameters
    ----------
    reference : a solution or an answer, as text or a number.

    Returns
    -------
    str or None : a solution's marked answer (``#### 18``, ``\\boxed{..}``, ``A: 18``); a
        short one-line reference without a marker whole (``\\frac{1}{2}``, where the
        last-number rule would read ``2``); else the last number; ``None`` for anything
        that is not text or a number.

    Examples
    --------
    >>> reference_answer("16 - 3 = <<16-3=13>>13\\n#### 13")
    '13'
    >>> reference_answer("\\\\frac{1}{2}")
    '\\\\frac{1}{2}'
    >>> reference_answer(18)
    '18'
    """
    if isinstance(reference, bool) or not isinstance(reference, str | int | float):
        return None
    text = str(reference).strip()
    marked = final_answer(text, last_number=False)
    if marked is not None:
        return marked
    if text and "\n" not in text and len(text) <= _BARE_ANSWER_LENGTH:
        return text
    return final_answer(text)


class MathVerifier:
    """Evidence for math candidates: answer, reference match, steps, answer signature.

    Parameters
    ----------
    pool : runs math-verify (default: the process-wide
        :func:`~rerank.verifiers.math.equivalence.default_pool`, started on first use).
    steps : check the arithmetic steps each solution states (``False`` leaves them out).
    """

    name = "math"

    def __init__(self, pool: EquivalencePool | None = None, *, steps: bool = True) -> None:
        self._pool = pool
        self.steps = steps

    @property
    def pool(self) -> EquivalencePool:
        if self._pool is None:
            self._pool = default_pool()
        return self._pool

    @staticmethod
    def claims_resources(item: Item) -> bool:
        """Never: a visible reference says nothing of the kind (any task may carry one)."""
        return False

    @staticmethod
    def claims_content(item: Item) -> bool:
        """Whether the item reads as math: a prompt with numbers (digits or number words)
        whose candidates mostly state a final answer."""
        if not _NUMBER.search(item.prompt):
            return False
        answered = sum(answer_key(c.text) is not None for c in item.candidates)
        return answered * 2 > item.n

    def applies(self, item: Item) -> bool:
        """A declared math task, or (undeclared) one whose content reads as math."""
        if item.task.kind is not None:
            return item.task.kind == "math"
        return self.claims_content(item)

    def verify(self, item: Item) -> list[Evidence]:
        """One :class:`Evidence` per candidate, in candidate order.

        Parameters
        ----------
        item : the item; only ``item.public()`` is read (the prompt, the candidates and a
            reference the item makes visible).

        Returns
        -------
        list of Evidence : the ``answer``, ``reference`` and ``step:<k>`` checks of each
            candidate, and its answer class as the signature (module docstring).
        """
        item = item.public()
        found = [extract_answer(c.text) for c in item.candidates]
        answers = [_answer(f.written, weak=f.weak) for f in found]
        distinct = list(dict.fromkeys(a.key for a in answers if a is not None))
        expressions = {a.key: a.expression for a in reversed(answers) if a is not None}
        visible = "reference" in item.task.resources
        reference = _answer(reference_answer(item.task.resources.get("reference")))
        equivalence = self._equivalence([expressions[k] for k in distinct], reference)
        index = {key: d for d, key in enumerate(distinct)}
        # Classes some candidate states explicitly: only those get weak answers' support.
        stated = {equivalence.classes[index[a.key]] for a in answers if a and not a.weak}
        evidence = []
        for candidate, answer, how in zip(item.candidates, answers, found, strict=True):
            checks = [_answer_check(how, answer)]
            notes = [f"answer_source: {how.describe()}"]
            d = index.get(answer.key) if answer is not None else None
            if visible:
                checks.append(_reference_check(answer, reference, equivalence, d))
            notes.extend(_notes(equivalence, d))
            if self.steps:
                checks.extend(step_checks(candidate.text))
            signature = None
            if (
                answer is not None
                and d is not None
                and (not answer.weak or equivalence.classes[d] in stated)
            ):
                signature = distinct[equivalence.classes[d]]
            evidence.append(Evidence(self.name, tuple(checks), signature, tuple(notes)))
        return evidence

    def _equivalence(self, expressions: Sequence[str], reference: _Answer | None) -> Equivalence:
        if not expressions or (len(expressions) == 1 and reference is None):
            n = len(expressions)
            return Equivalence(
                classes=tuple(range(n)), reference=(None,) * n if reference else None
            )
        gold = reference.expression if reference is not None else None
        return self.pool.equivalence(expressions, gold)


def _reference_check(
    answer: _Answer | None, reference: _Answer | None, eq: Equivalence, d: int | None
) -> Check:
    def unknown(why: str) -> Check:
        return Check("reference", "unknown", detail=why)

    if reference is None:
        return unknown("the reference states no final answer")
    if answer is None or d is None:
        return unknown("no final answer found")
    # A weak answer (a last number) may not be the answer at all: its match is a hint.
    hard = not answer.weak
    versus = f"{answer.written} vs reference {reference.written}"
    if answer.key == reference.key:
        return Check("reference", "pass", hard, detail=f"{versus}: equal")
    match = eq.reference[d] if eq.reference is not None else None
    if match is None:
        if _PLAIN_NUMBER.fullmatch(answer.key) and _PLAIN_NUMBER.fullmatch(reference.key):
            # Two exact numbers that normalise differently differ: no math-verify needed.
            return Check("reference", "fail", hard, detail=f"{versus}: different numbers")
        if eq.error:
            return unknown(f"{versus}: math-verify unavailable ({eq.error})")
        if eq.reference_timed_out or d in eq.timed_out:
            return unknown(f"{versus}: math-verify timed out")
        return unknown(f"{versus}: math-verify could not read one of them")
    if match:
        return Check("reference", "pass", hard, detail=f"{versus}: equivalent (math-verify)")
    return Check("reference", "fail", hard, detail=f"{versus}: not equivalent (math-verify)")


def _notes(eq: Equivalence, d: int | None) -> list[str]:
    if d is None:
        return []
    if eq.error:
        return [f"math-verify unavailable ({eq.error}): answers grouped by normalised form"]
    if d in eq.timed_out:
        return ["math-verify timed out on this answer: grouped by normalised form"]
    return []

"""Verdicts and scores from the log-probabilities of a one-token answer: pure functions.

A judge model asked "A or B?" (or "yes or no?") for one token gives, besides the token it
chose, the log-probabilities of the most likely first tokens (``top_logprobs``). The
probability of each label, normalised over the two labels, is a graded answer where the
sampled token is a hard one; reading it costs one forward pass and no generation.

- :func:`label_probability`: P(first label) among the two, from a reply's alternatives;
- :func:`position_free`: the two display orders of a pair averaged,
  p = (P_AB(A) + P_BA(B)) / 2, so that a model that names whichever response comes first
  gets p = 0.5, whatever it names;
- :func:`verdict_from_probability`: a tie inside ``margin`` of 0.5, else the side p favours.

Examples
--------
>>> read = label_probability([("A", -0.2), ("B", -1.8), ("The", -3.0)], ("A", "B"))
>>> round(read.probability, 3), round(read.mass, 3)
(0.832, 0.984)
>>> position_free(0.9, 0.7)  # A first: 0.9 for it; B first: 0.7 for it (as B)
0.8
>>> verdict_from_probability(0.53, margin=0.05)
'tie'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "LabelRead",
    "NoLabel",
    "describe",
    "label_probability",
    "position_free",
    "verdict_from_probability",
]


@dataclass(frozen=True)
class LabelRead:
    """The first label's probability among the two (``probability``), and the share of the
    whole distribution the two labels held together (``mass``: low when the model wanted
    to begin with another word)."""

    probability: float
    mass: float


@dataclass(frozen=True)
class NoLabel:
    """No label among the alternatives, and why."""

    reason: str


def _matches(token: str, label: str) -> bool:
    """Whether a token spells ``label``: ``" A"`` and ``"A"`` are A (a letter's case
    matters: ``"a"`` is a word); ``"Yes"`` and ``" yes"`` are yes."""
    word = token.strip()
    if len(label) == 1:
        return word == label
    return word.lower() == label.lower()


def label_probability(
    alternatives: Iterable[tuple[str, float]], labels: Sequence[str]
) -> LabelRead | NoLabel:
    """P(``labels[0]``) normalised over the two labels.

    Parameters
    ----------
    alternatives : the first token's (token, logprob) pairs, as a server sent them.
    labels : the two labels, ``("A", "B")`` or ``("yes", "no")``.

    Returns
    -------
    LabelRead, or NoLabel when neither label is among the alternatives. Every spelling of
    a label counts (``"A"``, ``" A"``); a label absent from the alternatives counts 0 (its
    probability is below that of every token listed).
    """
    first, second = labels
    found = list(alternatives)
    p_first = sum(math.exp(lp) for token, lp in found if _matches(token, first))
    p_second = sum(math.exp(lp) for token, lp in found if _matches(token, second))
    total = p_first + p_second
    if total <= 0.0:
        began = found[0][0] if found else None
        listed = f"the {len(found)} most likely first tokens" if found else "no first token"
        start = f" (the most likely was {began!r})" if began is not None else ""
        return NoLabel(f"neither {first!r} nor {second!r} among {listed}{start}")
    return LabelRead(p_first / total, min(total, 1.0))


def position_free(forward: float, backward: float) -> float:
    """One probability that ``a`` is better from both display orders.

    Parameters
    ----------
    forward : P(A) with ``a`` shown first (as A).
    backward : P(B) with ``b`` shown first (``a`` is then B).
    """
    return (forward + backward) / 2.0


def verdict_from_probability(p: float, margin: float) -> str:
    """``"a"`` when p > 0.5 + margin, ``"b"`` when p < 0.5 - margin, else ``"tie"``."""
    if p > 0.5 + margin:
        return "a"
    if p < 0.5 - margin:
        return "b"
    return "tie"


def describe(alternatives: Iterable[tuple[str, float]]) -> str:
    """The first token's alternatives with their probabilities (4 significant digits), for
    a verdict's ``raw``: what the probability was computed from.

    >>> describe([("A", -0.105), ("B", -2.3)])
    "'A' 0.9003, 'B' 0.1003"
    """
    return ", ".join(f"{token!r} {math.exp(lp):.4g}" for token, lp in alternatives)

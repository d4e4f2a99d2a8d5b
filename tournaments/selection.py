"""The shared vocabulary of every strategy: outcomes, matches, selections, seeds.

A *comparator* is ``async compare(a, b) -> verdict`` over candidate indices, where ``a``
is the candidate shown first (as "A") and ``b`` the one shown second. The verdict is either
one of the outcome strings ``"a" | "b" | "tie" | "invalid"`` or any object with a
``winner`` attribute holding one of them (a judge's rich verdict); strategies keep the
object in the match record untouched, so reasons and costs reach the trace.

A verdict object may also carry ``probability``: the judge's probability that ``a`` is the
better of the two (:func:`probability_of`). Strategies that can weigh a verdict use it:
round-robin's Bradley-Terry counts soft wins, and the knockouts report how confident the
winner's matches were (``Selection.confidence``).

A *scorer* is ``async score(i) -> value`` where value is a float, ``None`` (invalid), or an
object with a ``value`` attribute holding either.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import networkx as nx

__all__ = [
    "OUTCOMES",
    "Comparator",
    "KeyFunction",
    "Match",
    "Outcome",
    "Scorer",
    "Selection",
    "check_candidates",
    "TIE_RULES",
    "make_rng",
    "outcome_of",
    "probability_of",
    "tie_priority",
    "value_of",
]

Outcome = Literal["a", "b", "tie", "invalid"]
OUTCOMES: tuple[str, ...] = ("a", "b", "tie", "invalid")

Comparator = Callable[[int, int], Awaitable[Any]]
Scorer = Callable[[int], Awaitable[Any]]
KeyFunction = Callable[[int], Hashable | None]


def check_candidates(n: int) -> None:
    """Refuse an empty field: every strategy needs at least one candidate to choose."""
    if n < 1:
        raise ValueError(f"need at least one candidate to select from, got n={n}")


def make_rng(seed: int | random.Random | None) -> random.Random:
    """Normalise a seed argument to a ``random.Random`` (the one place randomness enters)."""
    if isinstance(seed, random.Random):
        return seed
    return random.Random(seed)


#: How strategies that rank by a score break equal scores: ``"random"`` by a seeded
#: permutation (no candidate position is favoured), ``"index"`` by the lower index.
TIE_RULES: tuple[str, ...] = ("random", "index")


def tie_priority(n: int, rng: random.Random, ties: str) -> list[int]:
    """Each candidate's place in the tie-break order (lower goes first).

    With ``ties="random"`` the order is a permutation drawn from ``rng``: on data where
    the first candidates are systematically better or worse (the greedy sample first, the
    weakest model first), breaking ties by index would quietly import that bias.

    Examples
    --------
    >>> tie_priority(3, random.Random(0), "index")
    [0, 1, 2]
    >>> sorted(tie_priority(3, random.Random(0), "random"))
    [0, 1, 2]
    """
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; choose from {', '.join(TIE_RULES)}")
    order = list(range(n))
    if ties == "random":
        rng.shuffle(order)
    priority = [0] * n
    for place, index in enumerate(order):
        priority[index] = place
    return priority


def outcome_of(verdict: Any) -> Outcome:
    """Read the outcome of a comparator's verdict; anything unreadable is ``"invalid"``."""
    winner = verdict if isinstance(verdict, str) else getattr(verdict, "winner", None)
    return cast(Outcome, winner) if winner in OUTCOMES else "invalid"


def probability_of(verdict: Any) -> float | None:
    """The probability that ``a`` is better that a verdict carries (its ``probability``
    attribute, a number in [0, 1]); ``None`` for a verdict without one or an invalid one.

    Examples
    --------
    >>> class Soft:
    ...     winner, probability = "a", 0.8
    >>> probability_of(Soft()), probability_of("a")
    (0.8, None)
    """
    if outcome_of(verdict) == "invalid":
        return None
    p = getattr(verdict, "probability", None)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        return None
    return float(p)


def value_of(score: Any) -> float | None:
    """Read a scorer's value; ``None``, NaN and anything non-numeric are invalid (``None``)."""
    value = getattr(score, "value", score)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return None if value != value else value


@dataclass(frozen=True)
class Match:
    """One pairwise match: ``a`` was shown first, ``b`` second.

    ``outcome`` is relative to that display order. With both orders asked, ``verdicts``
    holds the verdict for (a, b) and then the one for (b, a), and ``outcome`` is their
    combination (agreement keeps it, disagreement is a tie, any invalid is invalid).
    ``winner`` is the winning candidate index, ``None`` for a tie or an invalid verdict.
    """

    a: int
    b: int
    outcome: Outcome
    round: int
    verdicts: tuple[Any, ...] = ()

    @property
    def winner(self) -> int | None:
        return {"a": self.a, "b": self.b}.get(self.outcome)

    @property
    def probability(self) -> float | None:
        """P(``a`` beats ``b``) from the verdicts' probabilities (both orders averaged: the
        second verdict's is about (b, a)); ``None`` when a verdict has none, or the match
        is invalid."""
        if self.outcome == "invalid" or not self.verdicts:
            return None
        found = [probability_of(v) for v in self.verdicts]
        if any(p is None for p in found):
            return None
        first, *rest = found
        assert first is not None
        if not rest:
            return first
        return (first + (1.0 - (rest[0] or 0.0))) / 2.0

    @property
    def loser(self) -> int | None:
        return {"a": self.b, "b": self.a}.get(self.outcome)


@dataclass
class Selection:
    """What a strategy returns.

    - ``winner``: the chosen candidate index (always a valid index, also when every
      verdict was a tie or invalid; then the strategy's stated fallback decided).
    - ``ranking``: all indices best first, where the strategy yields a full ranking.
    - ``scores``: per-candidate numbers behind the ranking (win rate, Copeland score,
      Bradley-Terry strength, pointwise score, vote count), where there are some.
    - ``matches``: every match in the order it was decided.
    - ``comparisons``: number of matches; ``calls``: comparator (or scorer) calls, which
      is twice the matches when both display orders were asked.
    - ``rounds``: sequential steps of concurrent work (a bracket needs ceil(log2 n)).
    - ``ties`` / ``invalid``: matches (or scores) that ended as ties / invalid verdicts.
    - ``checkpoints``: anytime record ``{k: best after the first k candidates}``.
    - ``graph``: round-robin results (edge winner -> loser); ``cyclic_triads``: the share of
      3-cycles among the triads whose three matches were all decisive (``None`` if none).
    - ``order``: the seeded order the strategy walked (sequential and bracket knockouts).
    - ``confidence``: knockouts: the probability that the winner beats every candidate it
      met, the product of its matches' probabilities (:attr:`Match.probability`); ``None``
      when one of them has none (a judge without probabilities).
    - ``classes``: vote's equivalence classes, largest first, members in index order.
    """

    strategy: str
    n: int
    winner: int
    ranking: list[int] | None = None
    scores: list[float | None] | None = None
    matches: list[Match] = field(default_factory=list)
    comparisons: int = 0
    calls: int = 0
    rounds: int = 0
    ties: int = 0
    invalid: int = 0
    checkpoints: dict[int, int] | None = None
    graph: nx.DiGraph[int] | None = None
    cyclic_triads: float | None = None
    order: Sequence[int] | None = None
    classes: list[list[int]] | None = None
    confidence: float | None = None

"""Playing pairwise matches: display order, both-orders control, concurrent rounds.

Every pairwise strategy plays its matches through :func:`play_round`, so the rules for
who is shown first and how two display orders combine live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from typing import TypedDict

from tournaments.selection import Comparator, Match, Outcome, outcome_of

__all__ = [
    "combine_orders",
    "match_counts",
    "play",
    "play_round",
    "seeded_order",
    "winner_confidence",
]

_SWAP: dict[str, Outcome] = {"a": "b", "b": "a", "tie": "tie", "invalid": "invalid"}


def combine_orders(forward: Outcome, backward: Outcome) -> Outcome:
    """Combine the outcome of compare(a, b) with the outcome of compare(b, a).

    The result is relative to (a, b). Both verdicts naming the same candidate keep it;
    any invalid verdict makes the match invalid; a disagreement or a tie is a tie.

    Examples
    --------
    >>> combine_orders("a", "b")  # a won when shown first and when shown second
    'a'
    >>> combine_orders("a", "a")  # whoever was shown first won: position bias
    'tie'
    """
    if "invalid" in (forward, backward):
        return "invalid"
    backward = _SWAP[backward]
    return forward if forward == backward and forward != "tie" else "tie"


async def play(compare: Comparator, a: int, b: int, round: int, both_orders: bool = False) -> Match:
    """Play one match with ``a`` shown first; with ``both_orders`` also ask (b, a).

    The two calls of a both-orders match run concurrently. ``Match.verdicts`` keeps the raw
    verdicts, first the one for (a, b) and then the one for (b, a).

    Notes
    -----
    One comparator call, or two with ``both_orders``.

    Examples
    --------
    >>> import asyncio
    >>> async def first_wins(a, b):
    ...     return "a"
    >>> asyncio.run(play(first_wins, 3, 5, round=1)).winner
    3
    >>> asyncio.run(play(first_wins, 3, 5, round=1, both_orders=True)).outcome
    'tie'
    """
    if not both_orders:
        verdict = await compare(a, b)
        return Match(a, b, outcome_of(verdict), round, (verdict,))
    forward, backward = await asyncio.gather(compare(a, b), compare(b, a))
    outcome = combine_orders(outcome_of(forward), outcome_of(backward))
    return Match(a, b, outcome, round, (forward, backward))


async def play_round(
    compare: Comparator,
    pairs: Sequence[tuple[int, int]],
    *,
    round: int,
    rng: random.Random,
    both_orders: bool = False,
) -> list[Match]:
    """Play the matches of one round concurrently; results follow the order of ``pairs``.

    For every pair the rng decides which candidate is shown first. All coins of the round
    are drawn before any match starts, so the order in which comparators finish cannot
    change what the rng draws next.

    Notes
    -----
    ``len(pairs)`` matches in one round of concurrent work.

    Examples
    --------
    >>> import asyncio, random
    >>> async def higher_wins(a, b):
    ...     return "a" if a > b else "b"
    >>> matches = asyncio.run(
    ...     play_round(higher_wins, [(0, 1), (2, 3)], round=1, rng=random.Random(0)))
    >>> [m.winner for m in matches]
    [1, 3]
    """
    shown = [(y, x) if rng.random() < 0.5 else (x, y) for x, y in pairs]
    return list(await asyncio.gather(*(play(compare, a, b, round, both_orders) for a, b in shown)))


def seeded_order(n: int, rng: random.Random, shuffle: bool = True) -> list[int]:
    """The order a knockout walks: a seeded permutation of ``range(n)``, or the identity.

    Examples
    --------
    >>> seeded_order(4, random.Random(0), shuffle=False)
    [0, 1, 2, 3]
    >>> sorted(seeded_order(4, random.Random(0)))
    [0, 1, 2, 3]
    """
    order = list(range(n))
    if shuffle:
        rng.shuffle(order)
    return order


class MatchCounts(TypedDict):
    """The count fields of a :class:`Selection` that :func:`match_counts` fills."""

    comparisons: int
    calls: int
    ties: int
    invalid: int


def match_counts(matches: Iterable[Match]) -> MatchCounts:
    """The cost and outcome counts of a strategy's matches, as :class:`Selection` fields.

    ``calls`` counts the verdicts kept in each match (two per both-orders match).

    Examples
    --------
    >>> match_counts([Match(0, 1, "a", 1, ("a",)), Match(2, 3, "tie", 1, ("a", "a"))])
    {'comparisons': 2, 'calls': 3, 'ties': 1, 'invalid': 0}
    """
    matches = list(matches)
    return {
        "comparisons": len(matches),
        "calls": sum(len(m.verdicts) for m in matches),
        "ties": sum(m.outcome == "tie" for m in matches),
        "invalid": sum(m.outcome == "invalid" for m in matches),
    }


def winner_confidence(winner: int, matches: Iterable[Match]) -> float | None:
    """The probability that ``winner`` beats every candidate it met in ``matches``: the
    product of P(winner beats the other) over its matches, from the verdicts'
    probabilities. ``None`` when one of its matches has no probability; 1.0 when it
    played none.

    Examples
    --------
    >>> class Soft:
    ...     def __init__(self, p): self.winner, self.probability = "a", p
    >>> winner_confidence(0, [Match(0, 1, "a", 1, (Soft(0.9),)), Match(2, 0, "b", 2, (Soft(0.2),))])
    0.72
    """
    confidence = 1.0
    for match in matches:
        if winner not in (match.a, match.b):
            continue
        p = match.probability
        if p is None:
            return None
        confidence *= p if winner == match.a else 1.0 - p
    return round(confidence, 12)

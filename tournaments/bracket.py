"""Bracket knockout: single elimination with concurrent rounds."""

from __future__ import annotations

import random

from tournaments.match import match_counts, play_round, seeded_order, winner_confidence
from tournaments.selection import Comparator, Match, Selection, check_candidates, make_rng

__all__ = ["bracket_knockout"]


async def bracket_knockout(
    n: int,
    compare: Comparator,
    *,
    seed: int | random.Random | None = None,
    shuffle: bool = True,
    both_orders: bool = False,
) -> Selection:
    """Single elimination over a seeded order; the matches of a round run concurrently.

    The seeded order fills the bracket's slots from the top. When n is not a power of two,
    the first ``2**ceil(log2 n) - n`` slots get a bye in the first round and the others
    pair off in slot order, so that a power of two remains for round two; later rounds
    pair neighbours. A tie or an invalid verdict sends the candidate in the upper slot
    (the one earlier in the seeded order) through; both are counted in ``ties`` /
    ``invalid``. Which of the two is shown first is drawn from the seed for every match.

    Parameters
    ----------
    n : number of candidates (at least 1).
    compare : async comparator, ``await compare(a, b)`` with ``a`` shown first.
    seed : int, ``random.Random`` or None; fixes the slots and the display coins.
    shuffle : fill the slots from a seeded permutation (True) or ``0, ..., n-1`` (False).
    both_orders : ask every match in both display orders (see :func:`~tournaments.play`).

    Returns
    -------
    Selection with ``order`` (the slot order) and ``confidence`` (the product of the
    winner's match probabilities, when the verdicts carry them; see
    :func:`~tournaments.winner_confidence`); no ranking.

    Notes
    -----
    n-1 comparisons in ceil(log2 n) rounds (twice the calls with ``both_orders``); a
    round's matches are awaited together, so wall time grows with log n, not n. The winner
    beat (or outlasted through ties) every candidate it met; it need not be the best when
    the judge is noisy or intransitive.

    Examples
    --------
    >>> import asyncio
    >>> async def higher_wins(a, b):
    ...     return "a" if a > b else "b"
    >>> result = asyncio.run(bracket_knockout(5, higher_wins, seed=0))
    >>> result.winner, result.comparisons, result.rounds
    (4, 4, 3)
    """
    check_candidates(n)
    rng = make_rng(seed)
    order = seeded_order(n, rng, shuffle)
    byes = (1 << (n - 1).bit_length()) - n
    field, carried = order[byes:], order[:byes]
    matches: list[Match] = []
    round = 0
    while len(carried) + len(field) > 1:
        round += 1
        pairs = list(zip(field[::2], field[1::2], strict=True))
        played = await play_round(compare, pairs, round=round, rng=rng, both_orders=both_orders)
        matches.extend(played)
        # Slots stay in seeded order, so the upper slot of a pair is its first member.
        field = carried + [
            m.winner if m.winner is not None else upper
            for m, (upper, _) in zip(played, pairs, strict=True)
        ]
        carried = []
    winner = (carried + field)[0]
    return Selection(
        strategy="knockout",
        n=n,
        winner=winner,
        matches=matches,
        rounds=round,
        order=order,
        confidence=winner_confidence(winner, matches),
        **match_counts(matches),
    )

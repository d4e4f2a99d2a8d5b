"""Sequential knockout: a king of the hill that keeps the best so far."""

from __future__ import annotations

import random
from collections.abc import Iterable

from tournaments.match import match_counts, play_round, seeded_order, winner_confidence
from tournaments.selection import Comparator, Match, Selection, check_candidates, make_rng

__all__ = ["sequential_knockout"]


async def sequential_knockout(
    n: int,
    compare: Comparator,
    *,
    seed: int | random.Random | None = None,
    shuffle: bool = True,
    both_orders: bool = False,
    checkpoints: Iterable[int] = (1, 2, 4, 8),
) -> Selection:
    """Walk the candidates in a seeded order; each challenger plays the incumbent.

    The first candidate of the order is the incumbent; the winner of each match becomes
    (or stays) the incumbent, and the last incumbent is the winner. A tie or an invalid
    verdict keeps the incumbent (both are counted in ``ties`` / ``invalid``). Which of
    the two is shown first is drawn from the seed for every match.

    Parameters
    ----------
    n : number of candidates (at least 1).
    compare : async comparator, ``await compare(a, b)`` with ``a`` shown first.
    seed : int, ``random.Random`` or None; fixes the order and the display coins.
    shuffle : walk a seeded permutation (True) or ``0, 1, ..., n-1`` (False).
    both_orders : ask every match in both display orders (see :func:`~tournaments.play`).
    checkpoints : sizes k for the anytime record ``{k: incumbent after the first k
        candidates of the order}``; sizes above n are dropped, and n is always recorded.

    Returns
    -------
    Selection with ``order``, ``checkpoints`` and ``confidence`` (the product of the
    winner's match probabilities, when the verdicts carry them); no ranking.

    Notes
    -----
    n-1 comparisons in n-1 rounds (twice the calls with ``both_orders``). The checkpoints
    make the run an anytime algorithm: under a transitive judge, checkpoint k is the best
    of the first k candidates of the order.

    Examples
    --------
    >>> import asyncio
    >>> async def higher_wins(a, b):
    ...     return "a" if a > b else "b"
    >>> result = asyncio.run(sequential_knockout(5, higher_wins, shuffle=False))
    >>> result.winner, result.comparisons, result.checkpoints
    (4, 4, {1: 0, 2: 1, 4: 3, 5: 4})
    """
    check_candidates(n)
    rng = make_rng(seed)
    order = seeded_order(n, rng, shuffle)
    wanted = {k for k in checkpoints if 1 <= k <= n} | {n}
    incumbent = order[0]
    record = {1: incumbent}
    matches: list[Match] = []
    for k, challenger in enumerate(order[1:], start=2):
        (match,) = await play_round(
            compare, [(incumbent, challenger)], round=k - 1, rng=rng, both_orders=both_orders
        )
        matches.append(match)
        if match.winner is not None:
            incumbent = match.winner
        record[k] = incumbent
    return Selection(
        strategy="sequential",
        n=n,
        winner=incumbent,
        matches=matches,
        rounds=n - 1,
        checkpoints={k: record[k] for k in sorted(wanted)},
        order=order,
        confidence=winner_confidence(incumbent, matches),
        **match_counts(matches),
    )

"""Pointwise: score every candidate on its own and keep the highest."""

from __future__ import annotations

import asyncio
import random

from tournaments.aggregate import ranking_from_scores
from tournaments.selection import (
    Scorer,
    Selection,
    check_candidates,
    make_rng,
    tie_priority,
    value_of,
)

__all__ = ["pointwise"]


async def pointwise(
    n: int,
    score: Scorer,
    *,
    seed: int | random.Random | None = None,
    ties: str = "random",
) -> Selection:
    """Score all candidates concurrently with ``await score(i)`` and pick the argmax.

    A score read as ``None`` by :func:`~tournaments.value_of` (None, NaN, non-numeric) is
    invalid: counted in ``invalid``, kept as ``None`` in ``scores`` and ranked last. Equal
    scores are ordered by :func:`~tournaments.tie_priority`: a seeded permutation
    (``ties="random"``) or the lower index (``ties="index"``). If every score is invalid,
    the winner is the first in that order.

    Parameters
    ----------
    n : number of candidates (at least 1).
    score : async scorer over candidate indices.
    seed : int, ``random.Random`` or None; fixes the tie-break order.
    ties : ``"random"`` (seeded) or ``"index"``.

    Returns
    -------
    Selection with ``scores`` and ``ranking`` (highest first, equal scores by the tie rule).

    Notes
    -----
    n scorer calls in one round, no comparisons. Scores are only as comparable as the
    scorer is calibrated across candidates.

    Examples
    --------
    >>> import asyncio
    >>> async def grade(i):
    ...     return [0.2, 0.9, None, 0.9][i]
    >>> result = asyncio.run(pointwise(4, grade, ties="index"))
    >>> result.winner, result.ranking, result.invalid
    (1, [1, 3, 0, 2], 1)
    """
    check_candidates(n)
    priority = tie_priority(n, make_rng(seed), ties)
    scores = [value_of(s) for s in await asyncio.gather(*(score(i) for i in range(n)))]
    ranking = ranking_from_scores(scores, priority)
    return Selection(
        strategy="pointwise",
        n=n,
        winner=ranking[0],
        ranking=ranking,
        scores=scores,
        calls=n,
        rounds=1,
        invalid=sum(s is None for s in scores),
    )

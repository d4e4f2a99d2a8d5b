"""Pointwise: score every candidate on its own and keep the highest."""

from __future__ import annotations

import asyncio
import random

from tournaments.aggregate import ranking_from_scores
from tournaments.selection import Scorer, Selection, check_candidates, value_of

__all__ = ["pointwise"]


async def pointwise(
    n: int,
    score: Scorer,
    *,
    seed: int | random.Random | None = None,
) -> Selection:
    """Score all candidates concurrently with ``await score(i)`` and pick the argmax.

    A score read as ``None`` by :func:`~tournaments.value_of` (None, NaN, non-numeric) is
    invalid: counted in ``invalid``, kept as ``None`` in ``scores`` and ranked last. Equal
    top scores go to the lowest index. If every score is invalid, the winner is candidate
    0 and the ranking is ``0, 1, ..., n-1``.

    Parameters
    ----------
    n : number of candidates (at least 1).
    score : async scorer over candidate indices.
    seed : accepted for a signature shared with the other strategies; pointwise draws no
        random numbers, so the result does not depend on it.

    Returns
    -------
    Selection with ``scores`` and ``ranking`` (highest first, equal scores by index).

    Notes
    -----
    n scorer calls in one round, no comparisons. Scores are only as comparable as the
    scorer is calibrated across candidates.

    Examples
    --------
    >>> import asyncio
    >>> async def grade(i):
    ...     return [0.2, 0.9, None, 0.9][i]
    >>> result = asyncio.run(pointwise(4, grade))
    >>> result.winner, result.ranking, result.invalid
    (1, [1, 3, 0, 2], 1)
    """
    check_candidates(n)
    scores = [value_of(s) for s in await asyncio.gather(*(score(i) for i in range(n)))]
    ranking = ranking_from_scores(scores)
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

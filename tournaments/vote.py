"""Vote: group candidates by a key (say, their final answer) and pick from the largest class."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Hashable

from tournaments.aggregate import ranking_from_scores
from tournaments.selection import Selection, check_candidates

__all__ = ["vote"]


async def vote(
    n: int,
    key: Callable[[int], Hashable | None | Awaitable[Hashable | None]],
    *,
    seed: int | random.Random | None = None,
) -> Selection:
    """Majority (plurality) vote over the classes that ``key`` puts candidates in.

    ``key(i)`` returns a hashable class key, or ``None`` to abstain (no answer found); it
    may be a plain function or return an awaitable, and awaitables run concurrently.
    Abstentions are counted in ``invalid``. The winner is the lowest-index member of the
    largest class; equally large classes go to the one whose first member has the lowest
    index. If every candidate abstains, the winner is candidate 0.

    Parameters
    ----------
    n : number of candidates (at least 1).
    key : candidate index -> class key or None.
    seed : accepted for a signature shared with the other strategies; vote draws no random
        numbers, so the result does not depend on it.

    Returns
    -------
    Selection with ``classes`` (largest first, then by first member; members in index
    order), ``scores`` (the size of each candidate's class, 0.0 for an abstainer) and
    ``ranking`` (by class size, then index).

    Notes
    -----
    n key calls in one round, no comparisons; the grouping costs O(n).

    Examples
    --------
    >>> import asyncio
    >>> answers = ["5", "6", None, "5", "6", "5"]
    >>> result = asyncio.run(vote(6, answers.__getitem__))
    >>> result.winner, result.classes, result.invalid
    (0, [[0, 3, 5], [1, 4]], 1)
    """
    check_candidates(n)
    keys = [key(i) for i in range(n)]
    pending = [i for i, k in enumerate(keys) if inspect.isawaitable(k)]
    for i, k in zip(pending, await asyncio.gather(*(keys[i] for i in pending)), strict=True):
        keys[i] = k
    members: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        if k is not None:
            members.setdefault(k, []).append(i)
    classes = sorted(members.values(), key=lambda c: (-len(c), c[0]))
    scores: list[float | None] = [0.0] * n
    for c in classes:
        for i in c:
            scores[i] = float(len(c))
    ranking = ranking_from_scores(scores)
    return Selection(
        strategy="vote",
        n=n,
        winner=ranking[0],
        ranking=ranking,
        scores=scores,
        calls=n,
        rounds=1,
        invalid=sum(k is None for k in keys),
        classes=classes,
    )

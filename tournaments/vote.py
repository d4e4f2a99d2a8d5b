"""Vote: group candidates by a key (say, their final answer) and pick from the largest class."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Hashable
from typing import cast

from tournaments.aggregate import ranking_from_scores
from tournaments.selection import Selection, check_candidates, make_rng, tie_priority

__all__ = ["vote"]


async def vote(
    n: int,
    key: Callable[[int], Hashable | None | Awaitable[Hashable | None]],
    *,
    seed: int | random.Random | None = None,
    ties: str = "random",
) -> Selection:
    """Majority (plurality) vote over the classes that ``key`` puts candidates in.

    ``key(i)`` returns a hashable class key, or ``None`` to abstain (no answer found); it
    may be a plain function or return an awaitable, and awaitables run concurrently.
    Abstentions are counted in ``invalid``. The winner is a member of the largest class;
    which member, and which of equally large classes, follows
    :func:`~tournaments.tie_priority`: a seeded permutation (``ties="random"``) or the
    lower index (``ties="index"``). If every candidate abstains, the first candidate in
    that order wins.

    Parameters
    ----------
    n : number of candidates (at least 1).
    key : candidate index -> class key or None.
    seed : int, ``random.Random`` or None; fixes the tie-break order.
    ties : ``"random"`` (seeded) or ``"index"``.

    Returns
    -------
    Selection with ``classes`` (largest first, equal sizes by the tie rule; members in
    index order), ``scores`` (the size of each candidate's class, 0.0 for an abstainer)
    and ``ranking`` (by class size, then the tie rule).

    Notes
    -----
    n key calls in one round, no comparisons; the grouping costs O(n).

    Examples
    --------
    >>> import asyncio
    >>> answers = ["5", "6", None, "5", "6", "5"]
    >>> result = asyncio.run(vote(6, answers.__getitem__, ties="index"))
    >>> result.winner, result.classes, result.invalid
    (0, [[0, 3, 5], [1, 4]], 1)
    """
    check_candidates(n)
    priority = tie_priority(n, make_rng(seed), ties)
    found = [key(i) for i in range(n)]
    waits = {i: k for i, k in enumerate(found) if inspect.isawaitable(k)}
    awaited = dict(zip(waits, await asyncio.gather(*waits.values()), strict=True))
    keys: list[Hashable | None] = [
        awaited[i] if i in awaited else cast(Hashable | None, k) for i, k in enumerate(found)
    ]
    members: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        if k is not None:
            members.setdefault(k, []).append(i)
    classes = sorted(members.values(), key=lambda c: (-len(c), min(priority[i] for i in c)))
    scores: list[float | None] = [0.0] * n
    for c in classes:
        for i in c:
            scores[i] = float(len(c))
    ranking = ranking_from_scores(scores, priority)
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

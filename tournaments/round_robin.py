"""Round robin: every pair meets once, all at once; an aggregation ranks the field."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable

from tournaments.aggregate import bradley_terry, copeland_scores, ranking_from_scores, win_rates
from tournaments.cycles import cyclic_triad_share, results_graph
from tournaments.match import match_counts, play_round
from tournaments.selection import (
    Comparator,
    Match,
    Selection,
    check_candidates,
    make_rng,
    tie_priority,
)

__all__ = ["AGGREGATES", "round_robin"]

#: The aggregation names :func:`round_robin` accepts, with the function behind each.
AGGREGATES: dict[str, Callable[[int, Iterable[Match]], list[float]]] = {
    "win_rate": win_rates,
    "copeland": copeland_scores,
    "bradley_terry": bradley_terry,
}


async def round_robin(
    n: int,
    compare: Comparator,
    *,
    seed: int | random.Random | None = None,
    aggregate: str = "win_rate",
    both_orders: bool = False,
    ties: str = "random",
) -> Selection:
    """Play all n(n-1)/2 pairs concurrently and rank the candidates by an aggregation.

    Aggregations (see :mod:`tournaments.aggregate`):

    - ``"win_rate"``: (wins + 0.5 * ties) / valid matches; 0.0 without a valid match.
    - ``"copeland"``: wins minus losses.
    - ``"bradley_terry"``: Bradley-Terry log-strengths (mean 0) with a small prior, on
      soft wins where the verdicts carry a probability (p of a win to ``a``, 1 - p to ``b``).

    Ties count half a win to each side (zero for Copeland); invalid matches are left out
    of every aggregation. Both are counted in ``ties`` / ``invalid``. The ranking sorts by
    score, highest first, equal scores by :func:`~tournaments.tie_priority` (a seeded
    permutation, or the lower index with ``ties="index"``); the winner is its head. Which of
    the two is shown first is drawn from the seed for every pair.

    Parameters
    ----------
    n : number of candidates (at least 1).
    compare : async comparator, ``await compare(a, b)`` with ``a`` shown first.
    seed : int, ``random.Random`` or None; fixes the display coins.
    aggregate : one of ``AGGREGATES``.
    both_orders : ask every match in both display orders (see :func:`~tournaments.play`).
    ties : ``"random"`` (seeded) or ``"index"``: how equal scores are ordered.

    Returns
    -------
    Selection with ``ranking``, ``scores``, ``graph`` (edge winner -> loser per decisive
    match) and ``cyclic_triads`` (share of 3-cycles among fully decided triads).

    Notes
    -----
    n(n-1)/2 comparisons in one round (twice the calls with ``both_orders``): the most
    robust to a noisy judge and the most expensive. The aggregation costs O(n**2).

    Examples
    --------
    >>> import asyncio
    >>> async def higher_wins(a, b):
    ...     return "a" if a > b else "b"
    >>> result = asyncio.run(round_robin(4, higher_wins, seed=0, aggregate="copeland"))
    >>> result.ranking, result.scores, result.comparisons
    ([3, 2, 1, 0], [-3.0, -1.0, 1.0, 3.0], 6)
    """
    check_candidates(n)
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; choose from {', '.join(AGGREGATES)}")
    rng = make_rng(seed)
    pairs = list(itertools.combinations(range(n), 2))
    matches = await play_round(compare, pairs, round=1, rng=rng, both_orders=both_orders)
    scores: list[float | None] = list(AGGREGATES[aggregate](n, matches))
    ranking = ranking_from_scores(scores, tie_priority(n, rng, ties))
    graph = results_graph(n, matches)
    return Selection(
        strategy="round-robin",
        n=n,
        winner=ranking[0],
        ranking=ranking,
        scores=scores,
        matches=matches,
        rounds=1 if pairs else 0,
        graph=graph,
        cyclic_triads=cyclic_triad_share(graph),
        **match_counts(matches),
    )

"""Tie-breaking by a seeded permutation: position-neutral, deterministic for a seed."""

from __future__ import annotations

import asyncio
import random

import pytest

from tournaments import pointwise, round_robin, tie_priority, vote


async def _equal(i: int) -> float:
    return 1.0


async def _tie(a: int, b: int) -> str:
    return "tie"


def test_tie_priority_is_a_permutation_and_index_is_identity():
    """Priorities are a permutation of range(n); the index rule keeps the index order."""
    assert sorted(tie_priority(9, random.Random(3), "random")) == list(range(9))
    assert tie_priority(4, random.Random(3), "index") == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown tie rule"):
        tie_priority(3, random.Random(0), "coin")


@pytest.mark.parametrize(
    "run",
    [
        lambda seed: pointwise(4, _equal, seed=seed),
        lambda seed: vote(4, lambda i: "same", seed=seed),
        lambda seed: round_robin(4, _tie, seed=seed),
    ],
    ids=["pointwise", "vote", "round-robin"],
)
def test_random_ties_favour_no_position_and_repeat_for_a_seed(run):
    """With every candidate tied, each one wins for some seed, and a seed repeats its pick."""
    winners = [asyncio.run(run(seed)).winner for seed in range(60)]
    assert set(winners) == {0, 1, 2, 3}
    assert [asyncio.run(run(seed)).winner for seed in range(10)] == winners[:10]


def test_random_ties_stay_among_the_best():
    """Tie-breaking only orders equals: the winner is always one of the top scores."""
    values = [0.2, 0.9, 0.9, 0.1, 0.9]

    async def score(i: int) -> float:
        return values[i]

    winners = {asyncio.run(pointwise(5, score, seed=s)).winner for s in range(40)}
    assert winners == {1, 2, 4}


def test_vote_picks_among_the_largest_classes_only():
    """Between equally large classes the seed decides; a smaller class never wins."""
    keys = ["x", "y", "x", "y", "z"]
    winners = {asyncio.run(vote(5, keys.__getitem__, seed=s)).winner for s in range(40)}
    assert winners == {0, 1, 2, 3}

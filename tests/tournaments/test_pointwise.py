"""Pointwise: concurrent scores, argmax with the lowest index on ties, invalid scores last."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from tournaments import pointwise


def scorer(values):
    """A scorer returning ``values[i]`` for candidate i."""

    async def score(i):
        return values[i]

    return score


@dataclass
class RichScore:
    value: float | None
    reason: str = ""


def test_winner_is_a_valid_index_for_any_scores(scripted):
    """Whatever the scores (numbers, None, NaN, junk), the winner is one of the n."""
    for n in range(1, 18):
        for seed in range(5):
            rng = random.Random(seed * 100 + n)
            pool = [None, float("nan"), "junk", 0.0, 1.0, -3.5, 7]
            values = [rng.choice(pool) for _ in range(n)]
            selection = scripted.run(pointwise(n, scorer(values), seed=seed))
            assert 0 <= selection.winner < n
            assert sorted(selection.ranking) == list(range(n))


def test_perfect_scores_pick_the_best(scripted):
    """Scores that follow the true strength pick the strongest candidate."""
    strength = scripted.hidden_order(13, 6)
    selection = scripted.run(pointwise(13, scorer([float(s) for s in strength])))
    assert selection.winner == strength.index(12)
    assert selection.ranking == sorted(range(13), key=lambda i: -strength[i])


def test_equal_top_scores_go_to_the_lowest_index(scripted):
    """Among equal maxima the lowest index wins."""
    selection = scripted.run(pointwise(5, scorer([0.1, 0.9, 0.3, 0.9, 0.9]), ties="index"))
    assert selection.winner == 1
    assert selection.ranking == [1, 3, 4, 2, 0]


def test_invalid_scores_are_counted_and_ranked_last(scripted):
    """None, NaN and non-numbers are invalid: counted, kept as None, ranked last by index."""
    values = [None, 0.2, float("nan"), RichScore(0.7), RichScore(None), "7", True]
    selection = scripted.run(pointwise(7, scorer(values), ties="index"))
    assert selection.scores == [None, 0.2, None, 0.7, None, None, None]
    assert selection.invalid == 5
    assert selection.ranking == [3, 1, 0, 2, 4, 5, 6]
    assert selection.winner == 3


def test_all_invalid_falls_back_to_candidate_zero(scripted):
    """When every score is invalid, candidate 0 wins and the ranking is by index."""
    selection = scripted.run(pointwise(4, scorer([None] * 4), ties="index"))
    assert (selection.winner, selection.ranking, selection.invalid) == (0, [0, 1, 2, 3], 4)


def test_cost_is_n_calls_in_one_round(scripted):
    """Every candidate is scored exactly once, in one round, without comparisons."""
    recorder = scripted.Recorder(scorer(list(range(6))))
    selection = scripted.run(pointwise(6, recorder, seed=1))
    assert sorted(recorder.calls) == [(i,) for i in range(6)]
    assert (selection.calls, selection.comparisons, selection.rounds) == (6, 0, 1)
    assert selection.matches == [] and selection.strategy == "pointwise"


def test_scores_run_concurrently(scripted):
    """Every scorer call has started before any of them completes."""
    barrier = scripted.RoundBarrier([5], scorer([3, 1, 4, 1, 5]))
    selection = scripted.run(pointwise(5, barrier))
    assert selection.winner == 4


@pytest.mark.parametrize("n", [0, -1])
def test_no_candidates_is_an_error(scripted, n):
    """Fewer than one candidate raises ValueError."""
    with pytest.raises(ValueError, match="at least one candidate"):
        scripted.run(pointwise(n, scorer([])))

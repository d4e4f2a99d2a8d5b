"""Vote: plurality over key classes, lowest index within and across equal classes."""

from __future__ import annotations

import random

import pytest

from tournaments import vote


def test_winner_is_a_valid_index_for_any_keys(scripted):
    """Whatever the keys (including abstentions), the winner is one of the n."""
    for n in range(1, 18):
        for seed in range(5):
            rng = random.Random(seed * 100 + n)
            keys = [rng.choice([None, "x", "y", "z", 3]) for _ in range(n)]
            selection = scripted.run(vote(n, keys.__getitem__, seed=seed))
            assert 0 <= selection.winner < n
            assert sorted(selection.ranking) == list(range(n))


def test_plurality_class_wins_with_its_lowest_member(scripted):
    """The lowest-index member of the largest class wins."""
    keys = ["6", "5", "7", "5", "6", "5"]
    selection = scripted.run(vote(6, keys.__getitem__, ties="index"))
    assert selection.winner == 1
    assert selection.classes == [[1, 3, 5], [0, 4], [2]]
    assert selection.scores == [2.0, 3.0, 1.0, 3.0, 2.0, 3.0]
    assert selection.ranking == [1, 3, 5, 0, 4, 2]


def test_equal_classes_go_to_the_earliest_first_member(scripted):
    """Between equally large classes, the one whose first member has the lowest index wins."""
    keys = ["b", "a", "a", "b", None]
    selection = scripted.run(vote(5, keys.__getitem__, ties="index"))
    assert selection.winner == 0
    assert selection.classes == [[0, 3], [1, 2]]


def test_abstentions_are_counted_and_ranked_last(scripted):
    """A None key abstains: counted in invalid, score 0.0, ranked after every class member."""
    keys = [None, "a", None, "b", "a"]
    selection = scripted.run(vote(5, keys.__getitem__, ties="index"))
    assert (selection.winner, selection.invalid) == (1, 2)
    assert selection.scores[0] == selection.scores[2] == 0.0
    assert selection.ranking == [1, 4, 3, 0, 2]


def test_everyone_abstains_falls_back_to_candidate_zero(scripted):
    """When every candidate abstains, candidate 0 wins and there are no classes."""
    selection = scripted.run(vote(3, lambda i: None, ties="index"))
    assert (selection.winner, selection.classes, selection.invalid) == (0, [], 3)


def test_async_and_sync_keys_are_both_accepted(scripted):
    """A key returning an awaitable is awaited; plain and async keys give the same result."""
    keys = [1, 2, 2, None, 1, 2]

    async def async_key(i):
        return keys[i]

    plain = scripted.run(vote(6, keys.__getitem__, ties="index"))
    awaited = scripted.run(vote(6, async_key, ties="index"))
    assert (
        (plain.winner, plain.classes)
        == (awaited.winner, awaited.classes)
        == (1, [[1, 2, 5], [0, 4]])
    )


def test_async_keys_run_concurrently(scripted):
    """Every awaitable key has started before any of them completes."""

    async def key(i):
        return i % 2

    barrier = scripted.RoundBarrier([4], key)
    selection = scripted.run(vote(4, barrier, ties="index"))
    assert selection.classes == [[0, 2], [1, 3]]


def test_cost_is_n_calls_in_one_round(scripted):
    """Every key is asked once, in one round, without comparisons."""
    asked = []

    def key(i):
        asked.append(i)
        return "same"

    selection = scripted.run(vote(4, key, ties="index"))
    assert asked == [0, 1, 2, 3]
    assert (selection.calls, selection.comparisons, selection.rounds) == (4, 0, 1)
    assert selection.strategy == "vote"


@pytest.mark.parametrize("n", [0, -2])
def test_no_candidates_is_an_error(scripted, n):
    """Fewer than one candidate raises ValueError."""
    with pytest.raises(ValueError, match="at least one candidate"):
        scripted.run(vote(n, lambda i: None))

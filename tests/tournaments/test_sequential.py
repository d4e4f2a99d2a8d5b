"""Sequential knockout: cost, the incumbent rule, and the anytime checkpoints."""

from __future__ import annotations

import pytest

from tournaments import sequential_knockout


@pytest.mark.parametrize("n", range(1, 34))
def test_cost_is_n_minus_one(scripted, n):
    """n-1 comparisons in n-1 rounds."""
    selection = scripted.run(sequential_knockout(n, scripted.chaotic(n), seed=n))
    assert (selection.comparisons, selection.rounds) == (n - 1, n - 1)
    assert [m.round for m in selection.matches] == list(range(1, n))


def test_each_challenger_meets_the_incumbent(scripted):
    """Match k pits the k-th candidate of the order against the incumbent of that moment."""
    selection = scripted.run(sequential_knockout(10, scripted.chaotic(4), seed=4))
    incumbent = selection.order[0]
    for challenger, match in zip(selection.order[1:], selection.matches, strict=True):
        assert {match.a, match.b} == {incumbent, challenger}
        incumbent = match.winner if match.winner is not None else incumbent
    assert selection.winner == incumbent


@pytest.mark.parametrize("outcome", ["tie", "invalid"])
def test_tie_or_invalid_keeps_the_incumbent(scripted, outcome):
    """A tie or an invalid verdict keeps the incumbent, so the first of the order wins."""
    selection = scripted.run(sequential_knockout(7, scripted.constant(outcome), seed=2))
    assert selection.winner == selection.order[0]
    assert (selection.ties, selection.invalid) == ((6, 0) if outcome == "tie" else (0, 6))


def test_order_is_seeded_or_identity(scripted):
    """The order is a seeded permutation, or 0..n-1 without shuffling."""
    judge = scripted.perfect(list(range(8)))
    shuffled = scripted.run(sequential_knockout(8, judge, seed=1))
    plain = scripted.run(sequential_knockout(8, judge, seed=1, shuffle=False))
    assert sorted(shuffled.order) == list(range(8)) != list(shuffled.order)
    assert list(plain.order) == list(range(8))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 17])
def test_checkpoints_hold_the_best_of_each_prefix(scripted, n):
    """Under a perfect judge, checkpoint k is the best of the first k candidates of the order."""
    strength = scripted.hidden_order(n, n)
    selection = scripted.run(sequential_knockout(n, scripted.perfect(strength), seed=n))
    assert set(selection.checkpoints) == {k for k in (1, 2, 4, 8) if k <= n} | {n}
    for k, best in selection.checkpoints.items():
        assert best == max(selection.order[:k], key=strength.__getitem__)
    assert selection.checkpoints[n] == selection.winner


def test_custom_checkpoints_drop_sizes_out_of_range(scripted):
    """Requested sizes outside 1..n are dropped; n is always recorded."""
    selection = scripted.run(
        sequential_knockout(6, scripted.constant("a"), seed=0, checkpoints=(0, 3, 10))
    )
    assert set(selection.checkpoints) == {3, 6}
    assert selection.ranking is None

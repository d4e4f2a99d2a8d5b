"""Bracket knockout: cost, bracket shape, the upper-slot rule and concurrent rounds."""

from __future__ import annotations

import math

import pytest

from tournaments import bracket_knockout


def round_sizes(n: int) -> list[int]:
    """Matches per round: the first round trims the field to a power of two."""
    if n == 1:
        return []
    half = 1 << ((n - 1).bit_length() - 1)
    sizes = [n - half]
    while half > 1:
        half //= 2
        sizes.append(half)
    return sizes


@pytest.mark.parametrize("n", range(1, 34))
def test_cost_is_n_minus_one_in_log_rounds(scripted, n):
    """n-1 comparisons in ceil(log2 n) rounds, byes only in the first round."""
    selection = scripted.run(bracket_knockout(n, scripted.chaotic(n), seed=n))
    assert selection.comparisons == n - 1
    assert selection.rounds == math.ceil(math.log2(n))
    per_round = [sum(m.round == r for m in selection.matches) for r in range(1, n)]
    assert [k for k in per_round if k] == round_sizes(n)


@pytest.mark.parametrize("n", [2, 5, 12, 17])
def test_nobody_plays_twice_in_a_round_and_losers_leave(scripted, n):
    """In each round a candidate plays at most once, and a beaten candidate never returns."""
    strength = scripted.hidden_order(n, 1)
    selection = scripted.run(bracket_knockout(n, scripted.perfect(strength), seed=1))
    out: set[int] = set()
    for r in range(1, selection.rounds + 1):
        players = [c for m in selection.matches if m.round == r for c in (m.a, m.b)]
        assert len(players) == len(set(players))
        assert not out & set(players)
        out |= {m.loser for m in selection.matches if m.round == r}
    assert out == set(range(n)) - {selection.winner}


@pytest.mark.parametrize("outcome", ["tie", "invalid"])
@pytest.mark.parametrize("n", [2, 3, 6, 8, 13])
def test_tie_or_invalid_sends_the_upper_slot_through(scripted, outcome, n):
    """On a tie or invalid verdict the candidate earlier in the seeded order advances."""
    selection = scripted.run(bracket_knockout(n, scripted.constant(outcome), seed=n))
    assert selection.winner == selection.order[0]
    counted = selection.ties if outcome == "tie" else selection.invalid
    assert counted == n - 1


def test_upper_slot_rule_applies_in_every_match(scripted):
    """In every tied match the earlier slot plays the next round and the later one is out."""
    strong = 5

    async def compare(a, b):
        if strong in (a, b):
            return "a" if a == strong else "b"
        return "tie"

    selection = scripted.run(bracket_knockout(11, compare, seed=3))
    position = {c: i for i, c in enumerate(selection.order)}
    assert selection.winner == strong
    ties = [m for m in selection.matches if m.outcome == "tie" and m.round < selection.rounds]
    assert ties
    for m in ties:
        upper, lower = sorted((m.a, m.b), key=position.__getitem__)
        next_round = {c for x in selection.matches if x.round == m.round + 1 for c in (x.a, x.b)}
        later = {c for x in selection.matches if x.round > m.round for c in (x.a, x.b)}
        assert upper in next_round and lower not in later


@pytest.mark.parametrize("n", [2, 3, 4, 7, 9, 16])
@pytest.mark.parametrize("both_orders", [False, True])
def test_matches_of_a_round_run_concurrently(scripted, n, both_orders):
    """Every call of a round has started before any of them completes."""
    sizes = [k * (2 if both_orders else 1) for k in round_sizes(n)]
    strength = scripted.hidden_order(n, 2)
    barrier = scripted.RoundBarrier(sizes, scripted.perfect(strength))
    selection = scripted.run(bracket_knockout(n, barrier, seed=2, both_orders=both_orders))
    assert selection.winner == strength.index(n - 1)
    assert barrier.started == sum(sizes)


def test_no_ranking_and_the_slot_order_is_kept(scripted):
    """A bracket yields no ranking; its order is the seeded slot order, identity unshuffled."""
    judge = scripted.perfect(list(range(6)))
    plain = scripted.run(bracket_knockout(6, judge, seed=0, shuffle=False))
    assert plain.ranking is None and list(plain.order) == list(range(6))
    assert plain.winner == 5

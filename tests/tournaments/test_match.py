"""The shared match logic: display order, both-orders combination, concurrent rounds."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from tournaments import Match, combine_orders, match_counts, play, play_round, seeded_order


@pytest.mark.parametrize(
    ("forward", "backward", "expected"),
    [
        ("a", "b", "a"),
        ("b", "a", "b"),
        ("a", "a", "tie"),
        ("b", "b", "tie"),
        ("a", "tie", "tie"),
        ("tie", "b", "tie"),
        ("tie", "tie", "tie"),
        ("invalid", "b", "invalid"),
        ("a", "invalid", "invalid"),
        ("tie", "invalid", "invalid"),
        ("invalid", "invalid", "invalid"),
    ],
)
def test_combine_orders(forward, backward, expected):
    """Agreement on a candidate keeps it, any invalid is invalid, anything else is a tie."""
    assert combine_orders(forward, backward) == expected


@dataclass
class RichVerdict:
    winner: str
    reason: str


def test_play_keeps_the_raw_verdict(scripted):
    """A single-order match reads the outcome from the verdict and keeps the object."""
    verdict = RichVerdict("b", "shorter proof")

    async def compare(a, b):
        return verdict

    match = scripted.run(play(compare, 4, 7, round=2))
    assert match == Match(4, 7, "b", 2, (verdict,))
    assert (match.winner, match.loser) == (7, 4)


def test_play_unreadable_verdict_is_invalid(scripted):
    """A verdict that names no outcome makes the match invalid, with no winner."""
    match = scripted.run(play(scripted.constant("A wins"), 0, 1, round=1))
    assert match.outcome == "invalid" and match.winner is None


def test_play_both_orders_asks_both_concurrently(scripted):
    """Both orders ask (a, b) then (b, a), concurrently, and keep both verdicts in order."""
    barrier = scripted.RoundBarrier([2], scripted.perfect([0, 5]))
    recorder = scripted.Recorder(barrier)
    match = scripted.run(play(recorder, 0, 1, round=1, both_orders=True))
    assert recorder.calls == [(0, 1), (1, 0)]
    assert match.verdicts == ("b", "a")
    assert match.winner == 1


def test_play_both_orders_cancels_position_bias(scripted):
    """A judge that always prefers the first shown makes every both-orders match a tie."""
    match = scripted.run(play(scripted.constant("a"), 2, 3, round=1, both_orders=True))
    assert match.outcome == "tie" and match.verdicts == ("a", "a")


def test_play_round_runs_matches_concurrently(scripted):
    """All matches of a round are under way before any of them completes."""
    barrier = scripted.RoundBarrier([3], scripted.perfect([0, 1, 2, 3, 4, 5]))
    pairs = [(0, 1), (2, 3), (4, 5)]
    matches = scripted.run(play_round(barrier, pairs, round=1, rng=random.Random(0)))
    assert [m.winner for m in matches] == [1, 3, 5]


def test_play_round_keeps_pair_order_and_draws_display_order(scripted):
    """Results follow the pairs; each match shows the pair's two candidates in some order."""
    pairs = [(i, i + 10) for i in range(20)]
    matches = scripted.run(play_round(scripted.constant("a"), pairs, round=3, rng=random.Random(1)))
    assert [{m.a, m.b} for m in matches] == [set(p) for p in pairs]
    assert {m.a < m.b for m in matches} == {True, False}
    assert {m.round for m in matches} == {3}


def test_play_round_display_order_ignores_finish_order(scripted):
    """Which candidate is shown first depends on the seed, not on when calls finish."""
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    judge = scripted.perfect(scripted.hidden_order(6, 0))
    calm = scripted.run(play_round(judge, pairs, round=1, rng=random.Random(5)))
    scrambled = scripted.run(
        play_round(scripted.shuffled_finish(judge, 9), pairs, round=1, rng=random.Random(5))
    )
    assert calm == scrambled


def test_seeded_order_is_a_permutation():
    """A seeded order is a permutation of range(n); without shuffling, the identity."""
    assert sorted(seeded_order(9, random.Random(3))) == list(range(9))
    assert seeded_order(9, random.Random(3), shuffle=False) == list(range(9))


def test_match_counts_counts_verdicts_as_calls():
    """Calls count the verdicts (two per both-orders match); ties and invalid are tallied."""
    matches = [
        Match(0, 1, "a", 1, ("a",)),
        Match(1, 2, "tie", 1, ("a", "a")),
        Match(2, 3, "invalid", 2, ("?", "b")),
    ]
    assert match_counts(matches) == {"comparisons": 3, "calls": 5, "ties": 1, "invalid": 1}

"""Verdicts that carry a probability: soft wins for Bradley-Terry, confidence for knockouts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tournaments import (
    Match,
    bracket_knockout,
    bradley_terry,
    preference_matrix,
    probability_of,
    round_robin,
    sequential_knockout,
    win_rates,
    winner_confidence,
)


@dataclass(frozen=True)
class Soft:
    """A verdict with the judge's probability that ``a`` is better."""

    winner: str
    probability: float | None = None


def soft_judge(strength: list[float]):
    """P(a better) = s_a / (s_a + s_b); the verdict names the likelier side."""

    async def compare(a: int, b: int) -> Soft:
        p = strength[a] / (strength[a] + strength[b])
        return Soft("a" if p > 0.5 else "b" if p < 0.5 else "tie", p)

    return compare


def test_probability_of_reads_a_valid_probability_only() -> None:
    assert probability_of(Soft("a", 0.7)) == 0.7
    assert probability_of(Soft("invalid", 0.7)) is None  # an invalid verdict says nothing
    assert probability_of(Soft("a", 1.5)) is None and probability_of("a") is None


def test_a_both_orders_match_averages_its_two_probabilities() -> None:
    """The second verdict is about (b, a): P(a) = (p_ab + 1 - p_ba) / 2."""
    match = Match(0, 1, "a", 1, (Soft("a", 0.9), Soft("b", 0.3)))
    assert match.probability == pytest.approx(0.8)
    assert Match(0, 1, "a", 1, (Soft("a", 0.9), Soft("b"))).probability is None


def test_soft_wins_count_the_probability_not_the_outcome() -> None:
    """A 0.6 win is 0.6 of a win and 0.4 of a loss; a match without one counts as before."""
    matches = [Match(0, 1, "a", 1, (Soft("a", 0.6),)), Match(1, 2, "a", 1, ("a",))]
    assert preference_matrix(3, matches, soft=True).tolist() == [
        [0.0, 0.6, 0.0],
        [0.4, 0.0, 1.0],
        [0.0, 0.0, 0.0],
    ]
    assert preference_matrix(3, matches).tolist()[0][1] == 1.0  # hard by default


def test_bradley_terry_uses_soft_wins_and_win_rate_stays_hard() -> None:
    barely = [Match(0, 1, "a", 1, (Soft("a", 0.55),))]
    clearly = [Match(0, 1, "a", 1, (Soft("a", 0.95),))]
    assert bradley_terry(2, barely)[0] < bradley_terry(2, clearly)[0]
    assert bradley_terry(2, barely, soft=False) == bradley_terry(2, clearly, soft=False)
    assert win_rates(2, barely) == win_rates(2, clearly) == [1.0, 0.0]


def test_round_robin_bradley_terry_ranks_by_soft_wins() -> None:
    """Soft wins recover the order of the strengths behind the probabilities."""
    strength = [1.0, 3.0, 2.0, 0.5]
    result = asyncio.run(round_robin(4, soft_judge(strength), seed=0, aggregate="bradley_terry"))
    assert result.ranking == [1, 2, 0, 3]


def test_knockouts_report_the_winners_confidence() -> None:
    """The product of P(winner beats the other) over the winner's matches."""
    strength = [1.0, 3.0, 2.0, 0.5]
    for strategy in (bracket_knockout, sequential_knockout):
        result = asyncio.run(strategy(4, soft_judge(strength), seed=1))
        assert result.winner == 1
        expected = 1.0
        for m in result.matches:
            if 1 in (m.a, m.b):
                other = m.b if m.a == 1 else m.a
                expected *= strength[1] / (strength[1] + strength[other])
        assert result.confidence == pytest.approx(expected)


def test_without_probabilities_a_knockout_has_no_confidence() -> None:
    async def higher(a: int, b: int) -> str:
        return "a" if a > b else "b"

    assert asyncio.run(bracket_knockout(4, higher, seed=0)).confidence is None
    assert winner_confidence(0, []) == 1.0

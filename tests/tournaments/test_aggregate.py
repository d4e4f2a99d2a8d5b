"""Aggregations of match results: win rate, Copeland, Bradley-Terry, and the ranking rule."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from tournaments import (
    Match,
    bradley_terry,
    copeland_scores,
    preference_matrix,
    ranking_from_scores,
    round_robin,
    win_rates,
)

MIXED = [
    Match(0, 1, "a", 1),
    Match(2, 0, "a", 1),
    Match(1, 2, "tie", 1),
    Match(0, 3, "invalid", 1),
]


def test_preference_matrix_counts_half_ties_and_skips_invalid():
    """W[i, j] holds i's wins over j plus half the ties; invalid matches add nothing."""
    w = preference_matrix(4, MIXED)
    assert w.tolist() == [
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.5, 0.0],
        [1.0, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]


def test_win_rates():
    """Win rate is (wins + ties/2) over valid matches, 0.0 for a candidate with none."""
    assert win_rates(4, MIXED) == [0.5, 0.25, 0.75, 0.0]


def test_copeland_scores():
    """Copeland score is wins minus losses; ties and invalid matches count zero."""
    assert copeland_scores(4, MIXED) == [0.0, -1.0, 1.0, 0.0]


def test_ranking_from_scores_puts_none_last_and_breaks_ties_by_index():
    """Highest first, equal scores by lower index, invalid (None) scores last by index."""
    assert ranking_from_scores([None, 1.0, 3.0, 1.0, None, -2.0]) == [2, 1, 3, 5, 0, 4]


def sampled_matches(strength, per_pair, seed):
    """Matches drawn from the Bradley-Terry model with the given log-strengths."""
    rng = random.Random(seed)
    matches = []
    for i, j in itertools.combinations(range(len(strength)), 2):
        p_i = 1 / (1 + math.exp(strength[j] - strength[i]))
        for _ in range(per_pair):
            matches.append(Match(i, j, "a" if rng.random() < p_i else "b", 1))
    return matches


def test_bradley_terry_recovers_the_true_order():
    """With many noisy matches per pair, the fitted strengths order the candidates truly."""
    truth = [0.3, -1.0, 1.2, 0.0, -0.4, 0.8]
    fitted = bradley_terry(6, sampled_matches(truth, per_pair=200, seed=0))
    assert ranking_from_scores(fitted) == ranking_from_scores(truth)
    centred = [t - sum(truth) / 6 for t in truth]
    assert max(abs(f - c) for f, c in zip(fitted, centred, strict=True)) < 0.3


def test_bradley_terry_recovers_the_order_from_a_noisy_round_robin(scripted):
    """Repeated round robins under a judge erring 30% of the time still rank truly."""
    strength = scripted.hidden_order(5, 8)
    matches = []
    for seed in range(40):
        judge = scripted.noisy(strength, 0.3, seed)
        matches += scripted.run(round_robin(5, judge, seed=seed)).matches
    fitted = bradley_terry(5, matches)
    assert ranking_from_scores(fitted) == ranking_from_scores(strength)


def test_bradley_terry_is_finite_when_one_candidate_wins_everything():
    """The prior keeps strengths finite for an unbeaten candidate; it still ranks first."""
    matches = [Match(0, j, "a", 1) for j in range(1, 5)] * 3
    fitted = bradley_terry(5, matches)
    assert all(math.isfinite(x) for x in fitted)
    assert ranking_from_scores(fitted)[0] == 0
    assert abs(sum(fitted)) < 1e-9


def test_bradley_terry_ties_and_no_matches_are_neutral():
    """All ties, or no valid match at all, give every candidate log-strength 0."""
    ties = [Match(i, j, "tie", 1) for i, j in itertools.combinations(range(4), 2)]
    invalid = [Match(0, 1, "invalid", 1)]
    assert bradley_terry(4, ties) == pytest.approx([0.0] * 4, abs=1e-9)
    assert bradley_terry(2, invalid) == pytest.approx([0.0, 0.0], abs=1e-9)


def test_bradley_terry_needs_a_positive_prior():
    """A prior of zero would allow infinite strengths, so it is refused."""
    with pytest.raises(ValueError, match="prior"):
        bradley_terry(2, [Match(0, 1, "a", 1)], prior=0.0)

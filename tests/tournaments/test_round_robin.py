"""Round robin: every pair once, in one concurrent round, ranked by an aggregation."""

from __future__ import annotations

import itertools

import pytest

from tournaments import AGGREGATES, round_robin


@pytest.mark.parametrize("n", range(1, 34))
def test_cost_is_every_pair_once_in_one_round(scripted, n):
    """n(n-1)/2 comparisons, each unordered pair exactly once, in one round (none for n=1)."""
    selection = scripted.run(round_robin(n, scripted.chaotic(n), seed=n))
    assert selection.comparisons == n * (n - 1) // 2
    assert sorted(tuple(sorted((m.a, m.b))) for m in selection.matches) == list(
        itertools.combinations(range(n), 2)
    )
    assert selection.rounds == (1 if n > 1 else 0)


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_perfect_judge_ranks_the_true_order(scripted, aggregate):
    """Under a perfect judge every aggregation ranks the candidates by true strength."""
    strength = scripted.hidden_order(9, 4)
    selection = scripted.run(
        round_robin(9, scripted.perfect(strength), seed=4, aggregate=aggregate)
    )
    assert selection.ranking == sorted(range(9), key=lambda i: -strength[i])
    assert selection.winner == selection.ranking[0]


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_ranking_is_scores_descending_with_index_tiebreak(scripted, aggregate):
    """The ranking sorts scores highest first, equal scores by lower index."""
    selection = scripted.run(
        round_robin(10, scripted.chaotic(2), seed=2, aggregate=aggregate, ties="index")
    )
    scores = selection.scores
    assert sorted(selection.ranking) == list(range(10))
    for i, j in itertools.pairwise(selection.ranking):
        assert scores[i] > scores[j] or (scores[i] == scores[j] and i < j)


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_all_ties_rank_by_index(scripted, aggregate):
    """When every match ties, all scores are equal and candidate 0 wins; ties are counted."""
    selection = scripted.run(
        round_robin(5, scripted.constant("tie"), aggregate=aggregate, ties="index")
    )
    assert len(set(selection.scores)) == 1
    assert selection.ranking == [0, 1, 2, 3, 4]
    assert (selection.ties, selection.invalid) == (10, 0)


def test_all_invalid_scores_zero(scripted):
    """Invalid matches count for nobody: every win rate is 0.0 and candidate 0 wins."""
    selection = scripted.run(round_robin(4, scripted.constant("invalid"), seed=0))
    assert selection.scores == [0.0] * 4
    assert (selection.winner, selection.invalid, selection.ties) == (0, 6, 0)
    assert selection.graph.number_of_edges() == 0 and selection.cyclic_triads is None


def test_graph_has_an_edge_per_decisive_match(scripted):
    """The graph has all n nodes and one winner -> loser edge per decisive match."""
    selection = scripted.run(round_robin(8, scripted.chaotic(11), seed=11))
    decisive = {(m.winner, m.loser) for m in selection.matches if m.winner is not None}
    assert set(selection.graph.nodes) == set(range(8))
    assert set(selection.graph.edges) == decisive


def test_rock_paper_scissors_is_fully_cyclic(scripted):
    """A 3-cycle (0 beats 1, 1 beats 2, 2 beats 0) has cyclic triad share 1.0 and no best."""
    beats = {(0, 1), (1, 2), (2, 0)}

    async def compare(a, b):
        return "a" if (a, b) in beats else "b"

    selection = scripted.run(round_robin(3, compare, seed=0))
    assert selection.cyclic_triads == 1.0
    assert selection.scores == [0.5, 0.5, 0.5] and selection.winner == 0


def test_transitive_tournament_has_no_cycles(scripted):
    """A perfect judge yields a transitive tournament: cyclic triad share 0.0."""
    selection = scripted.run(round_robin(7, scripted.perfect(scripted.hidden_order(7, 5))))
    assert selection.cyclic_triads == 0.0


def test_unknown_aggregate_is_an_error(scripted):
    """An aggregation outside AGGREGATES raises ValueError before any call."""
    recorder = scripted.Recorder(scripted.constant("a"))
    with pytest.raises(ValueError, match="unknown aggregate"):
        scripted.run(round_robin(3, recorder, aggregate="elo"))
    assert recorder.calls == []


@pytest.mark.parametrize("both_orders", [False, True])
def test_all_pairs_run_concurrently(scripted, both_orders):
    """Every call of the round has started before any of them completes."""
    calls = 15 * (2 if both_orders else 1)
    barrier = scripted.RoundBarrier([calls], scripted.perfect(list(range(6))))
    selection = scripted.run(round_robin(6, barrier, seed=0, both_orders=both_orders))
    assert selection.winner == 5 and barrier.started == calls

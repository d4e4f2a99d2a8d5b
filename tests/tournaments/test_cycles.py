"""The results graph and the share of cyclic triads."""

from __future__ import annotations

import networkx as nx

from tournaments import Match, cyclic_triad_share, results_graph


def test_results_graph_counts_repeated_wins():
    """Each decisive match adds a winner -> loser edge; repeats raise its ``wins``."""
    matches = [Match(0, 1, "a", 1), Match(1, 0, "b", 2), Match(1, 2, "tie", 1)]
    graph = results_graph(3, matches)
    assert sorted(graph.nodes) == [0, 1, 2]
    assert list(graph.edges(data="wins")) == [(0, 1, 2)]


def test_share_on_cycle_and_on_transitive_triads():
    """A 3-cycle scores 1.0, a transitive triad 0.0, one of each 0.5."""
    cycle = nx.DiGraph([(0, 1), (1, 2), (2, 0)])
    transitive = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    both = nx.disjoint_union(cycle, transitive)
    assert cyclic_triad_share(cycle) == 1.0
    assert cyclic_triad_share(transitive) == 0.0
    assert cyclic_triad_share(both) == 0.5


def test_share_is_none_without_fully_decided_triads():
    """Without a triad whose three pairs are all decided, the share is None."""
    assert cyclic_triad_share(nx.DiGraph([(0, 1), (1, 2)])) is None
    assert cyclic_triad_share(results_graph(2, [Match(0, 1, "a", 1)])) is None


def test_split_pairs_leave_the_count():
    """A pair with wins both ways takes its triads out of the count."""
    graph = nx.DiGraph([(0, 1), (1, 0), (1, 2), (2, 0)])
    assert cyclic_triad_share(graph) is None

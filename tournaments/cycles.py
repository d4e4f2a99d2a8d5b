"""The results graph of pairwise matches and how intransitive it is."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from tournaments.selection import Match

__all__ = ["cyclic_triad_share", "results_graph"]


def results_graph(n: int, matches: Iterable[Match]) -> nx.DiGraph[int]:
    """A DiGraph on ``range(n)`` with an edge winner -> loser per decisive match.

    Ties and invalid matches add no edge. The edge attribute ``wins`` counts the
    decisive matches behind the edge (more than one when a pair met more than once).

    Examples
    --------
    >>> g = results_graph(3, [Match(0, 1, "a", 1), Match(2, 1, "b", 1), Match(0, 2, "tie", 1)])
    >>> sorted(g.edges(data="wins"))
    [(0, 1, 1), (1, 2, 1)]
    """
    graph: nx.DiGraph[int] = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for m in matches:
        winner, loser = m.winner, m.loser
        if winner is None or loser is None:
            continue
        if graph.has_edge(winner, loser):
            graph[winner][loser]["wins"] += 1
        else:
            graph.add_edge(winner, loser, wins=1)
    return graph


def cyclic_triad_share(graph: nx.DiGraph[int]) -> float | None:
    """Share of 3-cycles among the triads whose three pairs each have one decisive edge.

    Counts triadic census types "030C" (cyclic: a > b > c > a) against "030T"
    (transitive). A pair with edges both ways (split results over repeated matches) or
    with no edge (tie, invalid, unplayed) takes its triads out of the count. ``None``
    when no triad qualifies.

    Notes
    -----
    Uses :func:`networkx.triadic_census`. Under a transitive judge the share is 0.0; a
    judge answering at random yields about 0.25.

    Examples
    --------
    >>> rock_paper_scissors = nx.DiGraph([(0, 1), (1, 2), (2, 0)])
    >>> cyclic_triad_share(rock_paper_scissors)
    1.0
    """
    census = nx.triadic_census(graph)
    cyclic, transitive = census["030C"], census["030T"]
    total = cyclic + transitive
    return cyclic / total if total else None

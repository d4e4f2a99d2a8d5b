"""Best-of-N selection strategies over an async comparator: pure algorithms, no I/O.

Strategies (``STRATEGIES`` maps the CLI names to them):

- ``sequential`` :func:`sequential_knockout`: n-1 comparisons in n-1 rounds, anytime.
- ``knockout`` :func:`bracket_knockout`: n-1 comparisons in ceil(log2 n) rounds.
- ``round-robin`` :func:`round_robin`: n(n-1)/2 comparisons in one round, full ranking.
- ``pointwise`` :func:`pointwise`: n scores in one round.
- ``vote`` :func:`vote`: n keys, plurality class.
"""

from collections.abc import Callable
from typing import Any

from tournaments.aggregate import (
    bradley_terry,
    copeland_scores,
    preference_matrix,
    ranking_from_scores,
    win_rates,
)
from tournaments.bracket import bracket_knockout
from tournaments.cycles import cyclic_triad_share, results_graph
from tournaments.match import (
    combine_orders,
    match_counts,
    play,
    play_round,
    seeded_order,
    winner_confidence,
)
from tournaments.pointwise import pointwise
from tournaments.round_robin import AGGREGATES, round_robin
from tournaments.selection import (
    OUTCOMES,
    TIE_RULES,
    Comparator,
    KeyFunction,
    Match,
    Outcome,
    Scorer,
    Selection,
    check_candidates,
    make_rng,
    outcome_of,
    probability_of,
    tie_priority,
    value_of,
)
from tournaments.sequential import sequential_knockout
from tournaments.vote import vote

__all__ = [
    "AGGREGATES",
    "OUTCOMES",
    "PAIRWISE",
    "STRATEGIES",
    "TIE_RULES",
    "Comparator",
    "KeyFunction",
    "Match",
    "Outcome",
    "Scorer",
    "Selection",
    "bracket_knockout",
    "bradley_terry",
    "check_candidates",
    "combine_orders",
    "copeland_scores",
    "cyclic_triad_share",
    "make_rng",
    "match_counts",
    "outcome_of",
    "play",
    "play_round",
    "pointwise",
    "preference_matrix",
    "probability_of",
    "ranking_from_scores",
    "results_graph",
    "round_robin",
    "seeded_order",
    "sequential_knockout",
    "tie_priority",
    "value_of",
    "vote",
    "win_rates",
    "winner_confidence",
]

#: CLI name -> strategy; every one is ``async (n, callable, *, seed, ...) -> Selection``.
STRATEGIES: dict[str, Callable[..., Any]] = {
    "sequential": sequential_knockout,
    "knockout": bracket_knockout,
    "round-robin": round_robin,
    "pointwise": pointwise,
    "vote": vote,
}

#: The strategies that take a pairwise comparator (and ``both_orders``).
PAIRWISE: frozenset[str] = frozenset({"sequential", "knockout", "round-robin"})

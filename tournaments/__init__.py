"""Best-of-N selection strategies over an async comparator: pure algorithms, no I/O."""

from tournaments.selection import (
    OUTCOMES,
    Comparator,
    KeyFunction,
    Match,
    Outcome,
    Scorer,
    Selection,
    make_rng,
    outcome_of,
    value_of,
)

__all__ = [
    "OUTCOMES",
    "Comparator",
    "KeyFunction",
    "Match",
    "Outcome",
    "Scorer",
    "Selection",
    "make_rng",
    "outcome_of",
    "value_of",
]

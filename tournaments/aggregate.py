"""Turning pairwise match results into per-candidate scores and a ranking.

All functions are pure and take ``n`` and any iterable of :class:`~tournaments.Match`
(from a round robin or any other strategy). Invalid matches never count; a tie is half
a win to each side. Bradley-Terry counts *soft* wins where the verdicts carry a
probability (:attr:`~tournaments.Match.probability`): p of a win to ``a`` and 1 - p to
``b``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tournaments.selection import Match

__all__ = [
    "bradley_terry",
    "copeland_scores",
    "preference_matrix",
    "ranking_from_scores",
    "win_rates",
]


def preference_matrix(n: int, matches: Iterable[Match], *, soft: bool = False) -> np.ndarray:
    """``W[i, j]``: wins of i over j, plus half of each tie between them.

    ``W + W.T`` counts the valid (non-invalid) matches of each pair. With ``soft``, a match
    whose verdicts carry a probability p that ``a`` is better adds p to ``W[a, b]`` and
    1 - p to ``W[b, a]`` instead.

    Examples
    --------
    >>> preference_matrix(2, [Match(0, 1, "a", 1), Match(1, 0, "tie", 1)]).tolist()
    [[0.0, 1.5], [0.5, 0.0]]
    """
    w = np.zeros((n, n))
    for m in matches:
        p = m.probability if soft else None
        if p is not None:
            w[m.a, m.b] += p
            w[m.b, m.a] += 1.0 - p
        elif m.outcome == "tie":
            w[m.a, m.b] += 0.5
            w[m.b, m.a] += 0.5
        elif m.winner is not None:
            w[m.winner, m.loser] += 1.0
    return w


def win_rates(n: int, matches: Iterable[Match]) -> list[float]:
    """(wins + 0.5 * ties) / valid matches per candidate; 0.0 without a valid match.

    Examples
    --------
    >>> win_rates(3, [Match(0, 1, "a", 1), Match(0, 2, "tie", 1), Match(1, 2, "invalid", 1)])
    [0.75, 0.0, 0.5]
    """
    w = preference_matrix(n, matches)
    played = (w + w.T).sum(axis=1)
    won = w.sum(axis=1)
    return [float(x) for x in np.divide(won, played, out=np.zeros(n), where=played > 0)]


def copeland_scores(n: int, matches: Iterable[Match]) -> list[float]:
    """Wins minus losses per candidate (ties and invalid matches count zero).

    Examples
    --------
    >>> copeland_scores(3, [Match(0, 1, "a", 1), Match(2, 0, "a", 1), Match(1, 2, "tie", 1)])
    [0.0, -1.0, 1.0]
    """
    w = preference_matrix(n, matches)
    return [float(x) for x in (w - w.T).sum(axis=1)]


def bradley_terry(
    n: int,
    matches: Iterable[Match],
    *,
    prior: float = 1.0,
    tol: float = 1e-9,
    max_iter: int = 10_000,
    soft: bool = True,
) -> list[float]:
    """Bradley-Terry log-strengths by maximum (penalised) likelihood, mean 0.

    Model: i beats j with probability ``p_i / (p_i + p_j)``. Each candidate also plays
    ``prior`` virtual games against a reference opponent of strength 1, half of them won;
    this symmetric pseudo-count keeps strengths finite when a candidate wins (or loses)
    everything, and pins candidates without matches at the reference. Returned values
    are ``log p_i`` shifted so that their mean is 0: higher is stronger, and the difference
    of two values is the log-odds that one beats the other.

    Parameters
    ----------
    n : number of candidates.
    matches : the matches to fit; invalid ones are skipped, ties are half a win each.
    prior : number of virtual games per candidate (must be positive).
    tol : stop when no log-strength moves by more than this in an iteration.
    max_iter : cap on the iterations.
    soft : count a match whose verdicts carry a probability p as p of a win for ``a``
        and 1 - p for ``b`` (:func:`preference_matrix`); matches without one count as
        usual.

    Notes
    -----
    Hunter's (2004) minorise-maximise iterations; each costs O(n**2), and the penalised
    likelihood is strictly concave in the log-strengths, so the fit is unique.

    Examples
    --------
    >>> scores = bradley_terry(3, [Match(0, 1, "a", 1), Match(1, 2, "a", 1), Match(0, 2, "a", 1)])
    >>> scores[0] > scores[1] > scores[2]
    True
    """
    if prior <= 0:
        raise ValueError(f"prior must be positive to keep strengths finite, got {prior}")
    w = preference_matrix(n, matches, soft=soft)
    games = w + w.T
    wins = w.sum(axis=1) + prior / 2
    p = np.ones(n)
    for _ in range(max_iter):
        denominator = (games / (p[:, None] + p[None, :])).sum(axis=1) + prior / (p + 1.0)
        updated = wins / denominator
        moved = np.max(np.abs(np.log(updated) - np.log(p)), initial=0.0)
        p = updated
        if moved < tol:
            break
    log_p = np.log(p)
    return [float(x) for x in log_p - log_p.mean()]


def ranking_from_scores(
    scores: Sequence[float | None], priority: Sequence[int] | None = None
) -> list[int]:
    """Indices by score, highest first; ``None`` last; equal scores by ``priority``.

    ``priority[i]`` is candidate i's place in the tie-break order (lower goes first); by
    default the index itself. See :func:`~tournaments.tie_priority`.

    Examples
    --------
    >>> ranking_from_scores([0.5, None, 0.9, 0.5])
    [2, 0, 3, 1]
    >>> ranking_from_scores([0.5, None, 0.9, 0.5], priority=[3, 2, 1, 0])
    [2, 3, 0, 1]
    """
    rank = priority if priority is not None else range(len(scores))
    return sorted(
        range(len(scores)), key=lambda i: (scores[i] is None, -(scores[i] or 0.0), rank[i])
    )

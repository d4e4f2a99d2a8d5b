"""Best-of-N accuracy against its baselines, from labels (reports only: judges never see them).

For one item with labels ``l_0 .. l_{N-1}`` (1 = correct) and a selected index ``s``:

- *selected*: ``l_s``;
- *first*: ``l_0``, the first response (the greedy one in JETTS files);
- *Random@N*: the mean label, the expected value of a random pick (not a single draw):
  pass@1 in the usual (Codex, evalplus) sense;
- *Oracle@N*: the best label (any correct response): pass@N;
- *gap closed*: ``(selected - random) / (oracle - random)`` over a set of items: the share of
  the distance from picking at random to picking perfectly that a selector covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Baselines", "baselines", "bootstrap_gap_interval", "bootstrap_interval", "gap_closed"]


@dataclass(frozen=True)
class Baselines:
    """Mean first, Random@N (pass@1) and Oracle@N over a set of items."""

    items: int
    first: float
    random_at_n: float
    oracle_at_n: float


def baselines(labels: Sequence[Sequence[float]]) -> Baselines:
    """The baselines of a set of items.

    Parameters
    ----------
    labels : each item's candidates' labels (1 = correct), the first one the greedy one.

    Returns
    -------
    Mean first, Random@N and Oracle@N (NaN for no items).

    Examples
    --------
    >>> baselines([[0, 1], [1, 1]])
    Baselines(items=2, first=0.5, random_at_n=0.75, oracle_at_n=1.0)
    """
    if not labels:
        return Baselines(0, float("nan"), float("nan"), float("nan"))
    return Baselines(
        items=len(labels),
        first=float(np.mean([ls[0] for ls in labels])),
        random_at_n=float(np.mean([np.mean(ls) for ls in labels])),
        oracle_at_n=float(np.mean([max(ls) for ls in labels])),
    )


def gap_closed(selected: float, base: Baselines) -> float | None:
    """Share of the Random-to-Oracle gap that an accuracy of ``selected`` closes.

    Parameters
    ----------
    selected : a selector's accuracy.
    base : the baselines of the same items.

    Returns
    -------
    ``(selected - random) / (oracle - random)``; None when there is no gap.

    Examples
    --------
    >>> gap_closed(0.875, baselines([[0, 1], [1, 1]]))
    0.5
    """
    gap = base.oracle_at_n - base.random_at_n
    return None if gap <= 0 else (selected - base.random_at_n) / gap


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (items resampled).

    Parameters
    ----------
    values : one value per item.
    resamples : bootstrap resamples.
    seed : seeds the resampling.
    level : the interval's coverage.

    Returns
    -------
    The interval's ends (NaN for no values).
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2
    return (float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))


def bootstrap_gap_interval(
    selected: Sequence[float],
    random: Sequence[float],
    oracle: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the gap closed (items resampled, all three together).

    Parameters
    ----------
    selected, random, oracle : per item, the selected label, the mean label and the best
        label.
    resamples, seed, level : as :func:`bootstrap_interval`.

    Returns
    -------
    The interval's ends; None when every resample (or the data itself) has no gap.

    Notes
    -----
    Resamples whose Oracle-to-Random gap is zero leave the ratio undefined and are
    dropped.
    """
    data = np.asarray([selected, random, oracle], dtype=float)
    if data.shape[1] == 0 or data[2].mean() - data[1].mean() <= 0:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.shape[1], size=(resamples, data.shape[1]))
    sel, rnd, orc = (data[i][picks].mean(axis=1) for i in range(3))
    gap = orc - rnd
    ratios = (sel - rnd)[gap > 0] / gap[gap > 0]
    if ratios.size == 0:
        return None
    tail = (1 - level) / 2
    return (float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail)))

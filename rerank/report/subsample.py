"""Accuracy against k: every selector, Oracle@k and majority@k on k of an item's N candidates.

For each k of the grid below N (:func:`k_grid`), an item's subsets of k candidates are
drawn (:func:`subsets`: all of them when there are at most ``subsamples``, else that many,
seeded by the run seed, the item and k); on each subset, taken as an item of its own
(:func:`sub_item`), every selector picks, and its curve at k is the mean label of the picks.
Oracle@k is the best label of each subset and majority@k the vote (``-s vote``) among the
subset. pass@k needs no subsets: :func:`pass_at_k` is exact.

Cost: no verifier runs again. The evidence of every candidate is computed once, on all N
(the evidence judge's cache); on a subset the consensus (cluster sizes and weights) is
recomputed among its k candidates from that evidence (:class:`SubsetEvidence`), so the
strategies and the vote see what they would see had only those k been sampled. Judges
that ask a model are not run on subsets (each would cost calls): their sequential
knockout's checkpoints (the incumbent after the first k of a seeded order, itself a random
subset) give their curve instead (:mod:`rerank.report.metrics`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import combinations
from math import comb

import numpy as np

from rerank.items import Item
from rerank.judges import EvidenceJudge, Judge
from rerank.judges.evidence import Standing, standings
from rerank.report.types import ItemRecord, ReportConfig
from rerank.selector import StrategyConfig, item_seed, select_item

__all__ = [
    "MAJORITY",
    "ORACLE",
    "SubsetEvidence",
    "k_grid",
    "pass_at_k",
    "record_curves",
    "sub_item",
    "subsets",
]

#: Curve names in :attr:`ItemRecord.at_k` besides the selectors'.
ORACLE, MAJORITY = "Oracle@k", "majority@k"
#: A selector run on subsets: its name in the report, its strategy, its judge.
SubsampledRun = tuple[str, StrategyConfig, Judge | None]


def k_grid(n: int, checkpoints: Iterable[int]) -> list[int]:
    """The k of accuracy against k: the checkpoints below ``n``, and ``n``.

    >>> k_grid(6, (1, 2, 4, 8)), k_grid(8, (1, 2, 4, 8))
    ([1, 2, 4, 6], [1, 2, 4, 8])
    """
    return sorted({k for k in checkpoints if 1 <= k < n} | {n})


def pass_at_k(labels: Sequence[float], k: int) -> float:
    """The expected best label of ``k`` candidates drawn without replacement from ``labels``.

    Parameters
    ----------
    labels : an item's candidates' labels (1 = correct).
    k : candidates drawn (``k >= len(labels)``: the best label).

    Returns
    -------
    For 0/1 labels with ``c`` correct of ``n``, Chen et al.'s (2021) unbiased pass@k
    estimator ``1 - C(n - c, k) / C(n, k)``; for graded labels the same expectation.

    Notes
    -----
    The i-th smallest label (1-based) is the best of ``C(i - 1, k - 1)`` of the ``C(n, k)``
    subsets. The weights are computed as ratios (``k / n`` for the largest, then times
    ``(i - k) / (i - 1)`` downwards), so that no binomial coefficient overflows a float.

    Examples
    --------
    >>> pass_at_k([0, 1, 0, 0], 1), pass_at_k([0, 1, 0, 0], 2), pass_at_k([0, 1, 0, 0], 4)
    (0.25, 0.5, 1.0)
    """
    n = len(labels)
    if n == 0:
        raise ValueError("pass@k of an item without candidates")
    k = min(max(k, 1), n)
    ordered = sorted(labels, reverse=True)
    total, weight = 0.0, k / n
    for rank, label in zip(range(n, 0, -1), ordered, strict=True):
        total += weight * label
        if rank <= k:
            break
        weight *= (rank - k) / (rank - 1)
    return total


def subsets(n: int, k: int, count: int, seed: int) -> list[tuple[int, ...]]:
    """The subsets of ``k`` of ``n`` candidates an item is scored on at k.

    Parameters
    ----------
    n, k : candidates, and how many in a subset.
    count : the most subsets to draw.
    seed : seeds the draw.

    Returns
    -------
    Every subset when there are at most ``count`` (the exact mean); else ``count`` drawn
    uniformly (with replacement between draws), each in index order.

    Examples
    --------
    >>> subsets(4, 3, 20, seed=0)
    [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    >>> len(subsets(8, 4, 20, seed=0)), subsets(8, 4, 20, seed=0) == subsets(8, 4, 20, seed=0)
    (20, True)
    """
    if comb(n, k) <= count:
        return list(combinations(range(n), k))
    rng = random.Random(seed)
    return [tuple(sorted(rng.sample(range(n), k))) for _ in range(count)]


def sub_item(item: Item, subset: Sequence[int], id: str) -> Item:
    """``item`` with only the candidates ``subset`` (and their labels), under ``id``."""
    labels = item.labels
    if labels is not None:
        labels = replace(
            labels,
            scores=tuple(labels.scores[i] for i in subset) if labels.scores else (),
            candidates=tuple(labels.candidates[i] for i in subset) if labels.candidates else (),
        )
    candidates = tuple(item.candidates[i] for i in subset)
    return replace(item, id=id, candidates=candidates, labels=labels)


class SubsetEvidence(EvidenceJudge):
    """The evidence judge on subsets of an item's candidates, from the evidence already
    computed for all of them: consensus recomputed among the subset, no verifier run.

    Parameters
    ----------
    kind : the item's task kind.
    parent : every candidate's standing on the whole item (:meth:`EvidenceJudge.assess`).

    Notes
    -----
    One instance serves one item's subsets in turn (:meth:`use`): made once per item, not
    once per subset, as its construction costs more than a subset's comparisons.
    """

    def __init__(self, kind: str, parent: Sequence[Standing]) -> None:
        super().__init__(verifiers={})
        self.kind, self.parent = kind, list(parent)
        self._found: tuple[str, list[Standing]] = (kind, self.parent)

    def use(self, subset: Sequence[int]) -> SubsetEvidence:
        """Judge the subset ``subset`` (candidate indices of the whole item) from now on."""
        found = [self.parent[i].evidence for i in subset]
        known = iter(standings([e for e in found if e is not None]))
        none = Standing(1, None, None, 0, None)
        self._found = (self.kind, [none if e is None else next(known) for e in found])
        return self

    async def assess(self, item: Item) -> tuple[str, list[Standing]]:
        if item.n != len(self._found[1]):
            raise ValueError(f"a subset of {len(self._found[1])} candidates, not {item.n}")
        return self._found


async def record_curves(
    record: ItemRecord,
    item: Item,
    runs: Sequence[SubsampledRun],
    evidence: EvidenceJudge,
    config: ReportConfig,
) -> None:
    """Fill ``record.at_k`` with Oracle@k, majority@k and each of ``runs`` at every k of the
    grid below the item's N.

    Parameters
    ----------
    record : the item's record (labels, rows at N).
    item : the item, labels included.
    runs : the selectors to run on subsets.
    evidence : the evidence judge of the majority vote (its standings of the whole item
        are read from its cache).
    config : the k grid (``checkpoints``), ``subsamples`` and ``seed``.
    """
    public = item.public()
    shared = SubsetEvidence(*await evidence.assess(public))
    own: dict[int, SubsetEvidence] = {}
    for _, _, judge in runs:
        if isinstance(judge, EvidenceJudge) and judge is not evidence:
            own[id(judge)] = SubsetEvidence(*await judge.assess(public))
    picks: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    vote = StrategyConfig(name="vote", seed=config.seed)
    for k in k_grid(item.n, config.checkpoints)[:-1]:
        seed = item_seed(config.seed, item) ^ k
        for number, subset in enumerate(subsets(item.n, k, config.subsamples, seed)):
            sub = sub_item(item, subset, f"{item.id}@{k}#{number}")
            labels = [record.labels[i] for i in subset]
            shared.use(subset)
            for judge in own.values():
                judge.use(subset)
            picks[ORACLE][k].append(max(labels))
            voted = await select_item(sub, vote, None, evidence=shared, explain=False)
            picks[MAJORITY][k].append(labels[voted.selection.winner])
            for name, strategy, judge in runs:
                if strategy.name == "vote":  # the same vote, seed and evidence: no rerun
                    picks[name][k].append(labels[voted.selection.winner])
                    continue
                if judge is evidence:
                    judge = shared
                elif isinstance(judge, EvidenceJudge):
                    judge = own[id(judge)]
                result = await select_item(sub, strategy, judge, evidence=shared, explain=False)
                picks[name][k].append(labels[result.selection.winner])
    for name in (ORACLE, MAJORITY, *(name for name, _, _ in runs)):
        record.at_k[name] = {k: float(np.mean(v)) for k, v in picks[name].items()}

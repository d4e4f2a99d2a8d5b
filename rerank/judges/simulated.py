"""A judge that reads the labels and errs on purpose: for planning and testing strategies.

``simulated:0.8`` prefers the better-labelled candidate with probability 0.8 and the worse
one otherwise. It is the only judge that reads labels, so every output it takes part in
says ``labels_used: true``; its accuracy is a property of the simulation, not of any model.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge
from rerank.judges.options import PROBABILITY, JudgeOptions, Number, option

__all__ = ["SimulatedJudge", "SimulatedOptions"]


@dataclass(frozen=True)
class SimulatedOptions(JudgeOptions):
    """The options of :class:`SimulatedJudge` (``simulated:ACCURACY,seed=S,position_bias=P``).

    Parameters
    ----------
    accuracy : probability of preferring the better-labelled candidate, in [0, 1].
    seed : seeds the errors (per item and pair).
    position_bias : probability of answering "a" whatever the labels say, in [0, 1].
    """

    positional = ("accuracy",)

    accuracy: float = option(1.0, PROBABILITY)
    seed: int = option(0, Number(int))
    position_bias: float = option(0.0, PROBABILITY)


@register_judge("simulated")
class SimulatedJudge(BaseJudge):
    """Right with probability ``accuracy`` (seeded, per item and pair); equal labels tie.

    ``position_bias`` is the probability of answering "a" whatever the labels say, which
    imitates a judge that favours the first position (before accuracy applies). The
    arguments are those of :class:`SimulatedOptions`, as values or as a spec's strings;
    ``options`` gives them all at once. Its verdicts have no ``via``.
    """

    Options = SimulatedOptions
    reads_labels = True
    options: SimulatedOptions

    def __init__(self, *args: Any, options: SimulatedOptions | None = None, **values: Any) -> None:
        self.use_options(SimulatedOptions.build(options, args, values, judge=self.name))

    def _rng(self, item: Item, *key: int) -> random.Random:
        # One stream per (seed, item, question): results never depend on call order.
        text = f"{self.options.seed}|{item.id}|{'|'.join(map(str, key))}"
        return random.Random(hashlib.blake2b(text.encode(), digest_size=8).digest())

    def _labels(self, item: Item, *indices: int) -> list[float | None]:
        scores = item.labels.scores if item.labels is not None else ()
        return [scores[i] if i < len(scores) else None for i in indices]

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        la, lb = self._labels(item, a, b)
        if la is None or lb is None:
            missing = a if la is None else b
            return Verdict("invalid", reason=f"no label for candidate {missing}", judge=self.name)
        rng = self._rng(item, a, b)
        if rng.random() < self.options.position_bias:
            return Verdict("a", reason="simulated position bias", judge=self.name)
        if la == lb:
            return Verdict("tie", reason=f"equal labels ({la:g})", judge=self.name)
        better, worse = ("a", "b") if la > lb else ("b", "a")
        right = rng.random() < self.options.accuracy
        reason = f"labels {la:g} vs {lb:g}; simulated {'correct' if right else 'error'}"
        return Verdict(better if right else worse, reason=reason, judge=self.name)

    async def score(self, item: Item, index: int) -> Score:
        (label,) = self._labels(item, index)
        if label is None:
            return Score(None, reason=f"no label for candidate {index}", judge=self.name)
        rng = self._rng(item, index)
        if rng.random() < self.options.accuracy:
            return Score(label, reason="label", judge=self.name)
        return Score(rng.random(), reason="simulated error: a random score", judge=self.name)

"""A judge that reads the labels and errs on purpose: for planning and testing strategies.

``simulated:0.8`` prefers the better-labelled candidate with probability 0.8 and the worse
one otherwise. It is the only judge that reads labels, so every output it takes part in
says ``labels_used: true``; its accuracy is a property of the simulation, not of any model.
"""

from __future__ import annotations

import hashlib
import random

from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge

__all__ = ["SimulatedJudge"]


@register_judge("simulated")
class SimulatedJudge(BaseJudge):
    """Right with probability ``accuracy`` (seeded, per item and pair); equal labels tie.

    ``position_bias`` is the probability of answering "a" whatever the labels say, which
    imitates a judge that favours the first position (before accuracy applies).
    """

    reads_labels = True

    def __init__(
        self, accuracy: float | str = 1.0, *, seed: int | str = 0, position_bias: float | str = 0.0
    ) -> None:
        self.accuracy = float(accuracy)
        self.seed = int(seed)
        self.position_bias = float(position_bias)
        for label, value in (("accuracy", self.accuracy), ("position_bias", self.position_bias)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be within [0, 1], got {value}")
        self.spec = f"simulated:{self.accuracy:g}"

    def _rng(self, item: Item, *key: int) -> random.Random:
        # One stream per (seed, item, question): results never depend on call order.
        text = f"{self.seed}|{item.id}|{'|'.join(map(str, key))}"
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
        if rng.random() < self.position_bias:
            return Verdict("a", reason="simulated position bias", judge=self.name)
        if la == lb:
            return Verdict("tie", reason=f"equal labels ({la:g})", judge=self.name)
        better, worse = ("a", "b") if la > lb else ("b", "a")
        right = rng.random() < self.accuracy
        reason = f"labels {la:g} vs {lb:g}; simulated {'correct' if right else 'error'}"
        return Verdict(better if right else worse, reason=reason, judge=self.name)

    async def score(self, item: Item, index: int) -> Score:
        (label,) = self._labels(item, index)
        if label is None:
            return Score(None, reason=f"no label for candidate {index}", judge=self.name)
        rng = self._rng(item, index)
        if rng.random() < self.accuracy:
            return Score(label, reason="label", judge=self.name)
        return Score(rng.random(), reason="simulated error: a random score", judge=self.name)

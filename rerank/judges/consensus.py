"""A label-free judge from agreement alone: the answer more candidates reached wins.

Each candidate's vote (:func:`rerank.answers.vote_keys`: its normalised final answer) is
computed once per item; a candidate's *support* is the number of candidates sharing its
answer, 0 when it states none, or only a weak one (a last number) that no candidate states
explicitly: responses without answers never agree with each other, and stray numbers never
make a consensus. ``compare`` prefers more support and calls equal support a tie (which a
strategy breaks by its seeded order); ``score`` is support divided by the number of
candidates. Paired with a pairwise strategy this reproduces majority voting.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rerank.answers import vote_keys
from rerank.items import Candidate, Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge
from rerank.judges.options import JudgeOptions
from rerank.memo import LRU

__all__ = ["ConsensusJudge", "ConsensusOptions", "support"]


def support(item: Item) -> list[int]:
    """For each candidate, how many candidates (itself included) share its final answer."""
    keys = vote_keys(c.text for c in item.candidates)
    counts = Counter(k for k in keys if k is not None)
    return [counts[k] if k is not None else 0 for k in keys]


@dataclass(frozen=True)
class ConsensusOptions(JudgeOptions):
    """The consensus judge has no options (``consensus``)."""


@register_judge("consensus")
class ConsensusJudge(BaseJudge):
    """More agreement wins; equal agreement ties. Reads no labels, calls no LLM; its
    verdicts have no ``via``."""

    Options = ConsensusOptions
    options: ConsensusOptions
    #: Items whose answers stay cached; enough for every item a run has in flight.
    cache_size = 4096

    def __init__(self, *, options: ConsensusOptions | None = None) -> None:
        self.use_options(options if options is not None else ConsensusOptions())
        self._support: LRU[tuple[Candidate, ...], list[int]] = LRU(self.cache_size)

    def _support_of(self, item: Item) -> list[int]:
        # By content: ids repeat across files and Python calls.
        return self._support.get_or_compute(item.candidates, lambda: support(item))

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        sup = self._support_of(item)
        reason = f"support {sup[a]} vs {sup[b]} of {item.n}"
        if sup[a] == sup[b]:
            return Verdict("tie", reason=reason, judge=self.name)
        return Verdict("a" if sup[a] > sup[b] else "b", reason=reason, judge=self.name)

    async def score(self, item: Item, index: int) -> Score:
        sup = self._support_of(item)
        return Score(
            sup[index] / item.n, reason=f"support {sup[index]} of {item.n}", judge=self.name
        )

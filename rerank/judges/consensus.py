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

from collections import Counter, OrderedDict

from rerank.answers import vote_keys
from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge

__all__ = ["ConsensusJudge", "support"]


def support(item: Item) -> list[int]:
    """For each candidate, how many candidates (itself included) share its final answer."""
    keys = vote_keys(c.text for c in item.candidates)
    counts = Counter(k for k in keys if k is not None)
    return [counts[k] if k is not None else 0 for k in keys]


@register_judge("consensus")
class ConsensusJudge(BaseJudge):
    """More agreement wins; equal agreement ties. Reads no labels, calls no LLM."""

    #: Items whose answers stay cached; enough for every item a run has in flight.
    cache_size = 4096

    def __init__(self) -> None:
        self.spec = "consensus"
        self._support: OrderedDict[tuple, list[int]] = OrderedDict()

    def _support_of(self, item: Item) -> list[int]:
        key = item.candidates  # by content: ids repeat across files and Python calls
        if key in self._support:
            self._support.move_to_end(key)
        else:
            self._support[key] = support(item)
            if len(self._support) > self.cache_size:
                self._support.popitem(last=False)
        return self._support[key]

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

"""Cluster deduplication for the LLM judge: equivalent candidates are compared once.

Two candidates of an item are *equivalent* when the math verifier gives them the same
signature (the same final answer) and they have the same hard checks, or otherwise when
their texts are the same after stripping and collapsing whitespace (code behaviour clusters
are too coarse to stand in for a comparison: see :data:`SIGNATURE_VERIFIERS`). Each
candidate stands for its cluster through the lowest index in it, its *representative*.

:class:`ClusterDedup` answers a comparison of ``a`` and ``b`` that evidence did not decide:

- same cluster: an explicit tie, with no request;
- otherwise: the judge's verdict on the representatives ``(rep(a), rep(b))`` in the same
  display order, asked once per item and cluster pair. Concurrent comparisons of the same
  cluster pair wait for one request; later ones reuse its verdict at no cost.

Verdicts reached this way without a request are named ``<judge>:dedup`` (as a cached verdict
is named ``<judge>:cached``); the run counts them as ``deduplicated``. The question asked for
``(rep(a), rep(b))`` carries its cost as usual; a verdict handed to another pair than the
representatives says so at the end of its reason. An invalid verdict is handed to the
comparisons already waiting for it, but is not kept: a later comparison asks again.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

from rerank.items import Item
from rerank.judges.base import Cost, Verdict
from rerank.judges.evidence import Standing, _item_key

if TYPE_CHECKING:
    from rerank.judges.llm.judge import LLMJudge, _Ready

__all__ = ["DEDUP_SUFFIX", "ClusterDedup", "cluster_keys", "representatives"]

#: Ends the ``judge`` name of a verdict that dedup reached without a request.
DEDUP_SUFFIX = ":dedup"
# Set inside the judge's own comparison of two representatives, so that it is not
# deduplicated again (it would wait for itself).
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("rerank_dedup", default=False)


def _normalized(text: str) -> str:
    return " ".join(text.split())


#: Verifiers whose signatures make candidates equivalent for deduplication. Math only: a
#: final answer decides a math solution's correctness, while code behaviour clusters come
#: from the few probe inputs a prompt gives, and on HumanEval+ 18% of same-cluster pairs
#: mixed a correct and a wrong program (benchmarks/judge_calls.py: deduplicating them cost
#: knockout 0.10 accuracy). Code candidates are deduplicated by identical text only.
SIGNATURE_VERIFIERS = ("math",)


def cluster_keys(texts: list[str], standings: list[Standing]) -> list[tuple]:
    """Each candidate's equivalence key: a math signature and the hard checks, else the
    normalised text.

    The hard checks are part of the key so that a cluster never spans a pair that hard
    evidence decides (the short-circuit sees the same evidence for every member).
    """
    keys: list[tuple] = []
    for text, standing in zip(texts, standings, strict=True):
        evidence = standing.evidence
        if (
            evidence is not None
            and evidence.signature is not None
            and evidence.verifier in SIGNATURE_VERIFIERS
        ):
            hard = tuple((c.id, c.status) for c in evidence.checks if c.hard)
            keys.append(("signature", evidence.signature, hard))
        else:
            keys.append(("text", _normalized(text)))
    return keys


def representatives(texts: list[str], standings: list[Standing]) -> list[int]:
    """The representative (lowest index of its cluster) of every candidate.

    >>> from rerank.judges.evidence import Standing
    >>> none = Standing(1, None, None, 0, None)
    >>> representatives(["x", " x\\n", "y", "x  "], [none] * 4)
    [0, 0, 2, 0]
    """
    first: dict[tuple, int] = {}
    return [first.setdefault(key, i) for i, key in enumerate(cluster_keys(texts, standings))]


def _forget_failed(
    pairs: dict[tuple[int, int], asyncio.Future[Verdict]],
    key: tuple[int, int],
    done: asyncio.Future[Verdict],
) -> None:
    """Drop a question that failed or gave an invalid verdict: a later comparison asks again."""
    failed = done.cancelled() or done.exception() is not None  # retrieves the exception
    if (failed or done.result().winner == "invalid") and pairs.get(key) is done:
        del pairs[key]


class ClusterDedup:
    """One judge's per-item memo of verdicts between cluster representatives."""

    #: Items whose verdicts stay in memory (as many as the evidence judge keeps).
    cache_size = 4096

    def __init__(self, judge: LLMJudge) -> None:
        self.judge = judge
        self._memo: OrderedDict[str, dict[tuple[int, int], asyncio.Future[Verdict]]] = OrderedDict()

    @staticmethod
    def active() -> bool:
        """Whether this comparison is deduplication's own question (not to be deduplicated)."""
        return _INSIDE.get()

    async def compare(self, item: Item, ready: _Ready, a: int, b: int) -> Verdict:
        """``a`` against ``b`` through their representatives; see the module docstring."""
        texts = [c.text for c in ready.view.candidates]
        reps = representatives(texts, ready.standings)
        ra, rb = reps[a], reps[b]
        if ra == rb:
            return self._tie(ready, a, b, ra)
        pairs = self._pairs(ready.view)
        future = pairs.get((ra, rb))
        reused = future is not None
        if future is None:
            token = _INSIDE.set(True)
            try:  # a task, so a cancelled first caller does not cancel those waiting with it
                future = asyncio.ensure_future(self.judge.compare(item, ra, rb))
            finally:
                _INSIDE.reset(token)
            pairs[(ra, rb)] = future
            future.add_done_callback(lambda done: _forget_failed(pairs, (ra, rb), done))
        verdict = await asyncio.shield(future)
        if (a, b) != (ra, rb):
            note = f"[asked as representatives {ra} and {rb}]"
            verdict = replace(verdict, reason=f"{verdict.reason} {note}".strip())
        if reused:
            verdict = replace(verdict, cost=Cost(), judge=verdict.judge + DEDUP_SUFFIX)
        return verdict

    def _pairs(self, view: Item) -> dict[tuple[int, int], asyncio.Future[Verdict]]:
        key = _item_key(view)
        pairs = self._memo.get(key)
        if pairs is None:
            pairs = self._memo[key] = {}
            while len(self._memo) > self.cache_size:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        return pairs

    def _tie(self, ready: _Ready, a: int, b: int, rep: int) -> Verdict:
        evidence = ready.standings[a].evidence
        if (
            evidence is not None
            and evidence.signature is not None
            and evidence.verifier in SIGNATURE_VERIFIERS
        ):
            same = "final answer"
        else:
            same = "text (up to whitespace)"
        return Verdict(
            "tie",
            reason=f"equivalent: same {same}; {a} and {b} are one cluster (candidate {rep}), "
            "compared once, no LLM call",
            judge=f"{self.judge.name}:{ready.skill.name}{DEDUP_SUFFIX}",
        )

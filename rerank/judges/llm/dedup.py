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

Verdicts reached this way without a request say ``via="dedup"`` (as a cached verdict says
``via="cache"``); the run counts them as ``deduplicated``. The question asked for
``(rep(a), rep(b))`` carries its cost as usual; a verdict handed to another pair than the
representatives says so at the end of its reason. An invalid verdict is handed to the
comparisons already waiting for it, but is not kept: a later comparison asks again.

The judge hands :class:`ClusterDedup` its own question without deduplication (``ask``), so
the representatives' question never comes back here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from rerank.judges.base import Cost, Verdict
from rerank.judges.evidence import Standing, item_key
from rerank.judges.llm.question import Prepared
from rerank.memo import LRU, SingleFlight

__all__ = ["SIGNATURE_VERIFIERS", "Ask", "ClusterDedup", "cluster_keys", "representatives"]

#: The judge's question on a pair, without deduplication: ``await ask(prepared, a, b)``.
Ask = Callable[[Prepared, int, int], Awaitable[Verdict]]
#: Cluster pairs remembered per item: more than any item has.
_PAIRS_PER_ITEM = 1 << 16


def _normalized(text: str) -> str:
    return " ".join(text.split())


#: Verifiers whose signatures make candidates equivalent for deduplication. Math only: a
#: final answer decides a math solution's correctness, while code behaviour clusters come
#: from the few probe inputs a prompt gives, and too often mix a correct and a wrong program
#: (docs/benchmarks.md, "Judge calls per item (benchmark 2)", has the measurement). Code
#: candidates are deduplicated by identical text only.
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


class _Invalid(Exception):
    """An invalid verdict, raised out of the memo so that it is not remembered (the memo's
    rule: a failure is never remembered) and handed to the comparisons that waited for it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


class ClusterDedup:
    """One judge's per-item memo of verdicts between cluster representatives.

    Parameters
    ----------
    ask : the judge's question on a pair without deduplication (:data:`Ask`).
    judge : the judge's name, for the ties within a cluster (``llm``, ``local``).
    """

    #: Items whose verdicts stay in memory (as many as the evidence judge keeps).
    cache_size = 4096

    def __init__(self, ask: Ask, *, judge: str) -> None:
        self.ask = ask
        self.judge = judge
        self._items: LRU[str, SingleFlight[tuple[int, int], Verdict]] = LRU(self.cache_size)

    async def compare(self, prepared: Prepared, a: int, b: int) -> Verdict:
        """``a`` against ``b`` through their representatives; see the module docstring."""
        texts = [c.text for c in prepared.view.candidates]
        reps = representatives(texts, prepared.standings)
        ra, rb = reps[a], reps[b]
        if ra == rb:
            return self._tie(prepared, a, b, ra)
        pairs = self._items.get_or_compute(
            item_key(prepared.view), lambda: SingleFlight(_PAIRS_PER_ITEM)
        )
        asked = False

        async def ask() -> Verdict:
            nonlocal asked
            asked = True  # runs only for the comparison that starts the question
            verdict = await self.ask(prepared, ra, rb)
            if verdict.winner == "invalid":
                raise _Invalid(verdict)
            return verdict

        try:
            verdict, _ = await pairs.get((ra, rb), ask)
        except _Invalid as invalid:
            verdict = invalid.verdict
        if (a, b) != (ra, rb):
            note = f"[asked as representatives {ra} and {rb}]"
            verdict = replace(verdict, reason=f"{verdict.reason} {note}".strip())
        if not asked:
            verdict = replace(verdict, cost=Cost(), via="dedup")
        return verdict

    def _tie(self, prepared: Prepared, a: int, b: int, rep: int) -> Verdict:
        evidence = prepared.standings[a].evidence
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
            judge=f"{self.judge}:{prepared.skill.name}",
            via="dedup",
        )

"""The evidence judge: decides from verifier evidence alone, with no LLM.

For each item the verifier of its task kind (code, instruction, math) runs once over all
candidates; the result is cached by content (prompt, visible resources, candidate texts),
so the many comparisons of a tournament read it instead of recomputing it. A candidate's
standing is, in this order of precedence:

1. *tier*: every hard check passed (2) beats no hard evidence (1) beats a failed hard check (0);
2. *hard credit*: the share of its hard checks passed (a partial pass beats a total fail);
3. *soft credit*: the share of its soft checks passed (extracted constraints, steps);
4. *consensus*: the weight of its behaviour cluster, the candidates sharing its signature
   (same answer, same behaviour), weighted as CodeT does: cluster size times the hard
   checks its members pass (plus one, so a cluster with no checks counts its size).

``compare`` prefers the better standing and cites the checks that separate the two; when
nothing separates them the verdict is an explicit tie that says why. On general items no
verifier applies, and every verdict is a tie that says there is no evidence.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rerank.evidence import Evidence, Verifier
from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge
from rerank.judges.options import TEXT, JudgeOptions, option
from rerank.memo import SingleFlight
from rerank.sandbox.runner import SandboxError
from rerank.verifiers.router import detect_kind

__all__ = [
    "EvidenceJudge",
    "EvidenceOptions",
    "Standing",
    "default_verifiers",
    "item_key",
    "standings",
]


def default_verifiers(exec_python: str | None = None) -> dict[str, Verifier]:
    """The verifier of each task kind (imported here: they pull in heavier libraries).

    Parameters
    ----------
    exec_python : the interpreter code candidates run on (an execution environment's);
        ``None``: the sandbox's own.

    Returns
    -------
    dict of the verifier by task kind: ``code``, ``instruction``, ``math``.
    """
    from rerank.verifiers.code.probes import MUTATIONS
    from rerank.verifiers.code.verifier import CodeVerifier
    from rerank.verifiers.instructions.verifier import InstructionVerifier
    from rerank.verifiers.math.verifier import MathVerifier

    return {
        "code": CodeVerifier(mutations=MUTATIONS, python=exec_python),
        "instruction": InstructionVerifier(),
        "math": MathVerifier(),
    }


@dataclass(frozen=True)
class Standing:
    """What the evidence says of one candidate, in comparable form."""

    tier: int
    hard: float | None
    soft: float | None
    consensus: int  # how many candidates share its signature, itself included
    evidence: Evidence | None
    weight: int | None = None  # its cluster's CodeT weight (default: ``consensus``)

    def key(self) -> tuple[float, float, float, int]:
        # A missing share counts as neutral (0.5): no checks is neither credit nor blame.
        hard = 0.5 if self.hard is None else self.hard
        soft = 0.5 if self.soft is None else self.soft
        return (self.tier, hard, soft, self.consensus if self.weight is None else self.weight)

    def describe(self) -> str:
        if self.evidence is None:
            return "no evidence"
        parts = []
        for label, hard in (("hard", True), ("soft", False)):
            checks = [c for c in self.evidence.checks if c.hard == hard]
            if checks:
                parts.append(f"{sum(c.passed for c in checks)}/{len(checks)} {label} checks pass")
        if self.evidence.signature is not None:
            parts.append(f"shared by {self.consensus} (cluster weight {self.key()[3]})")
        return ", ".join(parts) or "no checks"


def _share(evidence: Evidence, hard: bool) -> float | None:
    decided = [c for c in evidence.checks if c.hard == hard and c.status != "unknown"]
    return sum(c.passed for c in decided) / len(decided) if decided else None


def standings(evidence: Sequence[Evidence]) -> list[Standing]:
    """Each candidate's standing, given the evidence for all candidates of an item.

    Parameters
    ----------
    evidence : one :class:`~rerank.evidence.Evidence` per candidate, in order.

    Returns
    -------
    list of :class:`Standing`, one per candidate.

    Notes
    -----
    A behaviour cluster (the candidates with one signature) weighs, as in CodeT's dual
    agreement, its size times the tests it passes: here the sum over its members of one
    plus the hard checks they pass. Of two clusters of equal size the one passing more
    tests weighs more; with no hard checks the weight is the size. Candidates without a
    signature are in no cluster (size and weight 0).
    """
    counts = Counter(e.signature for e in evidence if e.signature is not None)
    weights: Counter[str] = Counter()
    for e in evidence:
        if e.signature is not None:
            weights[e.signature] += 1 + sum(c.passed for c in e.checks if c.hard)
    result = []
    for e in evidence:
        hard = [c for c in e.checks if c.hard and c.status != "unknown"]
        if any(c.failed for c in hard):
            tier = 0
        elif hard:
            tier = 2
        else:
            tier = 1
        consensus = counts[e.signature] if e.signature is not None else 0
        weight = weights[e.signature] if e.signature is not None else 0
        result.append(Standing(tier, _share(e, True), _share(e, False), consensus, e, weight))
    return result


def _separating_checks(better: Evidence | None, worse: Evidence | None) -> list[str]:
    """Ids of the checks that tell the two apart: passed by one, failed by the other."""
    if better is None or worse is None:
        return []
    won = {c.id for c in better.checks if c.passed}
    lost = {c.id for c in worse.checks if c.failed}
    shared = sorted(won & lost)
    return shared or sorted(c.id for c in worse.checks if c.failed)[:5]


def item_key(item: Item) -> str:
    """A digest of what the evidence of ``item`` depends on: prompt, task kind, visible
    resources and candidate texts (not its id, which repeats across files)."""
    payload = json.dumps(
        [item.prompt, item.task.kind, item.task.resources, [c.text for c in item.candidates]],
        sort_keys=True,
        default=repr,
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class EvidenceOptions(JudgeOptions):
    """The options of :class:`EvidenceJudge`.

    Parameters
    ----------
    exec_python : the interpreter code candidates run on (an execution environment's);
        ``None``: the sandbox's own. Where to run, not what to decide: a spec does not
        record it unless it names it.
    """

    exec_python: str | None = option(None, TEXT, recorded=False)


@register_judge("evidence")
class EvidenceJudge(BaseJudge):
    """Verifier evidence decides; equal evidence is a tie with its reason. No LLM, no labels.

    Parameters
    ----------
    verifiers : the verifier of each task kind (default: :func:`default_verifiers`, made on
        first use).
    exec_python : see :class:`EvidenceOptions`.
    options : all options at once (``exec_python`` then applies on top).

    Its verdicts have no ``via``; :meth:`hard_verdict`, the short-circuit of model judges,
    says ``via="evidence"``.
    """

    Options = EvidenceOptions
    options: EvidenceOptions
    #: Items whose standings stay cached (enough for every item a run has in flight).
    cache_size = 4096

    def __init__(
        self,
        verifiers: dict[str, Verifier] | None = None,
        *,
        exec_python: str | None = None,
        options: EvidenceOptions | None = None,
    ) -> None:
        given = {"exec_python": exec_python} if exec_python is not None else {}
        self.use_options(EvidenceOptions.build(options, (), given, judge=self.name))
        self._verifiers = verifiers
        self._standings: SingleFlight[str, tuple[str, list[Standing]]] = SingleFlight(
            self.cache_size
        )
        self.computed = 0  # items whose evidence was computed (not read from the cache)

    @property
    def exec_python(self) -> str | None:
        """The interpreter code candidates run on (``None``: the sandbox's own)."""
        return self.options.exec_python

    @property
    def verifiers(self) -> dict[str, Verifier]:
        if self._verifiers is None:
            self._verifiers = default_verifiers(self.exec_python)
        return self._verifiers

    def _compute(self, item: Item) -> tuple[str, list[Standing]]:
        kind = detect_kind(item)
        verifier = self.verifiers.get(kind)
        self.computed += 1
        if verifier is None or not verifier.applies(item):
            return kind, [Standing(1, None, None, 0, None) for _ in item.candidates]
        try:
            evidence = verifier.verify(item)
        except SandboxError as exc:
            # This machine cannot bound untrusted code: no execution evidence, said so.
            note = f"no execution evidence: {exc}"
            evidence = [Evidence(verifier.name, notes=(note,)) for _ in item.candidates]
        return kind, standings(evidence)

    async def assess(self, item: Item) -> tuple[str, list[Standing]]:
        """The task kind and every candidate's standing, computed once per item content
        (concurrent calls share one computation; a failed one is computed again)."""
        found, _ = await self._standings.get(
            item_key(item), lambda: asyncio.to_thread(self._compute, item)
        )
        return found

    async def aclose(self) -> None:
        """Stop what the verifiers started (sandbox workers, math worker processes)."""
        for verifier in (self._verifiers or {}).values():
            close = getattr(verifier, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    async def hard_verdict(self, item: Item, a: int, b: int) -> Verdict | None:
        """The verdict when hard evidence alone decides the pair, else ``None``.

        Decided means: one candidate passes every hard check (visible tests, explicit
        instructions, a visible reference) and the other fails at least one. An LLM judge
        calls this first and skips the model call when it returns a verdict, which says
        ``via="evidence"``.
        """
        _, stand = await self.assess(item)
        if {stand[a].tier, stand[b].tier} != {0, 2}:
            return None
        verdict = await self.compare(item, a, b)
        reason = f"hard evidence decides, no LLM call: {verdict.reason}"
        return replace(verdict, reason=reason, via="evidence")

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        kind, stand = await self.assess(item)
        sa, sb = stand[a], stand[b]
        if sa.evidence is None and sb.evidence is None:
            return Verdict(
                "tie",
                reason=f"no evidence: no verifier applies to this {kind} item",
                judge=self.name,
            )
        ka, kb = sa.key(), sb.key()
        description = f"A: {sa.describe()}; B: {sb.describe()}"
        if ka == kb:
            return Verdict(
                "tie", reason=f"evidence cannot separate them ({description})", judge=self.name
            )
        winner, better, worse = ("a", sa, sb) if ka > kb else ("b", sb, sa)
        cited = _separating_checks(better.evidence, worse.evidence)
        basis = ("tier", "hard checks", "soft checks", "consensus")[
            next(i for i, (x, y) in enumerate(zip(ka, kb, strict=True)) if x != y)
        ]
        return Verdict(
            winner,
            reason=f"decided by {basis}: {description}",
            evidence=tuple(cited),
            judge=self.name,
        )

    async def explain(self, item: Item) -> dict[str, Any]:
        """The task kind and each candidate's evidence, for the trace."""
        kind, stand = await self.assess(item)
        return {
            "task_kind": kind,
            "evidence": [s.evidence.to_dict() if s.evidence else None for s in stand],
        }

    async def score(self, item: Item, index: int) -> Score:
        kind, stand = await self.assess(item)
        s = stand[index]
        if s.evidence is None:
            return Score(
                None,
                reason=f"no evidence: no verifier applies to this {kind} item",
                judge=self.name,
            )
        return Score(_packed(s), reason=s.describe(), judge=self.name)


#: Cluster weights are packed below this (a cluster of 1000 candidates passing 999 checks).
_WEIGHTS = 10**6


def _packed(standing: Standing) -> float:
    """The standing as one number with the same order of precedence: shares in
    thousandths, ``((tier * 1001 + hard) * 1001 + soft) * 10**6 + weight`` (weights capped
    below 10**6), exact in a float."""
    tier, hard, soft, weight = standing.key()
    head = (int(tier) * 1001 + round(hard * 1000)) * 1001 + round(soft * 1000)
    return float(head * _WEIGHTS + min(int(weight), _WEIGHTS - 1))

"""The model's own answer: a small judge solves the problem first, once per item.

A 1.5B model asked "A or B?" about two solutions answers "A" whatever they say. Asked to
solve the problem itself and then to compare each final answer with its own, it decides
most pairs it can solve. A skill whose compact form has a ``solve`` instruction
(``skills/math/compact.md``) gets this: the judge asks the model to solve the problem once
per item (cached in memory and in the verdict cache), reads its ``Answer:`` line, and
matches every candidate's final answer against it with the math verifier (math-verify
equivalence, as a reference check). When exactly one of the two candidates matches, that
decides the pair without another call; otherwise the pairwise question is asked with the
model's answer in front of it.

The own answer is a *soft* resource: it comes from a small model, not from a label. The
verdict says so (``via="own-answer"``, evidence ``own-answer``) so that a report can tell
these verdicts apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace

from rerank.errors import RequestRejectedError
from rerank.items import Item
from rerank.judges.base import Cost, Verdict
from rerank.judges.evidence import Standing
from rerank.judges.llm.question import Prepared, question_key
from rerank.llm.backend import ChatBackend
from rerank.llm.cache import NullCache, VerdictCache
from rerank.llm.failures import context_overflow
from rerank.memo import SingleFlight
from rerank.verifiers.math.verifier import reference_answer

__all__ = [
    "OWN_ANSWER",
    "OwnAnswer",
    "OwnAnswers",
    "own_answer_note",
    "own_answer_verdict",
]

#: The evidence id of verdicts the model's own answer decided.
OWN_ANSWER = "own-answer"
_SOLVE_MAX_TOKENS = 768
_KEEP = 256  # items whose own answers stay in memory (enough for every item in flight)
#: The task kind and standings of an item (:meth:`rerank.judges.EvidenceJudge.assess`).
Assess = Callable[[Item], Awaitable[tuple[str, list[Standing]]]]


@dataclass(frozen=True)
class OwnAnswer:
    """The model's solution of one item, and how each candidate's answer compares.

    ``matches[i]`` is ``"pass"`` (candidate i's final answer equals the model's),
    ``"fail"`` or ``"unknown"`` (no answer on one side, or no equivalence reached).
    """

    answer: str | None
    raw: str | None
    matches: tuple[str, ...]
    cost: Cost


class OwnAnswers:
    """Own answers per item for one judge; concurrent comparisons share one request.

    Parameters
    ----------
    chat : the backend the judge asks (its model is part of the cache key).
    cache : the judge's verdict cache, opened on first use (a run the evidence decides opens
        none), where solutions are kept across runs.
    assess : the evidence of an item, to match every candidate against the model's answer.
    temperature : the judge's sampling temperature.
    """

    def __init__(
        self,
        chat: ChatBackend,
        cache: Callable[[], VerdictCache | NullCache],
        assess: Assess,
        *,
        temperature: float,
    ) -> None:
        self.chat = chat
        self.cache = cache
        self.assess = assess
        self.temperature = temperature
        self._memo: SingleFlight[str, OwnAnswer] = SingleFlight(_KEEP)

    @staticmethod
    def applies(prepared: Prepared, compact: bool) -> bool:
        """Whether a judge sending compact questions (``compact``) solves this item first:
        a math item whose skill's compact form has a ``solve`` instruction."""
        form = prepared.skill.compact
        return compact and prepared.kind == "math" and form is not None and form.solve is not None

    async def get(self, prepared: Prepared) -> tuple[OwnAnswer, bool]:
        """The item's own answer, and whether this call made the request (and so carries
        its cost)."""
        key = hashlib.sha256(
            "\x00".join(
                [
                    prepared.skill.hash,
                    prepared.view.prompt,
                    *(c.text for c in prepared.view.candidates),
                ]
            ).encode()
        ).hexdigest()
        return await self._memo.get(key, lambda: self._solve(prepared))

    async def _solve(self, prepared: Prepared) -> OwnAnswer:
        form = prepared.skill.compact
        assert form is not None and form.solve is not None
        key = question_key(
            model=await self.chat.resolve_model(),
            skill=prepared.skill,
            prompt=prepared.view.prompt,
            candidates=[],
            mode="solve",
            question=form.solve,
            parameters={"temperature": self.temperature, "max_tokens": _SOLVE_MAX_TOKENS},
        )
        cache = self.cache()
        cached = cache.get(key)
        cost = Cost()
        if cached is not None:
            raw = cached["raw"]
        else:
            try:
                result = await self.chat.chat(
                    [
                        {"role": "system", "content": form.solve},
                        {"role": "user", "content": prepared.view.prompt.strip()},
                    ],
                    temperature=self.temperature,
                    max_tokens=_SOLVE_MAX_TOKENS,
                )
            except RequestRejectedError as exc:
                if not context_overflow(exc):
                    raise
                # A problem too long to solve in the context: no own answer, the pair is asked.
                return OwnAnswer(None, str(exc), ("unknown",) * prepared.view.n, Cost())
            raw = result.content or ""
            cost = Cost(**asdict(result.usage))
            cache.put(key, {"raw": raw})
        answer = reference_answer(raw) if raw.strip() else None
        if answer is None:
            return OwnAnswer(None, raw, ("unknown",) * prepared.view.n, cost)
        task = prepared.view.task
        view = replace(
            prepared.view, task=replace(task, resources={**task.resources, "reference": answer})
        )
        _, standings = await self.assess(view)
        matches = []
        for standing in standings:
            checks = standing.evidence.checks if standing.evidence is not None else ()
            status = next((c.status for c in checks if c.id == "reference"), "unknown")
            matches.append(status if status in ("pass", "fail") else "unknown")
        return OwnAnswer(answer, raw, tuple(matches), cost)


def own_answer_verdict(own: OwnAnswer, a: int, b: int, judge: str, cost: Cost) -> Verdict | None:
    """The verdict when exactly one of ``a`` and ``b`` reaches the model's own answer.

    Parameters
    ----------
    own : the item's own answer.
    a, b : the candidates, ``a`` shown first.
    judge : the name the verdict gives (``local:math``).
    cost : what the verdict carries (the solve's cost, on the first verdict of an item).

    Returns
    -------
    Verdict with ``via="own-answer"`` and evidence ``own-answer``, or ``None`` when both or
    neither match (the pair is then asked).
    """
    first, second = own.matches[a] == "pass", own.matches[b] == "pass"
    if first == second:
        return None
    winner, label = ("a", "A") if first else ("b", "B")
    other = "B" if first else "A"
    return Verdict(
        winner,
        reason=(
            f"{label}'s final answer equals the judge model's own answer ({own.answer}); "
            f"{other}'s does not"
        ),
        evidence=(OWN_ANSWER,),
        raw=own.raw,
        judge=judge,
        cost=cost,
        via="own-answer",
    )


def own_answer_note(own: OwnAnswer) -> str | None:
    """What the pairwise question tells the model of its own answer, if it reached one."""
    if own.answer is None:
        return None
    return (
        "## Your own answer\n\nBefore reading the responses you solved the problem and "
        f"reached: {own.answer}\n"
    )

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
verdict names it (``judge=<name>:<skill>:own-answer``, evidence ``own-answer``) so that a
report can tell these verdicts apart.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from rerank.judges.base import Cost, Verdict
from rerank.verifiers.math.verifier import reference_answer

if TYPE_CHECKING:
    from rerank.judges.llm.judge import LLMJudge, _Ready

__all__ = ["OWN_ANSWER", "OwnAnswer", "OwnAnswers"]

#: The evidence id (and judge suffix) of verdicts the model's own answer decided.
OWN_ANSWER = "own-answer"
_SOLVE_MAX_TOKENS = 768
_KEEP = 256  # items whose own answers stay in memory (enough for every item in flight)


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
    """Own answers per item for one judge; concurrent comparisons share one request."""

    def __init__(self, judge: LLMJudge) -> None:
        self.judge = judge
        self._memo: OrderedDict[str, asyncio.Future[OwnAnswer]] = OrderedDict()

    @staticmethod
    def applies(ready: _Ready, compact: bool) -> bool:
        form = ready.skill.compact
        return compact and ready.kind == "math" and form is not None and form.solve is not None

    async def get(self, ready: _Ready) -> tuple[OwnAnswer, bool]:
        """The item's own answer, and whether this call made the request (and so carries
        its cost)."""
        key = hashlib.sha256(
            "\x00".join(
                [ready.skill.hash, ready.view.prompt, *(c.text for c in ready.view.candidates)]
            ).encode()
        ).hexdigest()
        future = self._memo.get(key)
        if future is not None:
            self._memo.move_to_end(key)
            return await asyncio.shield(future), False
        future = asyncio.get_running_loop().create_future()
        self._memo[key] = future
        while len(self._memo) > _KEEP:
            self._memo.popitem(last=False)
        try:
            own = await self._solve(ready)
        except BaseException as exc:
            self._memo.pop(key, None)
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        future.set_result(own)
        return own, True

    async def _solve(self, ready: _Ready) -> OwnAnswer:
        judge = self.judge
        form = ready.skill.compact
        assert form is not None and form.solve is not None
        model = await judge.pool.resolve_model()
        key = judge.cache.key(
            model=model,
            skill=ready.skill.hash,
            prompt=ready.view.prompt,
            candidates=[],
            mode="solve",
            question=hashlib.sha256(form.solve.encode()).hexdigest(),
            parameters={"temperature": judge.temperature, "max_tokens": _SOLVE_MAX_TOKENS},
            protocol=judge.protocol,
        )
        cached = judge.cache.get(key)
        cost = Cost()
        if cached is not None:
            raw = cached["raw"]
        else:
            result = await judge.pool.chat(
                [
                    {"role": "system", "content": form.solve},
                    {"role": "user", "content": ready.view.prompt.strip()},
                ],
                temperature=judge.temperature,
                max_tokens=_SOLVE_MAX_TOKENS,
            )
            raw = result.content or ""
            cost = Cost(**asdict(result.usage))
            judge.cache.put(key, {"raw": raw})
        answer = reference_answer(raw) if raw.strip() else None
        if answer is None:
            return OwnAnswer(None, raw, ("unknown",) * ready.view.n, cost)
        task = ready.view.task
        view = replace(
            ready.view, task=replace(task, resources={**task.resources, "reference": answer})
        )
        _, standings = await judge.evidence.assess(view)
        matches = []
        for standing in standings:
            checks = standing.evidence.checks if standing.evidence is not None else ()
            status = next((c.status for c in checks if c.id == "reference"), "unknown")
            matches.append(status if status in ("pass", "fail") else "unknown")
        return OwnAnswer(answer, raw, tuple(matches), cost)


def own_answer_verdict(own: OwnAnswer, a: int, b: int, judge: str, cost: Cost) -> Verdict | None:
    """The verdict when exactly one of ``a`` and ``b`` reaches the model's own answer."""
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
        judge=f"{judge}:{OWN_ANSWER}",
        cost=cost,
    )


def own_answer_note(own: OwnAnswer) -> str | None:
    """What the pairwise question tells the model of its own answer, if it reached one."""
    if own.answer is None:
        return None
    return (
        "## Your own answer\n\nBefore reading the responses you solved the problem and "
        f"reached: {own.answer}\n"
    )

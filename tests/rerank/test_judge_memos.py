"""The judges' in-memory memos share one rule: a failure is never remembered.

Dedup's cluster verdicts, the model's own answers and the evidence of an item are each
computed once, and a failed one (an exception, or an invalid verdict) is computed again by
the next comparison that needs it. The LLM judge talks to a scripted backend in this
process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rerank.errors import EndpointError
from rerank.evidence import Evidence
from rerank.items import Item
from rerank.judges import EvidenceJudge, LLMJudge
from rerank.testing import Message, ScriptedBackend, ToolCall

GUARD_SECONDS = 60


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


async def _compare(judge: LLMJudge, item: Item, *pairs: tuple[int, int]) -> list[Any]:
    try:
        return [await judge.compare(item, a, b) for a, b in pairs]
    finally:
        await judge.aclose()


class Answers:
    """A math verifier giving each candidate its final answer as signature, no checks."""

    name = "math"

    def applies(self, item: Item) -> bool:
        return True

    def verify(self, item: Item) -> list[Evidence]:
        return [Evidence("math", signature=c.text.split()[-1]) for c in item.candidates]


def _final(winner: str) -> Message:
    verdict = {"winner": winner, "confidence": 0.9, "evidence": [], "reason": "r"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def test_an_invalid_cluster_verdict_is_asked_again_and_a_valid_one_is_reused() -> None:
    """Dedup does not keep an invalid verdict: the next pair of those clusters asks again."""
    item = Item.from_texts("q", ["so 42", "thus 42", "so 43"], kind="math")
    backend = ScriptedBackend(
        Message(content="no idea"), Message(content="still none"), _final("B")
    )
    evidence = EvidenceJudge(verifiers={"math": Answers()})  # type: ignore[dict-item]
    judge = LLMJudge(pool=backend, evidence=evidence, cache=False, max_steps=0, swap=False)
    first, second, third = run(_compare(judge, item, (0, 2), (1, 2), (1, 2)))
    assert (first.winner, first.via) == ("invalid", "model")
    assert (second.winner, second.via, second.cost.calls) == ("b", "model", 1)
    assert (third.winner, third.via, third.cost.calls) == ("b", "dedup", 0)
    assert len(backend.requests) == 3  # the forced answer and the re-ask, then one question


def test_a_failed_solution_is_asked_again() -> None:
    """The own answer of an item is not remembered when asking for it failed."""
    item = Item.from_texts(
        "Tom has 3 apples and buys 4 more. How many apples does he have?",
        ["3 + 4 = 7. The answer is 7.", "3 * 4 = 12. The answer is 12."],
        kind="math",
    )
    backend = ScriptedBackend(
        EndpointError("no endpoint answered"),
        Message(content="3 + 4 = 7.\nAnswer: 7"),
        model="qwen2.5-1.5b",
    )
    judge = LLMJudge(pool=backend, evidence=EvidenceJudge(), cache=False)

    async def twice() -> Any:
        try:
            with pytest.raises(EndpointError):
                await judge.compare(item, 0, 1)
            return await judge.compare(item, 0, 1)
        finally:
            await judge.aclose()

    verdict = run(twice())
    assert (verdict.winner, verdict.via, verdict.cost.calls) == ("a", "own-answer", 1)
    assert len(backend.requests) == 2


class Flaky:
    """A verifier that fails on its first call, then gives no checks."""

    name = "math"

    def __init__(self) -> None:
        self.calls = 0

    def applies(self, item: Item) -> bool:
        return True

    def verify(self, item: Item) -> list[Evidence]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the verifier's worker died")
        return [Evidence("math") for _ in item.candidates]


def test_evidence_that_failed_is_computed_again() -> None:
    """An item whose evidence raised is assessed afresh by the next comparison."""
    flaky = Flaky()
    judge = EvidenceJudge(verifiers={"math": flaky})  # type: ignore[dict-item]
    item = Item.from_texts("q", ["#### 1", "#### 2"], kind="math")
    with pytest.raises(RuntimeError, match="worker died"):
        judge.compare_sync(item, 0, 1)
    assert judge.compare_sync(item, 0, 1).winner == "tie"
    assert flaky.calls == judge.computed == 2

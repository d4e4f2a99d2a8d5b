"""Where a verdict came from is a field (``via``), and the run counts that field.

The LLM judge here talks to :class:`~rerank.testing.ScriptedBackend` in this process: no
server, no HTTP. The one interface is all the judge needs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.judges import (
    BaseJudge,
    ConsensusJudge,
    EvidenceJudge,
    LLMJudge,
    SimulatedJudge,
    Verdict,
    from_callable,
)
from rerank.judges.llm.local import LocalBackend
from rerank.llm import ChatBackend, EndpointPool
from rerank.local.server import LocalServer
from rerank.outputs import result_row, trace_row
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Message, ScriptedBackend, ToolCall

MATH = Item.from_texts("What is 6*7?", ["#### 42", "#### 43"], kind="math")


def _final(winner: str) -> Message:
    verdict = {"winner": winner, "confidence": 0.9, "evidence": [], "reason": "r"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


class Verifying:
    """A math verifier that returns the evidence it was given."""

    name = "math"

    def __init__(self, evidence: list[Evidence]) -> None:
        self.evidence = evidence

    def applies(self, item: Item) -> bool:
        return True

    def verify(self, item: Item) -> list[Evidence]:
        return self.evidence


def _evidence(*statuses: str) -> EvidenceJudge:
    found = [
        Evidence("math", (Check("reference", status, True),), signature=str(k))
        for k, status in enumerate(statuses)
    ]
    return EvidenceJudge(verifiers={"math": Verifying(found)})


async def _compare(judge: Any, item: Item = MATH, a: int = 0, b: int = 1) -> Verdict:
    try:
        return await judge.compare(item, a, b)
    finally:
        await judge.aclose()


def test_every_backend_has_the_one_interface() -> None:
    """The endpoint pool, the local judge's backend and a test's script are chat backends."""
    local = LocalBackend(LocalServer(Path("/nonexistent.gguf")), "m", 1, 60.0)
    for backend in (EndpointPool("http://127.0.0.1:9/v1"), local, ScriptedBackend()):
        assert isinstance(backend, ChatBackend)


def test_a_model_verdict_and_a_cached_one_say_how_they_were_reached(tmp_path: Path) -> None:
    """The first answer comes from the model, the same question again from the cache."""
    cache = tmp_path / "verdicts.sqlite"
    first, again = ScriptedBackend(_final("A")), ScriptedBackend()
    seen = []
    for backend in (first, again):
        judge = LLMJudge(pool=backend, evidence=_evidence("unknown", "unknown"), cache=cache)
        verdict = asyncio.run(_compare(judge))
        seen.append((verdict.winner, verdict.judge, verdict.via, verdict.cost.calls))
    assert seen == [("a", "llm:math", "model", 1), ("a", "llm:math", "cache", 0)]
    assert again.requests == []


def test_a_pair_hard_evidence_decides_says_via_evidence() -> None:
    """The short-circuit's verdict is the evidence judge's, reached with no request."""
    backend = ScriptedBackend()
    verdict = asyncio.run(
        _compare(LLMJudge(pool=backend, evidence=_evidence("fail", "pass"), cache=False))
    )
    assert (verdict.winner, verdict.judge, verdict.via) == ("b", "evidence", "evidence")
    assert backend.requests == []


def test_judges_without_stages_leave_via_empty() -> None:
    """The evidence, consensus, simulated and callable judges decide by themselves."""
    labelled = Item.from_texts("q", ["#### 1", "#### 2"], kind="math", scores=[1, 0])
    judges = [
        _evidence("fail", "pass"),
        ConsensusJudge(),
        SimulatedJudge(1.0),
        from_callable(lambda prompt, a, b: "A", kind="compare"),
    ]
    for judge in judges:
        assert asyncio.run(_compare(judge, labelled)).via is None, judge


class Script(BaseJudge):
    """Answers with the scripted verdicts, in the order it is asked."""

    def __init__(self, verdicts: list[Verdict]) -> None:
        self.verdicts = list(verdicts)
        self.spec = "llm"

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        return self.verdicts.pop(0)


def _rows(*verdicts: Verdict) -> tuple[dict[str, Any], dict[str, Any]]:
    """The output and trace rows of a round robin of 4 candidates (6 matches) judged by
    ``verdicts`` in turn."""
    item = Item.from_texts("p", ["w", "x", "y", "z"])
    result = asyncio.run(select_item(item, StrategyConfig("round-robin"), Script(list(verdicts))))
    return result_row(result), trace_row(result)


def test_rows_count_the_field_and_name_it_as_before() -> None:
    """decided_by keeps its names (judge plus :cached, :dedup, :own-answer), and the
    short-circuit and dedup counts read via, not the judge's name."""
    verdicts = [
        Verdict("a", judge="llm:math", via="model"),
        Verdict("a", judge="llm:math", via="cache"),
        Verdict("b", judge="llm:math", via="dedup"),
        Verdict("a", judge="local:math", via="own-answer"),
        Verdict("b", judge="evidence", via="evidence"),
        Verdict("tie", judge="evidence"),
    ]
    row, trace = _rows(*verdicts)
    assert row["decided_by"] == {
        "evidence": 2,
        "llm:math": 1,
        "llm:math:cached": 1,
        "llm:math:dedup": 1,
        "local:math:own-answer": 1,
    }
    assert (row["short_circuits"], row["deduplicated"]) == (1, 1)
    vias = [v.get("via") for m in trace["matches"] for v in m["verdicts"]]
    assert vias == ["model", "cache", "dedup", "own-answer", "evidence", None]

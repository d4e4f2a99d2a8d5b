"""Cluster deduplication in the LLM judge, against the loopback server (real openai client)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from types import SimpleNamespace

import pytest

from rerank.errors import ConfigError
from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.judges import create_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.dedup import representatives
from rerank.judges.llm.judge import LLMJudge
from rerank.llm import EndpointPool
from rerank.outputs import result_row
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Delay, Message, ToolCall, openai_server_fixture

GUARD_SECONDS = 30  # a hang fails the test instead of the run; nothing is timed

server = openai_server_fixture("server")

#: Five solutions, two final answers: clusters {0, 1, 3} (42) and {2, 4} (43).
ANSWERS = ["42", "42", "43", "42", "43"]
MATH = Item.from_texts(
    "What is 6*7?", [f"Solution {i}: 6*7 = {x}. #### {x}" for i, x in enumerate(ANSWERS)]
)
REPS = [0, 0, 2, 0, 2]
ALL_PAIRS = list(itertools.combinations(range(5), 2))


def scripted(kind: str, evidence: list[Evidence]) -> EvidenceJudge:
    """An evidence judge whose verifier for ``kind`` returns ``evidence``."""
    verifier = SimpleNamespace(name=kind, applies=lambda item: True, verify=lambda item: evidence)
    return EvidenceJudge(verifiers={kind: verifier})


def math_evidence() -> EvidenceJudge:
    return scripted(
        "math", [Evidence("math", (Check("answer", "pass", False, x),), x) for x in ANSWERS]
    )


def make_judge(url: str, evidence: EvidenceJudge | None = None, **options) -> LLMJudge:
    pool = EndpointPool(url, "judge-model", backoff=0.0, retries=0)
    return LLMJudge(pool=pool, evidence=evidence or math_evidence(), cache=False, **options)


def verdict_reply(winner: str = "A") -> Message:
    verdict = {"winner": winner, "confidence": 0.9, "evidence": ["answer"], "reason": "r"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def compare_all(judge: LLMJudge, pairs, item: Item = MATH, *, together: bool = False):
    """Compare ``pairs`` in turn (or all at once), then close the judge."""

    async def go():
        try:
            if together:
                return await asyncio.gather(*(judge.compare(item, a, b) for a, b in pairs))
            return [await judge.compare(item, a, b) for a, b in pairs]
        finally:
            await judge.aclose()

    return asyncio.run(asyncio.wait_for(go(), GUARD_SECONDS))


def cluster_pairs(pairs) -> set[tuple[int, int]]:
    return {(REPS[a], REPS[b]) for a, b in pairs if REPS[a] != REPS[b]}


def test_representatives_group_by_answer_signature():
    """The representative of a candidate is the lowest index with its signature."""
    judge = math_evidence()
    _, standings = asyncio.run(judge.assess(MATH))
    assert representatives([c.text for c in MATH.candidates], standings) == REPS


def test_requests_equal_the_distinct_cluster_pairs(server):
    """All 10 pairs of 5 candidates in 2 clusters: 2 requests ((0, 2) and (2, 0)), no more."""
    server.default = verdict_reply("B")
    verdicts = compare_all(make_judge(server.base_url), ALL_PAIRS)
    assert cluster_pairs(ALL_PAIRS) == {(0, 2), (2, 0)}
    assert len(server.chat_requests) == 2
    assert sum(v.cost.calls for v in verdicts) == 2
    assert [v.winner for v in verdicts] == ["tie" if REPS[a] == REPS[b] else "b"
                                            for a, b in ALL_PAIRS]  # fmt: skip
    assert sum(v.via == "dedup" for v in verdicts) == 8


def test_the_representatives_are_shown_in_the_same_order(server):
    """(3, 4) is asked as (0, 2): candidate 0 shown as A, candidate 2 as B."""
    server.default = verdict_reply()
    (verdict,) = compare_all(make_judge(server.base_url), [(3, 4)])
    user = server.chat_requests[0].body["messages"][1]["content"]
    assert user.index(MATH.candidates[0].text) < user.index(MATH.candidates[2].text)
    assert MATH.candidates[3].text not in user and MATH.candidates[4].text not in user
    assert verdict.winner == "a" and verdict.cost.calls == 1
    assert verdict.reason.endswith("[asked as representatives 0 and 2]")


def test_a_pair_in_one_cluster_is_a_tie_without_a_request(server):
    """Same final answer: an explicit tie saying why, costing nothing, no request."""
    (verdict,) = compare_all(make_judge(server.base_url), [(1, 3)])
    assert (verdict.winner, verdict.judge, verdict.via, verdict.cost.calls) == (
        "tie",
        "llm:math",
        "dedup",
        0,
    )
    assert "equivalent: same final answer" in verdict.reason
    assert server.chat_requests == []


def test_identical_texts_up_to_whitespace_are_one_cluster_without_a_signature(server):
    """With no verifier evidence, texts equal after collapsing whitespace are equivalent."""
    item = Item.from_texts("Say hi.", ["Hi  there!", " Hi there!\n", "Hello."], kind="general")
    server.default = verdict_reply()
    verdicts = compare_all(make_judge(server.base_url), [(0, 1), (1, 2), (0, 2)], item)
    assert [v.winner for v in verdicts] == ["tie", "a", "a"]
    assert "same text" in verdicts[0].reason
    assert len(server.chat_requests) == 1


def test_dedup_false_asks_every_pair(server):
    """``dedup=false`` (as a spec gives it) restores one request per comparison."""
    server.default = verdict_reply()
    verdicts = compare_all(make_judge(server.base_url, dedup="false"), ALL_PAIRS)
    assert len(server.chat_requests) == len(ALL_PAIRS) == 10
    assert not any(v.via == "dedup" for v in verdicts)


def test_the_option_is_read_from_a_judge_spec(server):
    """``--judge llm:dedup=false`` turns it off; a value that is not a boolean is an error."""
    assert create_judge("llm:dedup=false", base_url=server.base_url).dedup is None
    assert create_judge("llm", base_url=server.base_url).dedup is not None
    with pytest.raises(ConfigError, match="dedup must be true or false"):
        create_judge("llm:dedup=maybe", base_url=server.base_url)


def test_concurrent_comparisons_of_one_cluster_pair_make_one_request(server):
    """Four comparisons of clusters (0, 2) at once, the reply held until all started: one
    request; the three that waited reuse its verdict at no cost."""
    gate = threading.Event()
    server.enqueue(Delay(verdict_reply(), gate=gate))
    judge = make_judge(server.base_url)
    pairs = [(0, 2), (1, 4), (3, 2), (0, 4)]

    async def go():
        await judge.prepare(MATH)  # the evidence is ready: all four reach the memo at once
        released = asyncio.to_thread(server.wait_until, lambda s: s.in_flight == 1)
        comparisons = asyncio.gather(*(judge.compare(MATH, a, b) for a, b in pairs))
        assert await released
        gate.set()
        try:
            return await comparisons
        finally:
            await judge.aclose()

    verdicts = asyncio.run(asyncio.wait_for(go(), GUARD_SECONDS))
    assert len(server.chat_requests) == 1
    assert [v.winner for v in verdicts] == ["a"] * 4
    assert sorted(v.cost.calls for v in verdicts) == [0, 0, 0, 1]
    assert sum(v.via == "dedup" for v in verdicts) == 3


def test_a_signature_with_other_hard_evidence_is_not_merged(server):
    """Same signature but one fails a visible test: hard evidence decides, not dedup."""
    code = [
        Evidence("code", (Check("test:1", "pass"),), "code:same"),
        Evidence("code", (Check("test:1", "fail"),), "code:same"),
    ]
    item = Item.from_texts("Write f.", ["def f(): return 1", "def f(): return 2"], kind="code")
    (verdict,) = compare_all(make_judge(server.base_url, scripted("code", code)), [(0, 1)], item)
    assert (verdict.winner, verdict.judge) == ("a", "evidence")
    assert server.chat_requests == []


def test_a_run_counts_requests_and_deduplicated_verdicts(server):
    """Round-robin over 5 candidates: judge_calls is the number of distinct cluster pairs
    asked; every other comparison is counted as deduplicated."""
    server.default = verdict_reply()
    judge = make_judge(server.base_url)

    async def go():
        try:
            return await select_item(MATH, StrategyConfig("round-robin"), judge)
        finally:
            await judge.aclose()

    result = asyncio.run(asyncio.wait_for(go(), GUARD_SECONDS))
    row = result_row(result)
    asked = cluster_pairs((m.a, m.b) for m in result.selection.matches)
    assert row["comparisons"] == 10
    assert row["judge_calls"] == len(server.chat_requests) == len(asked)
    assert row["deduplicated"] == 10 - len(asked)
    assert row["short_circuits"] == 0


def test_code_behaviour_clusters_are_not_merged(server):
    """Code with the same behaviour on the probe inputs but different text is still asked:
    probe inputs are too few to make two programs equivalent."""
    code = [Evidence("code", (), "code:same"), Evidence("code", (), "code:same")]
    server.default = verdict_reply()
    item = Item.from_texts(
        "Write f.", ["def f(x): return x", "def f(x): return abs(x)"], kind="code"
    )
    (verdict,) = compare_all(make_judge(server.base_url, scripted("code", code)), [(0, 1)], item)
    assert len(server.chat_requests) == 1
    assert verdict.via != "dedup"

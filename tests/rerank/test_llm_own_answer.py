"""Compact skills for small models: solve first, once per item; compact=auto by model size.

Against the scripted loopback server through the real openai client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rerank.items import Item
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.judge import LLMJudge, small_model
from rerank.llm import EndpointPool
from rerank.testing import Message, openai_server_fixture

server = openai_server_fixture("server")
GUARD_SECONDS = 60

PROMPT = "Tom has 3 apples and buys 4 more. How many apples does he have?"
ITEM = Item.from_texts(
    PROMPT,
    [
        "3 + 4 = 7. The answer is 7.",
        "3 * 4 = 12. The answer is 12.",
        "He has 3 - 4 = -1. The answer is -1.",
        "3 + 4 = 7 apples in all. The answer is 7.",
    ],
    kind="math",
)


def judge(server: Any, model: str, **options: Any) -> LLMJudge:
    pool = EndpointPool(server.base_url, model, retries=0, backoff=0.0)
    return LLMJudge(pool=pool, evidence=EvidenceJudge(), cache=False, **options)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def compare(j: LLMJudge, a: int, b: int) -> Any:
    """One comparison, closing the judge in the same event loop."""

    async def go():
        try:
            return await j.compare(ITEM, a, b)
        finally:
            await j.aclose()

    return run(go())


def solve_requests(server: Any) -> list[Any]:
    return [r for r in server.chat_requests if "Answer:" in r.body["messages"][0]["content"]]


def test_small_model_names() -> None:
    assert small_model("Qwen/Qwen2.5-Coder-1.5B-Instruct")
    assert small_model("smollm2-135m")
    assert small_model("qwen2.5-coder-1.5b")
    assert not small_model("Qwen/Qwen3-8B")
    assert not small_model("meta-llama/Llama-3.3-70B-Instruct")
    assert not small_model("gpt-4o")
    assert not small_model(None)


def test_own_answer_decides_pairs_with_one_request_per_item(server) -> None:
    """The model solves once; pairs where exactly one answer matches need no more calls."""
    server.enqueue(Message("3 + 4 = 7\nAnswer: 7"))

    async def go():
        j = judge(server, "tiny-1.5b")
        try:
            verdicts = await asyncio.gather(
                j.compare(ITEM, 0, 1), j.compare(ITEM, 1, 0), j.compare(ITEM, 2, 3)
            )
        finally:
            await j.aclose()
        return verdicts

    first, second, third = run(go())
    assert len(server.chat_requests) == 1  # one solve for three concurrent comparisons
    assert (first.winner, second.winner, third.winner) == ("a", "b", "b")
    assert (first.judge, first.via, first.evidence) == ("llm:math", "own-answer", ("own-answer",))
    assert "(7)" in first.reason
    # The request's cost is carried by exactly one verdict.
    assert sum(v.cost.calls for v in (first, second, third)) == 1
    # The model solved the problem alone: it saw the prompt, no candidate.
    messages = server.chat_requests[0].body["messages"]
    assert messages[1]["content"] == PROMPT
    assert "12" not in messages[1]["content"]


def test_undecided_pairs_ask_the_compact_question_with_the_own_answer(server) -> None:
    """Neither answer matches: one compact question, which shows the model's own answer."""
    server.enqueue(Message("Answer: 7"), Message("Correct answer: 7\nVerdict: B"))
    j = judge(server, "tiny-1.5b", swap=False, verdict="text")
    verdict = compare(j, 1, 2)
    assert verdict.winner == "b" and verdict.judge == "llm:math"
    assert len(server.chat_requests) == 2
    question = server.chat_requests[1].body
    assert "tools" not in question  # compact: no tool loop
    user = question["messages"][1]["content"]
    assert "## Your own answer" in user and "reached: 7" in user
    assert "Verdict: <A or B>" in question["messages"][0]["content"]


def test_an_unusable_solution_falls_back_to_the_question(server) -> None:
    server.enqueue(Message(""), Message("Correct answer: 7\nVerdict: A"))
    j = judge(server, "tiny-1.5b", swap=False, verdict="text")
    verdict = compare(j, 0, 1)
    assert verdict.winner == "a" and verdict.judge == "llm:math"
    assert "Your own answer" not in server.chat_requests[1].body["messages"][1]["content"]


def test_large_models_get_the_full_skill_and_no_solve_step(server) -> None:
    """compact=auto: an 8B model gets the full skill (tools, JSON contract) and no solve."""
    server.enqueue(*[Message('{"winner": "A", "reason": "7 is right", "evidence": []}')] * 3)
    j = judge(server, "Qwen3-8B", max_steps=0)
    compare(j, 0, 1)
    assert solve_requests(server) == []
    assert "Verdict: <A or B>" not in server.chat_requests[0].body["messages"][0]["content"]


@pytest.mark.parametrize("compact", ["false", False])
def test_compact_false_turns_solving_off_for_small_models(server, compact) -> None:
    server.enqueue(*[Message('{"winner": "A", "reason": "7 is right", "evidence": []}')] * 3)
    j = judge(server, "tiny-1.5b", compact=compact, max_steps=0)
    compare(j, 0, 1)
    assert solve_requests(server) == []


def test_the_solution_is_cached_across_judges(server, tmp_path) -> None:
    """A rerun with the verdict cache asks nothing again."""
    server.enqueue(Message("Answer: 7"))
    cache = tmp_path / "cache.sqlite"
    for _ in range(2):
        pool = EndpointPool(server.base_url, "tiny-1.5b", retries=0, backoff=0.0)
        assert compare(LLMJudge(pool=pool, cache=str(cache)), 0, 1).winner == "a"
    assert len(server.chat_requests) == 1


def _question_requests(server: Any) -> list[Any]:
    return [r for r in server.chat_requests if r not in solve_requests(server)]


def test_a_verdict_that_follows_the_display_order_is_a_tie(server) -> None:
    """swap=auto: a compact question is asked both ways; "A" both times is a tie, not A."""
    server.enqueue(Message("Answer: 7"), *[Message("Correct answer: 7\nVerdict: A")] * 2)
    verdict = compare(judge(server, "tiny-1.5b", verdict="text"), 1, 2)
    questions = _question_requests(server)
    assert len(questions) == 2
    shown = [q.body["messages"][1]["content"] for q in questions]
    # The same two responses, once in each display order.
    assert {s.index("12") < s.index("-1") for s in shown} == {True, False}
    assert verdict.winner == "tie" and verdict.reason.startswith("position-dependent")
    assert verdict.cost.calls == 3  # the solve and both questions


def test_a_verdict_that_holds_in_both_orders_is_kept(server) -> None:
    """The model names the same response whichever comes first: that response wins."""

    def names_the_negative_one(body: dict) -> Message:
        user = body["messages"][-1]["content"]
        if "Answer:" in body["messages"][0]["content"]:
            return Message("Answer: 7")
        first = "A" if user.index("-1") < user.index("12") else "B"
        return Message(f"Correct answer: 7\nVerdict: {first}")

    server.enqueue(*[names_the_negative_one] * 3)
    verdict = compare(judge(server, "tiny-1.5b", verdict="text"), 1, 2)
    assert verdict.winner == "b" and "[the same with the display order swapped]" in verdict.reason
    assert len(_question_requests(server)) == 2


def test_swap_false_asks_once(server) -> None:
    server.enqueue(Message("Answer: 7"), Message("Correct answer: 7\nVerdict: A"))
    verdict = compare(judge(server, "tiny-1.5b", swap="false", verdict="text"), 1, 2)
    assert verdict.winner == "a" and len(_question_requests(server)) == 1

"""Small servers: the judge reads the context size, keeps requests inside it, and a
request the server refuses as too long is a forced final answer or an invalid verdict,
never a failed item.

Against the scripted loopback server through the real openai client; the server counts
tokens as words and refuses what does not fit, as llama.cpp (or vLLM) does.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rerank.items import Item
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.context import ContextBudget, fit
from rerank.judges.llm.judge import LLMJudge
from rerank.llm import EndpointPool
from rerank.llm.server_info import ServerInfo, from_models, from_props
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Message, OpenAIServer, ToolCall, refusing_endpoint

GUARD_SECONDS = 60  # a hang fails the test instead of the run; nothing is timed
FORCED = {"type": "function", "function": {"name": "final_answer"}}
POEM = Item.from_texts(
    "Write a haiku about rain.",
    ["Rain taps the tin roof / puddles gather in the lane / the cat stays inside", "rain"],
    kind="general",
)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def judge(server: OpenAIServer, model: str = "Qwen3-8B", **options: Any) -> LLMJudge:
    pool = EndpointPool(server.base_url, model, retries=0, backoff=0.0)
    return LLMJudge(pool=pool, evidence=EvidenceJudge(), **{"cache": False, **options})


def compare(j: LLMJudge, item: Item = POEM) -> Any:
    async def go():
        try:
            return await j.compare(item, 0, 1)
        finally:
            await j.aclose()

    return run(go())


def view(resource: str) -> Message:
    return Message(tool_calls=[ToolCall("view_resource", json.dumps({"id": resource}))])


def final(winner: str = "A") -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": ["rubric"], "reason": "r"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def agent(winner: str) -> Any:
    """A model that views a resource at every step, and answers when it is forced to."""

    def reply(body: dict[str, Any]) -> Message:
        return final(winner) if body.get("tool_choice") == FORCED else view("examples")

    return reply


def first_prompt_words(**options: Any) -> int:
    """The words of the judge's first request on POEM (the scripted server's tokens)."""
    with OpenAIServer() as measuring:
        measuring.enqueue(final())
        compare(judge(measuring, **options))
        return measuring.prompt_words(measuring.chat_requests[0].body)


# -- what servers say ----------------------------------------------------------------------


def test_llama_cpp_props_and_models_give_context_and_size() -> None:
    props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 2}
    models = {"data": [{"id": "judge", "meta": {"n_ctx": 4096, "n_params": 1_543_714_304}}]}
    info = from_props(props).merged(from_models(models, "judge"))
    assert info == ServerInfo(context=4096, parameters=1_543_714_304, slots=2, server="llama.cpp")


def test_vllm_models_give_the_max_model_len() -> None:
    info = from_models({"data": [{"id": "a", "max_model_len": 8192}]}, None)
    assert (info.context, info.server) == (8192, "vllm")


def test_an_answer_without_numbers_says_nothing() -> None:
    assert from_props({"error": "no"}) == ServerInfo() == from_models({"data": "x"}, "m")


@pytest.mark.parametrize("flavour", ["llama.cpp", "vllm"])
def test_the_pool_asks_the_server_once(flavour) -> None:
    with OpenAIServer(context=2048, parameters=135_000_000, flavour=flavour) as served:

        async def go():
            pool = EndpointPool(served.base_url, "test-model", retries=0)
            try:
                return await pool.server_info(), await pool.server_info()
            finally:
                await pool.aclose()

        first, again = run(go())
        asked = [r.path for r in served.requests]
    assert first == again and first.context == 2048 and first.server == flavour
    assert first.parameters == (135_000_000 if flavour == "llama.cpp" else None)
    assert sorted(asked) == ["/props", "/v1/models"]


def test_server_info_never_fails() -> None:
    """A server that does not answer adds nothing: the information is advisory."""

    async def go(url: str) -> ServerInfo:
        pool = EndpointPool(url, "m", retries=0, timeout=5)
        try:
            return await pool.server_info()
        finally:
            await pool.aclose()

    with refusing_endpoint() as dead:
        assert run(go(dead)) == ServerInfo()
    with OpenAIServer() as plain:  # no /props, no numbers in /v1/models
        assert run(go(plain.base_url)) == ServerInfo()


# -- trimming (pure) -------------------------------------------------------------------------


def _turn(k: int, size: int) -> list[dict[str, Any]]:
    call = {"id": f"c{k}", "type": "function", "function": {"name": "view", "arguments": "{}"}}
    return [{"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{k}", "content": "x" * size}]  # fmt: skip


def test_fit_clips_old_tool_results_first() -> None:
    head = [{"role": "system", "content": "s" * 300}, {"role": "user", "content": "u" * 300}]
    messages = head + _turn(1, 3000) + _turn(2, 3000)
    assert fit(messages, ContextBudget(context=1700, reply=100))
    assert messages[:2] == head  # the skill and the item stay
    assert len(messages[3]["content"]) < 700 and "clipped" in messages[3]["content"]
    assert len(messages[5]["content"]) == 3000  # the latest result, once the old one fits


def test_fit_drops_old_tool_turns_when_clipping_is_not_enough() -> None:
    head = [{"role": "system", "content": "s" * 300}, {"role": "user", "content": "u" * 300}]
    messages = head + _turn(1, 3000) + [{"role": "user", "content": "go on"}] + _turn(2, 500)
    assert fit(messages, ContextBudget(context=500, reply=50))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[1]["content"].endswith("go on")  # user turns left adjacent are joined


def test_fit_says_when_nothing_is_left_to_trim() -> None:
    messages = [{"role": "user", "content": "u" * 3000}]
    assert not fit(messages, ContextBudget(context=100, reply=10))
    assert messages == [{"role": "user", "content": "u" * 3000}]


def test_the_estimate_follows_what_the_server_counts() -> None:
    budget = ContextBudget(context=1000, reply=0)
    messages = [{"role": "user", "content": "word " * 100}]
    before = budget.tokens(messages)
    budget.observe(messages, None, prompt_tokens=108)  # the server counted 100 + 8
    assert budget.tokens(messages) < before and budget.tokens(messages) >= 100


# -- the judge on a small server --------------------------------------------------------------


def test_every_request_stays_inside_the_reported_context() -> None:
    """Tool results pile up: the loop forces the final answer before the limit, and no
    request is refused."""
    context = first_prompt_words(max_tokens=50) + 900
    with OpenAIServer(models=("Qwen3-8B",), context=context) as small:
        small.default = agent("A")
        verdict = compare(judge(small, max_tokens=50, max_steps=6))
        bodies = [r.body for r in small.chat_requests]
    assert verdict.winner == "a"
    assert all(small.prompt_words(b) + b["max_tokens"] <= context for b in bodies)
    assert bodies[-1]["tool_choice"] == FORCED and len(bodies) < 7  # forced before 6 steps


def test_a_request_refused_as_too_long_forces_the_final_answer() -> None:
    """The judge believes the context is large; the server refuses a step: the final
    answer is forced on a shrunk conversation, and the verdict stands."""
    context = first_prompt_words(max_tokens=50) + 400
    with OpenAIServer(models=("Qwen3-8B",), context=context) as small:
        small.default = agent("B")
        verdict = compare(judge(small, max_tokens=50, max_steps=6, context=100_000))
        bodies = [r.body for r in small.chat_requests]
    refused = [b for b in bodies if small.prompt_words(b) > context]
    assert refused and verdict.winner == "b"
    assert bodies[-1]["tool_choice"] == FORCED
    assert small.prompt_words(bodies[-1]) <= context


@pytest.mark.parametrize("verdict_mode", ["logprobs", "text"])
def test_a_question_too_long_for_the_server_is_an_invalid_verdict(verdict_mode) -> None:
    """Nothing can be trimmed from a compact question: the verdict is invalid with the
    reason, and the item is selected all the same (no failed item)."""
    with OpenAIServer(models=("tiny-1.5b",), context=20, flavour="vllm") as tiny:
        j = judge(tiny, "tiny-1.5b", verdict=verdict_mode)

        async def go():
            try:
                return await select_item(POEM, StrategyConfig("knockout", seed=0), j)
            finally:
                await j.aclose()

        result = run(go())
    (match,) = result.selection.matches
    (verdict,) = match.verdicts
    assert verdict.winner == "invalid" and "context" in verdict.reason
    assert result.selection.winner in (0, 1)

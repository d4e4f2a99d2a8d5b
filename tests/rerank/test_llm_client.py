"""The endpoint pool, through the real openai client and a real server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import random
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from rerank.errors import ConfigError, EndpointError, RequestRejectedError
from rerank.judges import Cost
from rerank.llm import EndpointPool, Usage, parse_base_urls, resolve_api_key
from rerank.llm.endpoints import PLACEHOLDER_API_KEY, parse_retry_after, retry_delay
from rerank.testing import (
    Delay,
    ErrorReply,
    Message,
    OpenAIServer,
    RawReply,
    ToolCall,
    openai_server_fixture,
    refusing_endpoint,
)

GUARD_SECONDS = 20  # a hang fails the test instead of the run; nothing is timed
HELLO = [{"role": "user", "content": "which is better"}]
THINKING_OFF = {"enable_thinking": False}

server = openai_server_fixture("server")
other = openai_server_fixture("other")


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def make_pool(urls: str | list[str], **options: Any) -> EndpointPool:
    """A pool that retries without waiting, so failing tests stay fast."""
    options = {"model": "judge-model", "backoff": 0.0, "retries": 1, **options}
    return EndpointPool(urls, **options)


async def chat(pool: EndpointPool, **options: Any) -> Any:
    async with pool:
        return await pool.chat(HELLO, **options)


def test_chat_round_trip_returns_content_usage_and_endpoint(server):
    """A call returns the reply, its token usage and where it came from, and adds to totals."""
    server.enqueue(Message("A is better", prompt_tokens=11, completion_tokens=3))
    pool = make_pool(server.base_url)
    result = run(chat(pool, max_tokens=50, seed=3))
    assert (result.content, result.finish_reason, result.tool_calls) == ("A is better", "stop", ())
    assert result.usage == Usage(1, 11, 3, result.latency)
    assert (result.endpoint, result.attempts, result.model) == (server.base_url, 1, "judge-model")
    assert result.latency == result.usage.seconds >= 0
    assert pool.totals == result.usage
    body = server.chat_requests[0].body
    assert (body["model"], body["messages"], body["temperature"]) == ("judge-model", HELLO, 0.0)
    assert (body["max_tokens"], body["seed"]) == (50, 3)


def test_usage_fields_are_those_of_cost():
    """A judge turns a pool's Usage into a Cost field for field."""
    usage = Usage(1, 2, 3, 4.0) + Usage(1, 1, 1, 1.0)
    assert Cost(**dataclasses.asdict(usage)) == Cost(2, 3, 4, 5.0)


def test_tool_calls_come_back_parsed(server):
    """Tool calls are parsed into name and raw arguments; tools and tool_choice are sent."""
    server.enqueue(Message(tool_calls=[ToolCall("run_tests", '{"candidate": 1}', id="c1")]))
    tools = [{"type": "function", "function": {"name": "run_tests", "parameters": {}}}]
    result = run(chat(make_pool(server.base_url), tools=tools, tool_choice="auto"))
    assert result.tool_calls == (ToolCall("run_tests", '{"candidate": 1}', "c1"),)
    assert result.finish_reason == "tool_calls"
    assert result.as_message()["tool_calls"][0]["function"] == {
        "name": "run_tests",
        "arguments": '{"candidate": 1}',
    }
    body = server.chat_requests[0].body
    assert (body["tools"], body["tool_choice"]) == (tools, "auto")


def test_reasoning_of_a_thinking_model_is_kept_apart(server):
    """reasoning_content (vLLM, SGLang) comes back as reasoning, not mixed into content."""
    server.enqueue(Message("B", reasoning="B runs the tests"))
    result = run(chat(make_pool(server.base_url)))
    assert (result.content, result.reasoning) == ("B", "B runs the tests")


def test_failover_when_the_first_endpoint_refuses_connections(server):
    """A refused connection moves the call to the next endpoint, which answers."""
    server.enqueue(Message("ok"))
    with refusing_endpoint() as dead:
        pool = make_pool([dead, server.base_url])
        result = run(chat(pool))
    assert (result.endpoint, result.attempts) == (server.base_url, 2)
    dead_status, live_status = pool.status()
    assert (dead_status.requests, dead_status.failures, dead_status.healthy) == (1, 1, False)
    assert (live_status.requests, live_status.failures) == (1, 0)


def test_failover_when_the_first_endpoint_returns_500(server, other):
    """A 500 moves the call to the next endpoint; the first one was asked once."""
    server.enqueue(ErrorReply(500, "engine crashed"))
    other.enqueue(Message("ok"))
    result = run(chat(make_pool([server.base_url, other.base_url])))
    assert (result.endpoint, result.content, result.attempts) == (other.base_url, "ok", 2)
    assert len(server.chat_requests) == 1


def test_refusing_endpoint_is_skipped_by_later_calls_while_it_cools_down(server):
    """After refusing a connection an endpoint is passed over while another one answers."""
    server.default = Message("ok")

    async def two_calls(pool: EndpointPool) -> list[Any]:
        async with pool:
            return [await pool.chat(HELLO), await pool.chat(HELLO)]

    with refusing_endpoint() as dead:
        first, second = run(two_calls(make_pool([dead, server.base_url], cooldown=600)))
    assert (first.attempts, second.attempts) == (2, 1)
    assert second.endpoint == server.base_url


def test_rate_limit_is_retried_after_the_wait_the_server_asked_for(server):
    """A 429 is retried after waiting as long as its Retry-After says."""
    server.enqueue(ErrorReply(429, "busy", headers={"Retry-After": "0.05"}), Message("ok"))
    result = run(chat(make_pool(server.base_url)))
    assert (result.content, result.attempts, result.waited) == ("ok", 2, 0.05)
    assert len(server.chat_requests) == 2


def test_a_long_retry_after_is_cut_to_max_wait(server):
    """A Retry-After of an hour waits max_wait instead."""
    server.enqueue(ErrorReply(429, "busy", headers={"Retry-After": "3600"}), Message("ok"))
    result = run(chat(make_pool(server.base_url, max_wait=0.01)))
    assert (result.content, result.waited) == ("ok", 0.01)


def test_retry_delay_honours_retry_after_up_to_the_cap():
    """The wait is at least what the server asked, and never more than max_wait."""
    assert retry_delay(1, backoff=0.0, max_wait=30, retry_after=2.5) == 2.5
    assert retry_delay(1, backoff=0.0, max_wait=5, retry_after=3600) == 5
    assert retry_delay(9, backoff=1.0, max_wait=5) == 5


def test_retry_delay_grows_exponentially_with_jitter():
    """Round r waits between half and all of backoff * 2**(r-1)."""
    rng = random.Random(0)
    for round_, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        delays = [retry_delay(round_, backoff=0.5, max_wait=60, rng=rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def test_parse_retry_after_reads_seconds_milliseconds_and_dates():
    """Retry-After in seconds or as an HTTP date, retry-after-ms; nonsense is ignored."""
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_timeout_is_retried(server):
    """A request that outlasts the timeout is sent again, and the second answer is used."""
    gate = threading.Event()
    server.enqueue(Delay(Message("too late"), gate=gate), Message("on time"))
    try:
        result = run(chat(make_pool(server.base_url, timeout=0.2)))
    finally:
        gate.set()
    assert (result.content, result.attempts) == ("on time", 2)


def test_malformed_answer_is_retried(server):
    """A 200 whose body is not JSON counts as a failure and the call is retried."""
    server.enqueue(RawReply("{not json"), Message("ok"))
    result = run(chat(make_pool(server.base_url)))
    assert (result.content, result.attempts) == ("ok", 2)


def test_all_endpoints_failing_names_each_and_what_it_said(server):
    """When every endpoint fails every round, the error names each one and its failure."""
    with refusing_endpoint() as dead, pytest.raises(EndpointError) as caught:
        run(chat(make_pool([dead, server.base_url], retries=1)))
    message = str(caught.value)
    assert f"{dead} refused the connection (2 attempts)" in message
    assert f"{server.base_url}: 500 Internal Server Error (no scripted reply" in message
    assert "Is the server running? Check --base-url." in message
    assert len(server.chat_requests) == 2


def test_client_error_is_not_retried_and_quotes_the_server(server, other):
    """A 400 that is not about thinking raises at once with the server's words."""
    server.enqueue(ErrorReply(400, "messages must alternate user and assistant"))
    with pytest.raises(RequestRejectedError) as caught:
        run(chat(make_pool([server.base_url, other.base_url], retries=3)))
    assert "messages must alternate user and assistant" in str(caught.value)
    assert caught.value.status == 400
    assert (len(server.chat_requests), len(other.chat_requests)) == (1, 0)


def test_thinking_flag_is_dropped_for_good_once_an_endpoint_rejects_it(server):
    """A 400 about chat_template_kwargs resends without it, and later calls never send it."""
    server.enqueue(
        ErrorReply(400, "Unrecognized request argument supplied: chat_template_kwargs"),
        Message("first"),
        Message("second"),
    )

    async def two_calls(pool: EndpointPool) -> list[Any]:
        async with pool:
            return [await pool.chat(HELLO), await pool.chat(HELLO)]

    pool = make_pool(server.base_url, retries=0)
    first, second = run(two_calls(pool))
    assert (first.content, first.attempts, second.attempts) == ("first", 2, 1)
    sent = [r.body for r in server.chat_requests]
    assert sent[0]["chat_template_kwargs"] == THINKING_OFF
    assert "chat_template_kwargs" not in sent[1] and "chat_template_kwargs" not in sent[2]
    assert pool.status()[0].sends_template_kwargs is False


def test_concurrent_calls_both_recover_when_the_thinking_flag_is_rejected(server):
    """Calls in flight together that both carried the field are both resent without it."""
    gate = threading.Event()
    rejected = ErrorReply(422, "chat_template_kwargs: extra inputs are not permitted")
    server.default = lambda body: (
        Delay(rejected, gate=gate) if "chat_template_kwargs" in body else Message("ok")
    )
    pool = make_pool(server.base_url, retries=0)

    async def two_at_once() -> list[Any]:
        async with pool:
            calls = [asyncio.create_task(pool.chat(HELLO)) for _ in range(2)]
            assert await asyncio.to_thread(server.wait_until, lambda s: s.in_flight == 2)
            gate.set()
            return await asyncio.gather(*calls)

    try:
        results = run(two_at_once())
    finally:
        gate.set()
    assert [(r.content, r.attempts) for r in results] == [("ok", 2), ("ok", 2)]


def test_thinking_flag_is_sent_and_merged_with_extra_body(server):
    """enable_thinking travels in chat_template_kwargs beside the caller's extra_body."""
    server.enqueue(Message("ok"))
    extra = {"top_k": 5, "chat_template_kwargs": {"custom": 1}}
    run(chat(make_pool(server.base_url, enable_thinking=True), extra_body=extra))
    body = server.chat_requests[0].body
    assert body["top_k"] == 5
    assert body["chat_template_kwargs"] == {"custom": 1, "enable_thinking": True}


def test_api_key_is_sent_as_bearer_but_never_shown(server, caplog):
    """The key reaches the server, yet no repr, error message or log line contains it."""
    key = "sk-very-secret-key-123"
    server.enqueue(
        ErrorReply(500, f"upstream refused key {key}"),
        Message("ok"),
        ErrorReply(401, f"invalid api key {key}"),
    )
    pool = make_pool(server.base_url, api_key=key)

    async def calls() -> tuple[Any, RequestRejectedError]:
        async with pool:
            result = await pool.chat(HELLO)
            with pytest.raises(RequestRejectedError) as caught:
                await pool.chat(HELLO)
            return result, caught.value

    with caplog.at_level(logging.DEBUG):
        result, error = run(calls())
        with refusing_endpoint() as dead, pytest.raises(EndpointError) as unreachable:
            run(chat(make_pool(dead, api_key=key)))
    assert all(r.carries_key(key) for r in server.chat_requests)
    shown = [repr(pool), str(pool), repr(result), str(error), str(unreachable.value), caplog.text]
    assert not [text for text in shown if key in text]
    assert "Check the API key" in str(error) and "upstream refused key ***" in caplog.text


def test_api_key_comes_from_argument_then_environment_then_placeholder(monkeypatch):
    """The argument wins, then $RERANK_API_KEY, then $OPENAI_API_KEY, then a placeholder."""
    monkeypatch.delenv("RERANK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key() == PLACEHOLDER_API_KEY
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    assert resolve_api_key() == "from-openai"
    monkeypatch.setenv("RERANK_API_KEY", "from-rerank")
    assert resolve_api_key() == "from-rerank"
    assert resolve_api_key("given") == "given"


def test_concurrency_cap_per_endpoint_is_never_exceeded(server, other):
    """No endpoint ever has more requests in flight than its own cap; the rest queue."""
    gate = threading.Event()
    server.default = other.default = Delay(Message("ok"), gate=gate)
    pool = make_pool([server.base_url, other.base_url], concurrency=[1, 2])

    async def flood() -> list[Any]:
        async with pool:
            calls = [asyncio.create_task(pool.chat(HELLO)) for _ in range(7)]
            full = await asyncio.to_thread(
                lambda: (
                    server.wait_until(lambda s: s.in_flight == 1)
                    and other.wait_until(lambda s: s.in_flight == 2)
                )
            )
            assert full
            while pool.waiting < 4:  # the other four are queued in the pool, not sent
                await asyncio.sleep(0)
            gate.set()
            return await asyncio.gather(*calls)

    try:
        results = run(flood())
    finally:
        gate.set()
    assert [r.content for r in results] == ["ok"] * 7
    assert (server.max_in_flight, other.max_in_flight) == (1, 2)
    assert len(server.chat_requests) + len(other.chat_requests) == 7


def test_round_robin_spreads_calls_over_endpoints(server, other):
    """Successive calls go to the endpoints in turn."""
    server.default = other.default = Message("ok")

    async def four_calls(pool: EndpointPool) -> list[str]:
        async with pool:
            return [(await pool.chat(HELLO)).endpoint for _ in range(4)]

    used = run(four_calls(make_pool([server.base_url, other.base_url])))
    assert used == [server.base_url, other.base_url] * 2


def test_model_is_discovered_once_from_v1_models():
    """Without a model the pool asks /v1/models once and uses the first one listed."""
    with OpenAIServer(models=("served-model", "spare"), default=Message("ok")) as served:

        async def two_calls(pool: EndpointPool) -> list[Any]:
            async with pool:
                return [await pool.chat(HELLO), await pool.chat(HELLO)]

        run(two_calls(make_pool(served.base_url, model=None)))
        paths = [r.path for r in served.requests]
        assert paths == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
        assert {r.body["model"] for r in served.chat_requests} == {"served-model"}


def test_a_server_listing_no_model_asks_for_one():
    """An empty /v1/models is an EndpointError that says to pass --model."""
    with OpenAIServer(models=()) as empty, pytest.raises(EndpointError, match="pass --model"):
        run(chat(make_pool(empty.base_url, model=None)))


# The first loop's keep-alive connections die with it, unclosed: that is the point.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pool_works_across_event_loops(server):
    """A pool used by two asyncio.run calls (sync wrappers do that) keeps working."""
    server.default = Message("ok")
    pool = make_pool(server.base_url)
    assert run(pool.chat(HELLO)).content == "ok"
    assert run(pool.chat(HELLO)).attempts == 1
    assert pool.totals.calls == 2
    gc.collect()  # so the dead loop's connections are collected under this test's filter


def test_base_urls_are_split_normalised_and_deduplicated():
    """Comma separated and repeated values give each URL once, with /v1 when no path."""
    assert parse_base_urls(["http://a:1/v1,http://b:2", " http://a:1/v1/ ", "https://c/api"]) == [
        "http://a:1/v1",
        "http://b:2/v1",
        "https://c/api",
    ]


@pytest.mark.parametrize("value", ["localhost:8000", "ftp://host/v1", " , "])
def test_unusable_base_url_is_a_config_error(value):
    """A URL without http(s) or no URL at all is a ConfigError that shows the form."""
    with pytest.raises(ConfigError, match="--base-url"):
        parse_base_urls(value)


def test_concurrency_list_must_match_the_endpoints():
    """One cap per URL or one for all: any other count is a ConfigError."""
    with pytest.raises(ConfigError, match="2 concurrency limits for 3 endpoints"):
        EndpointPool("http://a/v1,http://b/v1,http://c/v1", "m", concurrency=[1, 2])


def test_the_first_tokens_log_probabilities_and_cached_tokens_come_back(server):
    """ChatResult.top_logprobs holds the first token's alternatives; usage.cached_tokens
    the prompt tokens the server served from its cache."""
    server.enqueue(Message("A", top_logprobs={"A": -0.2, "B": -1.7}, prompt_tokens=40,
                           cached_tokens=32))  # fmt: skip
    result = run(chat(make_pool(server.base_url), logprobs=True, top_logprobs=5, max_tokens=1))
    assert result.top_logprobs == (("A", -0.2), ("B", -1.7))
    assert (result.usage.prompt_tokens, result.usage.cached_tokens) == (40, 32)
    body = server.chat_requests[0].body
    assert (body["logprobs"], body["top_logprobs"], body["max_tokens"]) == (True, 5, 1)


def test_without_logprobs_top_logprobs_is_none(server):
    server.enqueue(Message("A"))
    result = run(chat(make_pool(server.base_url)))
    assert result.top_logprobs is None and result.usage.cached_tokens == 0

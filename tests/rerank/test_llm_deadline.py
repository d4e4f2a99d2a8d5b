"""``timeout`` is a deadline on each whole request: a server that trickles its answer a few
bytes at a time (never idle long enough for a read timeout) fails at the deadline, is
retried like any timeout, and its verdict is never used."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.errors import EndpointError
from rerank.llm import EndpointPool
from rerank.testing import Message, ToolCall, openai_server_fixture
from rerank.testing.openai_server import Trickle

GUARD_SECONDS = 20  # a hang fails the test instead of the run
HELLO = [{"role": "user", "content": "which is better"}]
# One byte every half second: any chat completion body (well over 120 bytes) takes over a
# minute to arrive, while each read gets a byte long before the client's read timeout.
SLOW = {"chunk": 1, "interval": 0.5}
TRICKLE_SECONDS = 60

trickling = openai_server_fixture("trickling")
healthy = openai_server_fixture("healthy")


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


async def chat(pool: EndpointPool) -> Any:
    async with pool:
        return await pool.chat(HELLO)


def make_pool(urls: str | list[str], **options: Any) -> EndpointPool:
    return EndpointPool(urls, "judge-model", **{"backoff": 0.0, "timeout": 1.0, **options})


def test_a_trickled_answer_fails_over_to_a_healthy_endpoint(trickling, healthy):
    """The trickled reply is cut off at the deadline and the healthy endpoint's answer used."""
    trickling.default = Trickle(Message("trickled verdict"), **SLOW)
    healthy.default = Message("healthy verdict")
    pool = make_pool([trickling.base_url, healthy.base_url], retries=0)
    started = time.monotonic()
    result = run(chat(pool))
    assert time.monotonic() - started < TRICKLE_SECONDS / 3
    assert (result.content, result.endpoint, result.attempts) == (
        "healthy verdict",
        healthy.base_url,
        2,
    )
    slow, fine = pool.status()
    assert (slow.requests, slow.failures, fine.failures) == (1, 1, 0)


def test_a_trickled_answer_is_retried_on_the_same_endpoint(trickling):
    """The deadline's failure is retried per policy; the retry's answer, not the trickle's."""
    trickling.enqueue(Trickle(Message("trickled verdict"), **SLOW), Message("second answer"))
    result = run(chat(make_pool(trickling.base_url, retries=1)))
    assert (result.content, result.attempts) == ("second answer", 2)
    assert len(trickling.chat_requests) == 2


def test_an_endpoint_that_always_trickles_fails_with_the_deadline_named(trickling):
    """Every round misses the deadline: the error names the endpoint, the deadline, the count."""
    trickling.default = Trickle(Message("trickled verdict"), **SLOW)
    pool = make_pool(trickling.base_url, retries=2, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(EndpointError) as caught:
        run(chat(pool))
    assert time.monotonic() - started < TRICKLE_SECONDS / 3
    message = str(caught.value)
    expected = f"{trickling.base_url} did not finish answering within the 0.5 s deadline"
    assert f"{expected} (3 attempts)" in message
    assert "raise --timeout" in message
    assert len(trickling.chat_requests) == 3
    assert pool.status()[0].failures == 3
    assert pool.totals.calls == 0  # no answer was accepted


def test_select_uses_the_healthy_verdict_when_one_endpoint_trickles(
    trickling, healthy, tmp_path, monkeypatch
):
    """`rerank select --timeout` end to end: every verdict is the healthy endpoint's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def final(reason: str) -> Message:
        verdict = {"winner": "A", "confidence": 0.8, "evidence": [], "reason": reason}
        return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])

    trickling.default = Trickle(final("from the trickle"), **SLOW)
    healthy.default = final("from the healthy endpoint")
    rows = [
        {"id": f"q{k}", "prompt": f"Write a haiku about rain, take {k}.",
         "candidates": ["Rain taps the tin roof", "rain rain rain"], "task": {"kind": "general"}}
        for k in range(3)
    ]  # fmt: skip
    poems, trace = tmp_path / "poems.jsonl", tmp_path / "trace.jsonl"
    poems.write_text("".join(json.dumps(row) + "\n" for row in rows))
    urls = f"{trickling.base_url},{healthy.base_url}"
    args = ["select", str(poems), "--strategy", "knockout", "--base-url", urls, "--model", "m"]
    started = time.monotonic()
    result = CliRunner().invoke(
        main, [*args, "--timeout", "1", "--no-cache", "--trace", str(trace)]
    )
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < TRICKLE_SECONDS / 2
    traced = [json.loads(line) for line in Path(trace).read_text().splitlines()]
    reasons = [v["reason"] for row in traced for m in row["matches"] for v in m["verdicts"]]
    assert reasons == ["from the healthy endpoint"] * 3
    assert len(trickling.chat_requests) >= 1 and len(healthy.chat_requests) == 3

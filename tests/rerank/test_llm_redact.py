"""Credentials inside a base URL (``user:KEY@``, ``?api_key=KEY``) reach the server but are
masked in everything rerank prints or writes: messages, logs, status, rows, trace, cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.errors import ConfigError, EndpointError, RequestRejectedError
from rerank.judges import create_judge
from rerank.llm import EndpointPool, parse_base_urls, redact_url, redact_urls
from rerank.llm.redact import redact_spec, url_secrets
from rerank.testing import ErrorReply, Message, ToolCall, openai_server_fixture, refusing_endpoint

SECRET = "s3cret-Key-4242"
GUARD_SECONDS = 20
HELLO = [{"role": "user", "content": "which is better"}]

server = openai_server_fixture("server")


def with_secrets(base_url: str) -> str:
    """``base_url`` with the key both as the userinfo password and as a query parameter."""
    return base_url.replace("http://", f"http://user:{SECRET}@") + f"?api_key={SECRET}&mode=x"


def masked(base_url: str) -> str:
    return base_url.replace("http://", "http://user:***@") + "?api_key=***&mode=x"


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def keyed_pool(base_url: str, retries: int = 0) -> EndpointPool:
    return EndpointPool(with_secrets(base_url), "m", backoff=0.0, retries=retries)


async def chat(pool: EndpointPool) -> Any:
    async with pool:
        return await pool.chat(HELLO)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bob:hunter2@h:8000/v1", "http://bob:***@h:8000/v1"),
        ("https://sk-live-1234@h/v1", "https://***@h/v1"),  # the user alone is the key
        ("http://a1b2c3d4e5f6a7b8c9:pw@h/v1", "http://***:***@h/v1"),  # the user looks like one
        ("http://h/v1?api_key=k&model=m", "http://h/v1?api_key=***&model=m"),
        (
            "http://h/v1?key=k&token=t&access_token=a",
            "http://h/v1?key=***&token=***&access_token=***",
        ),
        (
            "http://h/v1?X-Amz-Signature=s&sig=s#frag",
            "http://h/v1?X-Amz-Signature=***&sig=***#frag",
        ),
        ("user:pw@h:8000/v1", "user:***@h:8000/v1"),  # no scheme: still masked
        ("http://localhost:8000/v1?mode=fast", "http://localhost:8000/v1?mode=fast"),
        ("http://h/v1?api_key=", "http://h/v1?api_key="),
    ],
)
def test_redact_url_masks_credentials_and_keeps_the_rest(url, shown):
    """Password, key-like user and key-like query values are masked; nothing else changes."""
    assert redact_url(url) == shown


def test_redact_urls_masks_every_url_in_a_text_up_to_a_comma():
    """URLs inside a judge spec are masked; the options after them are kept."""
    spec = f"llm:base_url=http://u:{SECRET}@h/v1?token={SECRET},model=m"
    assert redact_urls(spec) == "llm:base_url=http://u:***@h/v1?token=***,model=m"


def test_url_secrets_are_given_as_written_and_decoded():
    """A server may echo the decoded value of a percent-encoded key: both are known."""
    assert url_secrets("http://u:p%40ss@h/v1?key=k") == ("p%40ss", "p@ss", "k")
    assert url_secrets("http://h:8000/v1") == ()


def test_base_urls_keep_their_query_after_the_added_path():
    """/v1 goes before the query string, not after it."""
    assert parse_base_urls(f"http://h:1?api_key={SECRET}") == [f"http://h:1/v1?api_key={SECRET}"]


def test_an_unusable_base_url_is_shown_masked():
    """The ConfigError for a URL that is not http(s) does not repeat its key."""
    with pytest.raises(ConfigError) as caught:
        parse_base_urls(f"ftp://user:{SECRET}@h/v1")
    assert SECRET not in str(caught.value) and "ftp://user:***@h/v1" in str(caught.value)


def test_a_judge_spec_is_recorded_and_reported_with_its_url_masked():
    """create_judge records the spec masked, and its errors do not repeat the key either."""
    url = f"http://user:{SECRET}@127.0.0.1:9/v1?api_key={SECRET}"
    judge = create_judge(f"llm:base_url={url},cache=false")
    assert judge.spec == "llm:base_url=http://user:***@127.0.0.1:9/v1?api_key=***,cache=false"
    with pytest.raises(ConfigError) as caught:
        create_judge(f"llm:base_url={url},no_such_option=1")
    assert "no_such_option" in str(caught.value) and SECRET not in str(caught.value)


def test_a_key_given_as_a_judge_option_is_recorded_masked():
    """``llm:api_key=KEY`` is recorded as ``api_key=***``; ``max_tokens`` is not a key."""
    judge = create_judge(f"llm:base_url=http://127.0.0.1:9/v1,api_key={SECRET},cache=false")
    assert judge.spec == "llm:base_url=http://127.0.0.1:9/v1,api_key=***,cache=false"
    assert redact_spec("llm:max_tokens=64,access_token=t") == "llm:max_tokens=64,access_token=***"


def test_credentials_reach_the_server_but_no_message_log_or_status(server, caplog):
    """The request carries the URL's key; repr, status, results, errors and logs do not."""
    server.enqueue(
        ErrorReply(500, f"upstream rejected {SECRET}"),
        Message("ok"),
        ErrorReply(401, f"invalid api_key {SECRET}"),
    )
    pool = keyed_pool(server.base_url, retries=1)
    with caplog.at_level(logging.DEBUG):
        result = run(chat(pool))
        with pytest.raises(RequestRejectedError) as rejected:
            run(chat(keyed_pool(server.base_url)))
        with refusing_endpoint() as dead, pytest.raises(EndpointError) as unreachable:
            run(chat(keyed_pool(dead)))
    first = server.chat_requests[0]
    assert first.path == f"/v1/chat/completions?api_key={SECRET}&mode=x"
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    assert first.api_key_sha256 == hashlib.sha256(f"Basic {basic}".encode()).hexdigest()
    shown = [repr(pool), str(pool.status()), repr(result), str(rejected.value), caplog.text]
    shown.append(str(unreachable.value))
    assert not [text for text in shown if SECRET in text]
    assert result.endpoint == masked(server.base_url)
    assert f"{masked(server.base_url)} rejected the request" in str(rejected.value)
    assert f"{masked(dead)} refused the connection" in str(unreachable.value)
    assert "upstream rejected ***" in caplog.text


@pytest.fixture
def runner(monkeypatch, tmp_path) -> CliRunner:
    """A CliRunner whose default verdict cache lives in the test's directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RERANK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return CliRunner()


@pytest.fixture
def poems(tmp_path) -> Path:
    rows = [
        {"id": f"q{k}", "prompt": f"Write a haiku about rain, take {k}.",
         "candidates": ["Rain taps the tin roof", "rain rain rain"], "task": {"kind": "general"}}
        for k in range(2)
    ]  # fmt: skip
    path = tmp_path / "poems.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _final(winner: str) -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": [], "reason": "better"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def _files_holding(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_select_writes_no_key_to_output_trace_or_cache(runner, server, poems, tmp_path, caplog):
    """`rerank select --base-url URL-with-key`: output, trace, cache and logs are clean."""
    server.enqueue(ErrorReply(503, f"key {SECRET} is warming up"))
    server.default = _final("A")
    out, trace, cache = tmp_path / "out.jsonl", tmp_path / "trace.jsonl", tmp_path / "v.sqlite"
    files = ["--out", str(out), "--trace", str(trace), "--cache", str(cache)]
    args = ["select", str(poems), "--base-url", with_secrets(server.base_url), *files]
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(server.chat_requests) == 3  # one 503, then one verdict per item
    assert SECRET not in result.output + result.stderr + caplog.text
    assert out.exists() and trace.exists() and cache.exists()
    assert _files_holding(tmp_path, SECRET) == []


def test_a_spec_with_a_keyed_base_url_is_recorded_masked(runner, server, poems, tmp_path):
    """`--judge llm:base_url=URL-with-key`: the rows record the spec with the URL masked."""
    server.default = _final("A")
    out = tmp_path / "out.jsonl"
    spec = f"llm:base_url={with_secrets(server.base_url)}"
    result = runner.invoke(
        main, ["select", str(poems), "--judge", spec, "--no-cache", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["judge"] for row in rows} == {f"llm:base_url={masked(server.base_url)}"}
    assert SECRET not in result.output + result.stderr + out.read_text()


def test_select_against_a_dead_port_shows_the_url_masked(runner, poems, tmp_path):
    """The failure message names the endpoint by its masked URL."""
    out = tmp_path / "out.jsonl"
    with refusing_endpoint() as dead:
        args = ["select", str(poems), "--base-url", with_secrets(dead), "--judge", "llm:retries=0"]
        result = runner.invoke(main, [*args, "--no-cache", "--out", str(out)])
    assert result.exit_code != 0
    assert f"{masked(dead)} refused the connection" in result.output + result.stderr
    assert SECRET not in result.output + result.stderr
    assert _files_holding(tmp_path, SECRET) == []

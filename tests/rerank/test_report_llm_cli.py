"""rerank report with select's strategy and LLM judge options, against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.testing import Message, ToolCall, openai_server_fixture

server = openai_server_fixture("server")

#: Two math items with a reference: exposed, the reference decides most pairs (hard evidence).
ITEMS = [
    ("What is 2+3?", ["#### 4", "2+3=5 #### 5", "#### 5", "#### 6"], [0, 1, 1, 0], "5"),
    ("What is 3*4?", ["3*4=12 #### 12", "#### 10", "#### 10", "#### 11"], [1, 0, 0, 0], "12"),
]
KEY = "sk-report-DO-NOT-LEAK"


def _final(winner: str = "A") -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": [], "reason": "better"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


@pytest.fixture
def data(tmp_path: Path, write_jsonl, jetts_row, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RERANK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rows = [
        jetts_row(prompt, texts, scores, kind="math", task_id=f"t{i}", reference=f"#### {ref}")
        for i, (prompt, texts, scores, ref) in enumerate(ITEMS)
    ]
    return write_jsonl(tmp_path / "toy_gen.jsonl", rows)


def _report(out: Path, *args: object) -> dict:
    argv = ["report", "--out", out, "--bootstrap", "20", *args]
    result = CliRunner().invoke(main, [str(a) for a in argv])
    assert result.exit_code == 0, result.output
    return json.loads((out / "metrics.json").read_text())


def _only(metrics: dict, judge: str) -> dict:
    (group,) = metrics["groups"]
    return next(s for s in group["selectors"] if s["judge"] == judge)


def test_llm_options_reach_the_judge(server, data: Path, tmp_path: Path) -> None:
    """--model, --api-key, --skill and --max-tokens reach every request; the spec says so."""
    server.default = _final()
    out = tmp_path / "r"
    args = [data, "-s", "knockout", "-j", "evidence", "-j", "llm", "--base-url", server.base_url]
    args += ["--model", "m", "--api-key", KEY, "--skill", "general", "--max-tokens", "77"]
    metrics = _report(out, *args, "--no-cache")
    spec = "llm:model=m,skill=general,max_tokens=77"
    assert metrics["config"]["judges"] == ["evidence", spec]
    assert server.chat_requests
    for request in server.chat_requests:
        assert request.body["model"] == "m" and request.body["max_tokens"] == 77
        assert request.carries_key(KEY)
        assert request.body["messages"][0]["content"].startswith("# Evaluation skill: general")
    costs = _only(metrics, spec)["costs"]
    # Only the run at N asks the model: model judges are not run on subsets of k.
    assert costs["judge_calls"] == len(server.chat_requests) / 2
    assert _only(metrics, spec)["at_k_from"] == "N"
    assert _only(metrics, "evidence")["at_k_from"] == "subsamples"
    assert costs["tokens"] > 0 and _only(metrics, "evidence")["costs"]["judge_calls"] == 0
    assert metrics["label_use"]["judges_blind_to_labels"] == ["evidence", spec]
    for path in out.rglob("*"):
        assert path.is_dir() or b"DO-NOT-LEAK" not in path.read_bytes()


def test_no_short_circuit_asks_what_the_evidence_decided(server, data, tmp_path) -> None:
    """With the reference exposed evidence decides every pair; --no-short-circuit asks."""
    server.default = _final()
    args = [data, "-s", "knockout", "--expose", "reference", "--base-url", server.base_url]
    decided = _only(_report(tmp_path / "a", *args, "--no-cache"), "llm")
    assert len(server.chat_requests) == 0 and decided["rates"]["short_circuit"] > 0
    asked = _only(
        _report(tmp_path / "b", *args, "--no-cache", "--no-short-circuit"),
        "llm:short_circuit=false",
    )
    assert asked["rates"]["short_circuit"] == 0.0
    assert asked["costs"]["judge_calls"] * 2 == len(server.chat_requests) > 0


def test_both_orders_doubles_the_calls(server, data: Path, tmp_path: Path) -> None:
    """--both-orders asks every match twice: same comparisons, twice the model calls."""
    server.default = _final("A")  # always the first shown: every swapped pair disagrees
    args = [data, "-s", "knockout", "--base-url", server.base_url, "--no-cache"]
    once = _only(_report(tmp_path / "a", *args), "llm")
    calls = len(server.chat_requests)
    twice = _only(_report(tmp_path / "b", *args, "--both-orders"), "llm")
    assert len(server.chat_requests) - calls == 2 * calls > 0
    assert twice["costs"]["judge_calls"] == 2 * once["costs"]["judge_calls"]
    assert twice["costs"]["comparisons"] == once["costs"]["comparisons"] == 3.0
    assert once["rates"]["swap_disagreement"] is None
    assert twice["rates"]["swap_disagreement"] > 0
    assert twice["strategy_options"] == {"both_orders": True}


def test_a_cached_rerun_asks_nothing(server, data: Path, tmp_path: Path) -> None:
    """--cache: a second report reads every verdict from the cache and picks the same."""
    server.default = _final("B")
    args = [data, "-s", "sequential", "--base-url", server.base_url]
    args += ["--cache", tmp_path / "verdicts.sqlite"]
    first = _only(_report(tmp_path / "a", *args), "llm")
    calls = len(server.chat_requests)
    second = _only(_report(tmp_path / "b", *args), "llm")
    assert calls > 0 and len(server.chat_requests) == calls
    assert second["costs"]["judge_calls"] == 0 and second["accuracy"] == first["accuracy"]


def test_costs_of_a_selection_file_come_from_its_rows(server, data, tmp_path) -> None:
    """An LLM selection file: judge calls and tokens per item are its rows' means."""
    server.default = _final()
    sel = tmp_path / "sel.jsonl"
    argv = ["select", data, "--base-url", server.base_url, "--model", "m", "--no-cache"]
    result = CliRunner().invoke(main, [str(a) for a in [*argv, "--out", sel]])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in sel.read_text().splitlines()]
    entry = _only(_report(tmp_path / "r", "--selections", sel, "--labels", data), "llm:model=m")
    assert entry["costs"]["judge_calls"] == sum(r["judge_calls"] for r in rows) / 2 > 0
    tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows) / 2
    assert entry["costs"]["tokens"] == tokens > 0


def test_aggregate_reaches_round_robin(data: Path, tmp_path: Path) -> None:
    """--aggregate is passed to the round-robin strategy and recorded with it."""
    args = [data, "-s", "round-robin", "-j", "simulated:1.0", "--aggregate", "copeland"]
    entry = _only(_report(tmp_path / "r", *args), "simulated:1.0")
    assert entry["strategy_options"] == {"both_orders": False, "aggregate": "copeland"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-j", "evidence", "--model", "m"], "--model is an option of the LLM judge"),
        (["-j", "evidence", "--no-short-circuit"], "--no-short-circuit is an option"),
        (["-s", "vote", "--base-url", "http://127.0.0.1:9/v1"], "vote uses no judge"),
        (["--aggregate", "borda"], "'borda' is not one of"),
    ],
)
def test_llm_options_without_an_llm_judge_are_usage_errors(data, tmp_path, args, message):
    """As in select: LLM options need an LLM judge, and say so."""
    argv = ["report", str(data), "--out", str(tmp_path / "r"), *args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2 and message in result.output

"""`rerank select --judge llm` end to end, the label boundary, and the run's verdict counts."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.items import Item
from rerank.judges import BaseJudge, Cost, Verdict
from rerank.outputs import result_row, verdict_counts
from rerank.run import RunSummary
from rerank.selector import StrategyConfig, select_item
from rerank.skills import builtin_dir
from rerank.testing import Message, ToolCall, openai_server_fixture

server = openai_server_fixture("server")

SECRETS = ("0.7531", "0.2469", "GEN-SECRET", "8128")


def _final(winner: str = "A") -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": [], "reason": "better"}
    return Message(tool_calls=[ToolCall("final_answer", json.dumps(verdict))])


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def runner(monkeypatch, tmp_path):
    """A CliRunner whose default verdict cache lives in the test's directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RERANK_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return CliRunner()


@pytest.fixture
def poems(tmp_path, write_jsonl) -> Path:
    rows = [
        {"id": f"q{k}", "prompt": f"Write a haiku about rain, take {k}.",
         "candidates": ["Rain taps the tin roof", "rain rain rain"], "task": {"kind": "general"}}
        for k in range(2)
    ]  # fmt: skip
    return write_jsonl(tmp_path / "poems.jsonl", rows)


@pytest.fixture
def labelled(tmp_path) -> Path:
    """JETTS rows whose labels, generators and reference must never reach the judge."""
    row = {
        "query": {
            "content": "Name the 4th perfect number.",
            "metadata": {"task_id": "p1", "reference": "It is 8128. #### 8128"},
        },
        "responses": [
            {"content": "The answer is 496. #### 496",
             "metadata": {"score": 0.7531, "generator": "GEN-SECRET-1"}},
            {"content": "The answer is 28. #### 28",
             "metadata": {"score": 0.2469, "generator": "GEN-SECRET-2"}},
        ],
    }  # fmt: skip
    path = tmp_path / "labelled.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def _select(runner, *args: str):
    return runner.invoke(main, ["select", "--strategy", "knockout", *args])


def test_select_with_the_llm_judge_writes_rows_with_calls_and_tokens(
    runner, server, poems, tmp_path
):
    """Every item is judged by the model; rows and trace carry calls, tokens and the skill."""
    server.default = _final("A")
    out, trace = tmp_path / "out.jsonl", tmp_path / "trace.jsonl"
    args = [str(poems), "--judge", "llm", "--base-url", server.base_url, "--model", "m"]
    result = _select(
        runner, *args, "--no-cache", "--out", str(out), "--trace", str(trace), "--verbose"
    )
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    assert [r["judge"] for r in rows] == ["llm:model=m"] * 2
    assert all(r["judge_calls"] == 1 and r["prompt_tokens"] > 0 for r in rows)
    assert all(r["completion_tokens"] > 0 and r["decisive_verdicts"] == 1 for r in rows)
    traced = _rows(trace)
    assert traced[0]["explanation"]["skill"] == "general"
    assert traced[0]["matches"][0]["verdicts"][0]["cost"]["calls"] == 1
    tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)
    assert "2 judge calls" in result.stderr.splitlines()[0]
    assert f"tokens: {tokens} (" in result.stderr
    assert "the candidate shown first won 1.00 of 2 decisive verdicts" in result.stderr
    assert len(server.chat_requests) == 2


def test_base_url_alone_means_the_llm_judge_and_a_cache_rerun_asks_nothing(
    runner, server, poems, tmp_path
):
    """--base-url implies --judge llm; with --cache a second run makes no request."""
    server.default = _final("B")
    cache = str(tmp_path / "verdicts.sqlite")
    for name in ("first", "second"):
        out = tmp_path / f"{name}.jsonl"
        args = [str(poems), "--base-url", server.base_url, "--cache", cache, "--out", str(out)]
        result = _select(runner, *args)
        assert result.exit_code == 0, result.output
    assert len(server.chat_requests) == 2  # both from the first run
    assert [r["selected"] for r in _rows(tmp_path / "second.jsonl")] == [
        r["selected"] for r in _rows(tmp_path / "first.jsonl")
    ]
    assert [r["judge_calls"] for r in _rows(tmp_path / "second.jsonl")] == [0, 0]


def test_the_api_key_is_sent_but_never_printed_or_recorded(runner, server, poems, tmp_path):
    """--api-key reaches the server as a bearer token and nowhere else."""
    server.default = _final()
    key = "sk-test-DO-NOT-LEAK"
    out, trace = tmp_path / "out.jsonl", tmp_path / "trace.jsonl"
    args = ["--base-url", server.base_url, "--api-key", key, "--no-cache"]
    result = _select(runner, str(poems), *args, "--out", str(out), "--trace", str(trace))
    assert result.exit_code == 0, result.output
    assert all(r.carries_key(key) for r in server.chat_requests)
    for text in (result.output, out.read_text(), trace.read_text()):
        assert "DO-NOT-LEAK" not in text


def test_the_model_never_sees_labels_generators_or_a_reference_not_exposed(
    runner, server, labelled
):
    """The label boundary: nothing the row hides appears in any request."""
    server.default = _final()
    args = ["--task", "math", "--base-url", server.base_url, "--no-cache"]
    result = _select(runner, str(labelled), *args)
    assert result.exit_code == 0, result.output
    assert server.chat_requests
    for request in server.chat_requests:
        body = json.dumps(request.body)
        assert not [s for s in SECRETS if s in body]


def test_an_exposed_reference_reaches_a_skill_that_grants_it(runner, server, labelled):
    """--expose reference with the math skill: the reference and its checks are shown."""
    server.default = _final()
    args = ["--task", "math", "--expose", "reference", "--base-url", server.base_url]
    result = _select(runner, str(labelled), *args, "--no-cache")
    assert result.exit_code == 0, result.output
    user = server.chat_requests[0].body["messages"][1]["content"]
    assert "## Reference answer (granted to `reference`)\n\nIt is 8128. #### 8128" in user
    assert "- `reference` fail (hard)" in user
    assert not [s for s in SECRETS[:3] if s in json.dumps(server.chat_requests[0].body)]


def test_verdict_shaping_options_go_into_the_spec_and_the_request(runner, server, poems, tmp_path):
    """--skill/--skills-dir, --max-steps and --thinking reach the judge; the spec says so."""
    house = tmp_path / "skills" / "house"
    shutil.copytree(builtin_dir() / "general", house)
    skill_md = house / "SKILL.md"
    skill_md.write_text(skill_md.read_text().replace("name: general", "name: house", 1))
    server.default = _final()
    out, trace = tmp_path / "out.jsonl", tmp_path / "trace.jsonl"
    args = ["--base-url", server.base_url, "--model", "m", "--skills-dir", str(house.parent)]
    args += ["--skill", "house", "--max-steps", "2", "--thinking", "--no-cache"]
    result = _select(runner, str(poems), *args, "--out", str(out), "--trace", str(trace))
    assert result.exit_code == 0, result.output
    spec = "llm:model=m,skill=house,max_steps=2,enable_thinking=true"
    assert {r["judge"] for r in _rows(out)} == {spec}
    assert _rows(trace)[0]["explanation"]["skill"] == "house"
    body = server.chat_requests[0].body
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["messages"][0]["content"].startswith("# Evaluation skill: house")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--judge", "evidence", "--base-url", "http://h:1/v1"],
            "--base-url is an option of the LLM",
        ),
        (["--model", "m"], "--model is an option of the LLM judge"),
        (["--judge", "evidence", "--no-short-circuit"], "--no-short-circuit is an option"),
        (["--base-url", "http://h:1/v1", "--strategy", "vote"], "vote uses no judge"),
        (["--judge", "llm:model=a", "--base-url", "http://h:1/v1", "--model", "b"], "given in"),
        (["--base-url", "http://h:1/v1", "--cache", "c", "--no-cache"], "exclude each other"),
        (
            ["--judge", "llm:cache=false", "--base-url", "http://h:1/v1", "--no-cache"],
            "cache is given",
        ),
    ],
)
def test_llm_options_without_the_llm_judge_are_usage_errors(runner, poems, args, message):
    """LLM options need the LLM judge, and say so."""
    result = runner.invoke(main, ["select", str(poems), *args])
    assert result.exit_code == 2 and message in result.output


def test_a_dead_endpoint_fails_the_items_with_a_message_naming_it(runner, poems, tmp_path):
    """No endpoint answering is an item failure (exit 1) naming the URL, not a verdict."""
    from rerank.testing import refusing_endpoint

    with refusing_endpoint() as dead:
        args = ["--judge", "llm:retries=0", "--base-url", dead, "--model", "m", "--no-cache"]
        result = _select(runner, str(poems), *args, "--out", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1
    assert f"no endpoint answered: {dead} refused the connection" in result.stderr


# -- the run's counts work for any judge --------------------------------------------------------


class Script(BaseJudge):
    """Answers from a table keyed by the pair, as shown."""

    def __init__(self, answers: dict[tuple[int, int], Verdict]):
        self.answers = answers
        self.spec = "llm"

    async def compare(self, item, a, b):
        return self.answers[(a, b)]


def _result(answers: dict, *, both_orders: bool = False):
    item = Item.from_texts("p", ["x", "y"])
    config = StrategyConfig("knockout", both_orders=both_orders)
    return asyncio.run(select_item(item, config, Script(answers)))


def test_counts_of_a_both_orders_match_that_disagrees():
    """Both verdicts name the first-shown candidate: two A wins, one swap disagreement."""
    cost = Cost(1, 10, 2, 0.1)
    flagged = Verdict("a", cost=cost, flags=("cites unknown evidence: x",))
    result = _result({(0, 1): flagged, (1, 0): Verdict("a", cost=cost)}, both_orders=True)
    counts = verdict_counts(result)
    assert counts == {
        "decisive_verdicts": 2,
        "first_shown_wins": 2,
        "both_orders_matches": 1,
        "swap_disagreements": 1,
        "short_circuits": 0,
        "deduplicated": 0,
        "flagged_verdicts": 1,
    }
    row = result_row(result)
    assert (row["judge_calls"], row["prompt_tokens"], row["completion_tokens"]) == (2, 20, 4)


def test_evidence_verdicts_inside_another_judge_count_as_short_circuits():
    """A verdict the evidence decided inside the LLM judge (via="evidence") is a short-circuit."""
    decided = Verdict("b", judge="evidence", via="evidence")
    counts = verdict_counts(_result({(0, 1): decided, (1, 0): decided}))
    assert (counts["short_circuits"], counts["first_shown_wins"], counts["decisive_verdicts"]) == (
        1,
        0,
        1,
    )


def test_the_summary_line_reports_tokens_a_rate_and_swap_disagreement():
    """The closing line adds up rows: tokens, short-circuits, flags, A-rate, swaps."""
    summary = RunSummary(judge_spec="llm")
    for row in (
        {"comparisons": 1, "judge_calls": 2, "prompt_tokens": 100, "completion_tokens": 5,
         "invalid": 0, "decisive_verdicts": 2, "first_shown_wins": 2,
         "both_orders_matches": 1, "swap_disagreements": 1, "flagged_verdicts": 1},
        {"comparisons": 1, "judge_calls": 0, "invalid": 0, "short_circuits": 1,
         "decisive_verdicts": 2, "first_shown_wins": 1, "both_orders_matches": 1},
    ):  # fmt: skip
        summary.add(row)
    line = summary.line()
    assert "2 judge calls, 105 tokens (100 prompt + 5 completion)" in line
    assert "1 short-circuited by evidence, 1 flagged" in line
    assert "A-rate 0.75 of 4 decisive verdicts" in line
    assert "swap disagreement 0.50 of 2 both-orders matches" in line


def test_runs_without_an_llm_do_not_import_the_openai_client():
    """`import rerank` leaves openai out; `--judge llm` imports the judge when first built."""
    code = (
        "import sys, rerank\n"
        "from rerank.judges import create_judge\n"
        "print('openai' in sys.modules)\n"
        "judge = create_judge('llm:cache=false', base_url='http://127.0.0.1:9/v1')\n"
        "print(type(judge).__name__, 'openai' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["False", "LLMJudge True"]

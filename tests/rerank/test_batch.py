"""select_many / aselect_many: a batch of prompts, one shared judge, rows in input order."""

from __future__ import annotations

import asyncio
import doctest

import pytest

import rerank.batch as batch
from rerank import aselect_many, select_many
from rerank.errors import ConfigError, JudgeError
from rerank.judges import BaseJudge, EvidenceJudge, Verdict
from rerank.run import output_row
from rerank.selector import StrategyConfig, build_item, select_item

PROMPTS = ["What is 2+3?", "What is 2*3?", "What is 9-4?"]
CANDIDATES = [
    ["2+3=5. #### 5", "#### 6", "It is 5. #### 5"],
    ["#### 5", "2*3=6. #### 6", "#### 6"],
    ["#### 5", "#### 4", "9-4=5 #### 5"],
]


class Counting(BaseJudge):
    """Prefers the longer candidate; records the most calls it had in flight at once."""

    spec = "counting"

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.active = self.peak = self.calls = 0

    async def compare(self, item, a, b):
        if item.prompt == self.fail_on:
            raise JudgeError("the endpoint is down")
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.calls += 1
        await asyncio.sleep(0.001)
        self.active -= 1
        ta, tb = item.candidates[a].text, item.candidates[b].text
        return Verdict("a" if len(ta) >= len(tb) else "b", judge="counting")


def test_rows_come_in_input_order_with_the_fields_of_a_cli_row():
    """Each row is the row `rerank select` writes for that item, in input order."""
    rows = select_many(PROMPTS, CANDIDATES, strategy="round-robin", seed=2)
    assert [r["n"] for r in rows] == [3, 3, 3]
    for prompt, texts, row in zip(PROMPTS, CANDIDATES, rows, strict=True):
        item = build_item(prompt, texts)
        single = output_row(
            asyncio.run(select_item(item, StrategyConfig("round-robin", seed=2), EvidenceJudge()))
        )
        assert row.keys() == single.keys()
        same = ("id", "selected", "ranking", "scores", "judge_calls", "decided_by", "task_kind")
        assert {k: row[k] for k in same} == {k: single[k] for k in same}
    assert [r["text"] for r in rows] == [CANDIDATES[i][r["selected"]] for i, r in enumerate(rows)]


def test_ids_are_optional_and_seed_each_item():
    """Without ids every item gets its content id (a rerun reproduces); given ids are kept."""
    first = select_many(PROMPTS, CANDIDATES, judge=Counting(), seed=3)
    again = select_many(PROMPTS, CANDIDATES, judge=Counting(), seed=3)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert all(r["id"].startswith("content:") for r in first)
    assert len({r["id"] for r in first}) == 3
    named = select_many(PROMPTS, CANDIDATES, judge=Counting(), ids=["a", 2, "c"])
    assert [r["id"] for r in named] == ["a", "2", "c"]


def test_a_bad_item_gets_an_error_row_and_the_others_go_on():
    """A malformed item and an item whose judge fails each get an error row; the rest
    are selected."""
    judge = Counting(fail_on=PROMPTS[1])
    candidates = [CANDIDATES[0], CANDIDATES[1], ["ok", 7], CANDIDATES[2]]
    rows = select_many([*PROMPTS[:2], "p", PROMPTS[2]], candidates, judge=judge)
    assert [r["selected"] is None for r in rows] == [False, True, True, False]
    assert rows[1]["error"].startswith("JudgeError: the endpoint is down")
    assert rows[1]["id"].startswith("content:")
    assert (
        rows[2]["error"] == "InputError: item 2: field 'candidates[1]': expected a string, got int"
    )


def test_the_judge_is_shared_and_its_calls_are_capped():
    """One judge serves every item, with at most `concurrency` calls in flight."""
    judge = Counting()
    prompts = [f"q{k}" for k in range(12)]
    lists = [["a", "bb", "ccc", "dddd"] for _ in prompts]
    rows = select_many(prompts, lists, judge=judge, strategy="round-robin", concurrency=3)
    assert all(r["selected"] == 3 for r in rows)
    assert judge.calls == 12 * 6 and 1 < judge.peak <= 3


def test_bad_options_raise_before_anything_runs():
    """Different list lengths, a bad strategy or concurrency are errors for the whole call."""
    with pytest.raises(ConfigError, match="2 prompts but 1 candidate lists"):
        select_many(["a", "b"], [["x"]])
    with pytest.raises(ConfigError, match="choose from"):
        select_many(["a"], [["x"]], strategy="swiss")
    with pytest.raises(ConfigError, match="ids: expected 1 values"):
        select_many(["a"], [["x"]], ids=["a", "b"])
    with pytest.raises(ConfigError, match="concurrency"):
        select_many(["a"], [["x"]], concurrency=0)


def test_progress_goes_to_stderr_only_when_asked(capsys):
    """progress=True draws a bar on stderr; by default nothing is printed."""
    select_many(PROMPTS, CANDIDATES, judge=Counting())
    assert capsys.readouterr().err == ""
    select_many(PROMPTS, CANDIDATES, judge=Counting(), progress=True)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and captured.out == ""


def test_trace_rows_and_per_item_options():
    """trace=True adds each item's matches; kind and resources may differ per item."""
    rows = aselect_many(
        ["Add.", "Say hi."],
        [["def add(a, b): return a + b", "def add(a, b): return a - b"], ["hi", "hello"]],
        kind=["code", "general"],
        resources=[{"tests": ["assert add(1, 2) == 3"], "entry_point": "add"}, None],
        trace=True,
    )
    code, general = asyncio.run(rows)
    assert code["selected"] == 0 and code["visible_resources"] == ["entry_point", "tests"]
    assert code["task_kind"] == "code" and general["task_kind"] == "general"
    assert len(code["trace"]["matches"]) == code["comparisons"] == 1


def test_vote_in_a_batch_shares_one_evidence_judge():
    """Vote reads each item's evidence signatures through one evidence judge."""
    rows = select_many(PROMPTS, CANDIDATES, strategy="vote")
    assert [r["vote"]["classes"] for r in rows] == [[2, 1], [2, 1], [2, 1]]
    assert [CANDIDATES[i][r["selected"]][-1] for i, r in enumerate(rows)] == ["5", "6", "5"]


def test_the_module_examples_run():
    """The docstring examples of rerank.batch pass."""
    assert doctest.testmod(batch).failed == 0

"""The label boundary: what a judge receives holds no labels and no unlisted fields."""

from __future__ import annotations

import asyncio
import json

import pytest

from rerank.run import RunOptions, run_select
from rerank.selector import StrategyConfig

SECRET_SCORE = 0.7351937
SECRETS = (
    "GOLD-REFERENCE-7c1",
    "UNLISTED-META-93a",
    "GENERATOR-NAME-e04",
    "HIDDEN-TEST-55f",
    "CANDIDATE-STATUS-2b8",
    repr(SECRET_SCORE),
)


def _rows():
    jetts = {
        "query": {
            "content": "What is 2+2?",
            "metadata": {
                "task_id": "J1",
                "reference": SECRETS[0],
                "notes": SECRETS[1],
                "test": SECRETS[3],
                "instruction_id_list": ["x:y"],
            },
        },
        "responses": [
            {
                "content": "4",
                "metadata": {
                    "score": SECRET_SCORE,
                    "generator": SECRETS[2],
                    "plus_status": SECRETS[4],
                },
            },
            {"content": "five", "metadata": {"score": 0.0, "generator": SECRETS[2]}},
        ],
    }
    simple = {
        "id": "S1",
        "prompt": "Say hi",
        "reference": SECRETS[0],
        "extra": SECRETS[1],
        "candidates": [{"text": "hi", "score": SECRET_SCORE, "model": SECRETS[2]}, "hello"],
        "task": {"kind": "general", "reference": SECRETS[0], "hidden": SECRETS[3]},
        "scores": [SECRET_SCORE, 0.0],
    }
    return [jetts, simple]


@pytest.mark.parametrize("strategy", ["sequential", "knockout", "round-robin", "pointwise"])
def test_judge_never_sees_labels_or_unlisted_fields(
    tmp_path, write_jsonl, recording_judge, strategy
):
    """Scores, references, hidden tests and unlisted metadata never reach the judge."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows())
    options = RunOptions(
        paths=[str(path)],
        out=str(tmp_path / "out.jsonl"),
        config=StrategyConfig(name=strategy),
        judge="recording",
    )
    asyncio.run(run_select(options, say=lambda m: None))
    seen = "\n".join(recording_judge.seen)
    assert seen, "the judge was never called"
    for secret in SECRETS:
        assert secret not in seen
    assert "instruction_id_list" in seen  # listed resources do get through
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["labels_used"] for r in rows] == [False, False]


def test_expose_grants_a_hidden_field_and_says_so(tmp_path, write_jsonl, recording_judge):
    """--expose reference hands the reference to the judge and the output records the grant."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows()[:1])
    options = RunOptions(
        paths=[str(path)],
        out=str(tmp_path / "out.jsonl"),
        config=StrategyConfig(name="knockout"),
        judge="recording",
        expose=("reference",),
    )
    asyncio.run(run_select(options, say=lambda m: None))
    seen = "\n".join(recording_judge.seen)
    assert SECRETS[0] in seen
    assert SECRETS[1] not in seen and repr(SECRET_SCORE) not in seen
    row = json.loads((tmp_path / "out.jsonl").read_text())
    assert row["exposed"] == ["reference"]
    assert "reference" in row["visible_resources"]


def test_output_rows_carry_no_labels(tmp_path, write_jsonl):
    """Output and trace rows hold no label values or hidden fields, even for the simulated judge."""
    path = write_jsonl(tmp_path / "in.jsonl", _rows())
    options = RunOptions(
        paths=[str(path)],
        out=str(tmp_path / "out.jsonl"),
        trace=str(tmp_path / "trace.jsonl"),
        config=StrategyConfig(name="round-robin"),
        judge="simulated:1.0",
    )
    asyncio.run(run_select(options, say=lambda m: None))
    written = (tmp_path / "out.jsonl").read_text() + (tmp_path / "trace.jsonl").read_text()
    for secret in SECRETS[:5]:
        assert secret not in written
    assert all(
        json.loads(x)["labels_used"] for x in (tmp_path / "out.jsonl").read_text().split("\n") if x
    )

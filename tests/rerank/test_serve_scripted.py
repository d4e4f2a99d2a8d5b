"""`rerank serve-scripted` and its policies: a scripted judge behind a real socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.readers import read_items
from rerank.testing import OpenAIServer
from rerank.testing.policies import LabelIndex, parse_policy, read_request

#: Two math items whose correct candidates disagree with the majority answer.
ROWS = [
    {"id": "p1", "prompt": "What is 2+3?", "task": {"kind": "math"},
     "candidates": ["2+3=5 #### 5", "#### 6", "#### 6", "#### 7"], "scores": [1, 0, 0, 0]},
    {"id": "p2", "prompt": "What is 4*3?", "task": {"kind": "math"},
     "candidates": ["#### 7", "#### 7", "4*3=12 #### 12", "#### 11"], "scores": [0, 0, 1, 0]},
]  # fmt: skip


@pytest.fixture
def labelled(tmp_path, write_jsonl) -> Path:
    return write_jsonl(tmp_path / "toy_gen.jsonl", ROWS)


def _request(prompt: str, a: str, b: str | None = None, *, tools: bool = True) -> dict:
    """A chat request shaped as the LLM judge sends one (rerank.judges.llm.prompt)."""
    shown = [("A", a)] + ([("B", b)] if b is not None else [])
    text = f"## Prompt\n\n{prompt}\n\n"
    for label, body in shown:
        text += f'## Candidate {label}\n\n<candidate id="{label}">\n{body}\n</candidate>\n\n'
    text += "## Evidence (task kind math; verifier math)\n\n## Your task\n\nCompare."
    contract = {"type": "object", "properties": {
        "winner": {"enum": ["A", "B", "tie"]}, "score": {"minimum": 1, "maximum": 10},
        "confidence": {}, "evidence": {}, "reason": {}}}  # fmt: skip
    body = {"model": "m", "messages": [{"role": "system", "content": "skill"},
                                       {"role": "user", "content": text}]}  # fmt: skip
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": "final_answer",
                                                           "parameters": contract}}]  # fmt: skip
    return body


def test_read_request_finds_prompt_candidates_and_contract():
    """The policy reads the prompt, both candidates (multi-line) and the tool's contract."""
    request = read_request(_request("Q?\n\nwith a blank line", "x\ny", "z"))
    assert request.prompt == "Q?\n\nwith a blank line"
    assert request.shown == ("x\ny", "z") and request.mode == "pairwise"
    assert request.contract["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    assert read_request({"messages": [{"role": "user", "content": "hello"}]}) is None


def test_the_oracle_follows_the_labels_at_its_accuracy(labelled):
    """oracle:1 always prefers the better label, oracle:0 never; equal labels tie; a
    candidate the labels file lacks ties; answers are seeded by content, not order."""
    items = list(read_items(labelled))
    right, wrong = (parse_policy(f"oracle:{p}", labels=items) for p in (1, 0))
    request = read_request(_request("What is 2+3?", "#### 6", "2+3=5 #### 5"))
    assert right.winner(request)[0] == "B" and wrong.winner(request)[0] == "A"
    assert right.winner(read_request(_request("What is 2+3?", "#### 6", "#### 7")))[0] == "tie"
    assert right.winner(read_request(_request("What is 2+3?", "#### 6", "new")))[0] == "tie"
    index = LabelIndex.from_items(items)
    assert index.label("What is 2+3?", "#### 6") == 0.0 and len(index) == 6  # distinct texts
    halves = [parse_policy("oracle:0.5", labels=items, seed=seed) for seed in range(200)]
    picks = [half.winner(request)[0] for half in halves]
    assert [half.winner(request)[0] for half in halves] == picks  # the same answers again
    assert 0.35 < picks.count("B") / len(picks) < 0.65 and set(picks) == {"A", "B"}


def test_policy_specs_and_their_errors(labelled):
    """Specs parse (case and spaces aside); bad ones say what is expected."""
    assert parse_policy(" Always-A ").name == "always-a"
    assert parse_policy("oracle", labels=list(read_items(labelled))).accuracy == 1.0
    for spec, words in [
        ("best", "unknown policy"),
        ("oracle:1.5", "in [0, 1]"),
        ("oracle:x", "in [0, 1]"),
        ("oracle:0.8", "--labels"),
        ("random:3", "takes no argument"),
    ]:
        with pytest.raises(ValueError, match=words.replace("[", r"\[")):
            parse_policy(spec)


def test_replies_fit_the_contract_with_or_without_tools():
    """With tools: a final_answer call; without (or tool_choice none): JSON and a line."""
    always = parse_policy("always-a")
    reply = always.reply(_request("q", "a", "b"))
    (call,) = reply.tool_calls
    assert call.name == "final_answer" and json.loads(call.arguments)["winner"] == "A"
    text = always.reply(_request("q", "a", "b", tools=False)).content
    assert text.endswith("Verdict: A") and json.loads(text.splitlines()[0])["winner"] == "A"
    scored = json.loads(always.reply(_request("q", "a")).tool_calls[0].arguments)
    assert scored["score"] == 10.0 and "winner" not in scored


def test_the_real_openai_client_gets_the_policy_answer():
    """Through the openai client on 127.0.0.1: models listed, the verdict as a tool call."""
    policy = parse_policy("always-a")
    with OpenAIServer(models=("scripted-judge",), default=policy.reply) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused")
        assert [m.id for m in client.models.list()] == ["scripted-judge"]
        body = _request("q", "first", "second")
        completion = client.chat.completions.create(
            model="scripted-judge", messages=body["messages"], tools=body["tools"]
        )
        (call,) = completion.choices[0].message.tool_calls
        assert json.loads(call.function.arguments)["winner"] == "A"


def test_select_with_the_llm_judge_against_the_oracle_picks_the_correct_ones(
    labelled, tmp_path, monkeypatch
):
    """rerank select --judge llm against oracle:1 picks a correct candidate on every item,
    even where the majority is wrong."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    policy = parse_policy("oracle:1", labels=list(read_items(labelled)))
    with OpenAIServer(default=policy.reply) as server:
        out = tmp_path / "out.jsonl"
        args = ["select", str(labelled), "-s", "knockout", "--base-url", server.base_url]
        result = CliRunner().invoke(main, [*args, "--no-cache", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert server.chat_requests
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["selected"] for row in rows] == [0, 2]
    assert "accuracy 1.000 (2 labelled)" in result.stderr


def test_the_command_prints_its_url_and_answers_until_interrupted(labelled):
    """`rerank serve-scripted` prints a loopback base URL, answers the openai client by its
    policy, and on Ctrl-C says how many requests it answered and exits 0."""
    command = [sys.executable, "-c", "from rerank.cli import main; main()", "serve-scripted"]
    command += ["--policy", "oracle:1", "--labels", str(labelled), "--port", "0"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches it even when the test runner was started with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        body = _request("What is 4*3?", "#### 7", "4*3=12 #### 12")
        completion = client.chat.completions.create(
            model="scripted-judge", messages=body["messages"], tools=body["tools"]
        )
        verdict = json.loads(completion.choices[0].message.tool_calls[0].function.arguments)
        assert verdict["winner"] == "B" and verdict["reason"].startswith("scripted oracle")
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "answered 1 chat requests" in err


def test_the_command_refuses_a_bad_policy(tmp_path):
    """An oracle without labels is a one-line error, exit 1."""
    result = CliRunner().invoke(main, ["serve-scripted", "--policy", "oracle:0.8"])
    assert result.exit_code == 1 and "--labels" in result.output
    assert "Traceback" not in result.output


def _one_token(prompt: str, *texts: str) -> dict:
    """A one-token question as the judge lays it out: "A or B?" for two, "yes or no?" for
    one response (rerank.judges.llm.prompt.choice_messages and check_messages)."""
    lines = ["## Task", "", prompt, ""]
    for label, text in zip("AB", texts, strict=False):
        name, tag = (f"Response {label}", f'<response id="{label}">') if len(texts) == 2 else (
            "Response", "<response>")  # fmt: skip
        lines += [f"## {name}", "", tag, text, "</response>", "", "Evidence: none", ""]
    lines.append("Which response is better, A or B?" if len(texts) == 2 else "Is it correct?")
    messages = [{"role": "system", "content": "one token"}]
    messages.append({"role": "user", "content": "\n".join(lines)})
    return {"messages": messages, "logprobs": True}


def test_one_token_questions_get_one_token_and_its_odds(labelled):
    """ "A or B?" gets the letter the policy picks, "yes or no?" whether the oracle thinks
    the response right, each with log-probabilities that favour it."""
    oracle = parse_policy("oracle:1", labels=list(read_items(labelled)))
    choice = oracle.reply(_one_token("What is 2+3?", "#### 6", "2+3=5 #### 5"))
    assert choice.content == "B" and choice.top_logprobs["B"] > choice.top_logprobs["A"]
    for text, answer in (("2+3=5 #### 5", "yes"), ("#### 7", "no")):
        check = oracle.reply(_one_token("What is 2+3?", text))
        assert (
            check.content == answer
            and max(check.top_logprobs, key=check.top_logprobs.get) == answer
        )
    tie = oracle.reply(_one_token("What is 2+3?", "#### 6", "#### 7"))
    assert tie.top_logprobs["A"] == tie.top_logprobs["B"]

"""The LLM judge against a scripted OpenAI-compatible server on loopback (real openai client)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import pytest

from rerank.errors import ConfigError
from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.judges import create_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.judge import LLMJudge
from rerank.llm import EndpointPool
from rerank.outputs import result_row
from rerank.sandbox.runner import isolation
from rerank.selector import StrategyConfig, select_item
from rerank.skills import SkillRegistry, render
from rerank.testing import (
    ErrorReply,
    Message,
    ToolCall,
    openai_server_fixture,
    refusing_endpoint,
)

GUARD_SECONDS = 30  # a hang fails the test instead of the run; nothing is timed
FORCED = {"type": "function", "function": {"name": "final_answer"}}

server = openai_server_fixture("server")
other = openai_server_fixture("other")


class Scripted:
    """A verifier that returns the evidence it was given."""

    def __init__(self, name: str, evidence: list[Evidence]):
        self.name = name
        self.evidence = evidence

    def applies(self, item: Item) -> bool:
        return True

    def verify(self, item: Item) -> list[Evidence]:
        return self.evidence


MATH = Item.from_texts("What is 6*7?", ["6*7 = 42. #### 42", "6*7 = 43. #### 43"], kind="math")
MATH_EVIDENCE = [
    Evidence(
        "math",
        (Check("answer", "pass", False, "42"), Check("step:1", "pass", False, "6*7 = 42")),
        signature="42",
    ),
    Evidence(
        "math",
        (Check("answer", "pass", False, "43"), Check("step:1", "fail", False, "43 is wrong")),
        signature="43",
    ),
]
ADD_PROMPT = "Write add(a, b) returning the sum of two integers."
ADD = "```python\ndef add(a, b):\n    return a + b\n```"
SUB = "```python\ndef add(a, b):\n    return a - b\n```"
ABS = "```python\ndef add(a, b):\n    return abs(a) + abs(b)\n```"


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def make_judge(urls: str | list[str], *, evidence: EvidenceJudge | None = None, **options):
    """A judge whose pool retries without waiting and whose math evidence is scripted."""
    pool = EndpointPool(urls, "judge-model", backoff=0.0, retries=1)
    if evidence is None:
        evidence = EvidenceJudge(verifiers={"math": Scripted("math", MATH_EVIDENCE)})
    return LLMJudge(pool=pool, evidence=evidence, **{"cache": False, **options})


async def judged(judge: LLMJudge, *questions: tuple[str, Item, int, int]) -> list[Any]:
    """Ask ``(method, item, i, j)`` questions in turn, then close the judge."""
    try:
        answers = []
        for method, item, *indices in questions:
            answers.append(await getattr(judge, method)(item, *indices))
        return answers
    finally:
        await judge.aclose()


def compare(judge: LLMJudge, item: Item = MATH, a: int = 0, b: int = 1):
    return run(judged(judge, ("compare", item, a, b)))[0]


def call(name: str, arguments: Any) -> Message:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return Message(tool_calls=[ToolCall(name, text)])


def final(winner: str = "A", evidence: tuple[str, ...] = ("answer",), **fields: Any) -> Message:
    verdict = {"winner": winner, "confidence": 0.8, "evidence": list(evidence), "reason": "r"}
    return call("final_answer", {**verdict, **fields})


def sent(request) -> str:
    """Everything a request told the model, as one string."""
    return json.dumps(request.body, ensure_ascii=False)


# -- the loop -------------------------------------------------------------------------------


def test_tool_loop_views_a_resource_runs_python_then_answers(server):
    """view_resource, then run_python in the sandbox, then final_answer: each result goes back."""
    server.enqueue(
        call("view_resource", {"id": "examples"}),
        call("run_python", {"code": "print(6 * 7)"}),
        final("A", evidence=("python", "answer", "rubric:final-answer"), reason="42 is right"),
    )
    verdict = compare(make_judge(server.base_url))
    assert (verdict.winner, verdict.reason, verdict.confidence) == ("a", "42 is right", 0.8)
    assert verdict.judge == "llm:math" and verdict.flags == ()
    requests = server.chat_requests
    assert [r.body["tool_choice"] for r in requests] == ["auto"] * 3
    examples = SkillRegistry.from_dirs().get("math").resource("examples").text
    assert requests[1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": requests[1].body["messages"][-2]["tool_calls"][0]["id"],
        "content": examples,
    }
    assert (
        requests[2].body["messages"][-1]["content"].startswith("status: ok (exit 0)\nstdout:\n42")
    )
    assert verdict.cost.calls == 3
    assert verdict.cost.prompt_tokens > 0 and verdict.cost.completion_tokens > 0


def test_the_tools_offered_are_those_the_skill_lists_plus_final_answer(server):
    """math lists run_python and view_resource; final_answer's parameters are the contract."""
    server.enqueue(final())
    compare(make_judge(server.base_url))
    tools = {t["function"]["name"]: t["function"] for t in server.chat_requests[0].body["tools"]}
    assert set(tools) == {"run_python", "view_resource", "final_answer"}
    contract = SkillRegistry.from_dirs().get("math").contract["pairwise"]
    assert tools["final_answer"]["parameters"]["properties"] == contract["properties"]


def test_step_limit_forces_final_answer(server):
    """A model that keeps calling tools gets tool_choice=final_answer on the last call."""
    server.enqueue(
        call("view_resource", {"id": "rubric"}), call("view_resource", {"id": "steps"}), final("B")
    )
    verdict = compare(make_judge(server.base_url, max_steps=2))
    choices = [r.body["tool_choice"] for r in server.chat_requests]
    assert choices == ["auto", "auto", FORCED]
    assert verdict.winner == "b" and verdict.cost.calls == 3


def test_text_fallback_reads_the_json_at_the_end_of_the_reask(server):
    """No tool call at all: repair, forced call, then a plain re-ask whose last JSON counts."""
    server.enqueue(
        Message("I think A is better."),
        Message("Still thinking."),
        Message(
            'Early draft {"winner": "A"}. Final: {"winner": "B", "confidence": 0.6, '
            '"evidence": ["answer"], "reason": "B is right"}'
        ),
    )
    verdict = compare(make_judge(server.base_url, max_steps=1))
    assert (verdict.winner, verdict.reason) == ("b", "B is right")
    first, forced, reask = server.chat_requests
    assert "That reply could not be used" in forced.body["messages"][-1]["content"]
    assert forced.body["tool_choice"] == FORCED
    assert reask.body["tool_choice"] == "none"
    assert reask.body["messages"][-1]["content"].startswith("Reply now with the verdict only")


def test_a_verdict_line_is_read_when_the_reask_has_no_json(server):
    """The re-ask may end with 'Verdict: B' instead of JSON; the last such line counts."""
    server.enqueue(
        Message("hmm"), Message("hmm"), Message("Verdict: A\n\nOn reflection,\n**Verdict:** B")
    )
    verdict = compare(make_judge(server.base_url, max_steps=1))
    assert verdict.winner == "b" and "no reason" in verdict.reason


def test_no_verdict_after_every_fallback_is_invalid_and_counted(server):
    """All fallbacks failing give an invalid verdict with its reason; the strategy counts it."""
    server.default = Message("I would rather not say.")
    judge = make_judge(server.base_url, max_steps=1)

    async def select():
        try:
            return await select_item(MATH, StrategyConfig("knockout"), judge)
        finally:
            await judge.aclose()

    result = run(select())
    (verdict,) = result.selection.matches[0].verdicts
    assert verdict.winner == "invalid" and verdict.cost.calls == 3
    assert verdict.reason.startswith("no valid verdict after 3 calls: no verdict in the reply")
    assert result.selection.invalid == 1 and result_row(result)["invalid"] == 1


BAD_REPLIES = {
    "malformed JSON arguments": (call("view_resource", '{"id": '), "not valid JSON"),
    "unknown tool": (call("search_web", {"q": "x"}), "unknown tool 'search_web'"),
    "wrong argument type": (call("view_resource", {"id": 3}), "$.id: expected string, got int"),
    "unknown resource": (call("view_resource", {"id": "nope"}), "'nope' is not one of"),
    "winner outside A, B, tie": (final("C"), "'C' is not one of ['A', 'B', 'tie']"),
    "missing field": (call("final_answer", {"winner": "A"}), "missing 'confidence'"),
    "confidence as text": (final(confidence="high"), "confidence: expected number, got str"),
    "empty content": (Message(""), "the reply was empty"),
    "prose without a tool call": (Message("A is better."), "no verdict in the reply"),
}


@pytest.mark.parametrize("case", BAD_REPLIES, ids=list(BAD_REPLIES))
def test_every_bad_reply_is_answered_with_what_was_wrong(server, case):
    """A bad reply costs one step: the model is told why, and its next answer counts."""
    reply, why = BAD_REPLIES[case]
    server.enqueue(reply, final("B"))
    verdict = compare(make_judge(server.base_url))
    assert verdict.winner == "b"
    repair = server.chat_requests[1].body["messages"][3:]
    assert any(why in (m["content"] or "") for m in repair), repair


def test_a_bad_final_answer_at_the_end_is_an_invalid_verdict_naming_the_contract(server):
    """With no steps left, a verdict that breaks the contract makes the verdict invalid."""
    server.enqueue(final(confidence=3), Message('{"winner": "A", "confidence": 3}'))
    verdict = compare(make_judge(server.base_url, max_steps=0))
    assert verdict.winner == "invalid" and verdict.cost.calls == 2
    assert "above the maximum 1" in verdict.reason


def test_a_tool_call_without_an_id_is_answered_under_an_id_of_ours(server):
    """Servers that send no call id still get a well-formed conversation back."""
    server.enqueue(
        Message(tool_calls=[ToolCall("view_resource", '{"id": "rubric"}', id="")]), final()
    )
    compare(make_judge(server.base_url))
    messages = server.chat_requests[1].body["messages"]
    assert messages[-1]["tool_call_id"] == messages[-2]["tool_calls"][0]["id"] != ""


# -- evidence -------------------------------------------------------------------------------


def test_unknown_evidence_is_kept_and_flagged(server):
    """Cited ids must exist: check ids, the skill's ids (A: prefixes allowed); others flag."""
    cited = ("answer", "B:step:1", "rubric:final-answer", "python", "made-up", "test:9")
    server.enqueue(final(evidence=cited))
    verdict = compare(make_judge(server.base_url))
    assert verdict.winner == "a" and verdict.evidence == cited
    assert verdict.flags == ("cites unknown evidence: made-up, test:9",)


def test_the_user_message_lists_each_candidates_evidence_with_ids(server):
    """Candidates A and B and their checks (id, status, hard or soft, detail) and clusters."""
    server.enqueue(final())
    compare(make_judge(server.base_url), MATH, 1, 0)
    user = server.chat_requests[0].body["messages"][1]["content"]
    a, b = user.index('<candidate id="A">\n6*7 = 43'), user.index('<candidate id="B">\n6*7 = 42')
    assert a < b
    assert "- `step:1` fail (soft): 43 is wrong" in user
    assert "- answer cluster: shared by 1 of 2 candidates" in user


def test_the_skill_prefix_is_byte_identical_across_matches(server):
    """Every call of a run starts with the same system message: the rendered skill."""
    item = Item.from_texts("What is 6*7?", ["#### 42", "#### 43", "#### 44"], kind="math")
    evidence = EvidenceJudge(verifiers={"math": Scripted("math", [Evidence("math")] * 3)})
    server.default = final()
    judge = make_judge(server.base_url, evidence=evidence)
    run(judged(judge, ("compare", item, 0, 1), ("compare", item, 2, 1), ("score", item, 0)))
    systems = {r.body["messages"][0]["content"] for r in server.chat_requests}
    assert systems == {render(SkillRegistry.from_dirs().get("math"))}


def test_hard_evidence_decides_without_any_request(server):
    """One candidate passes the visible tests and the other fails: no request is made."""
    code = [
        Evidence("code", (Check("test:1", "pass"),)),
        Evidence("code", (Check("test:1", "fail", detail="add(1, 2) returned -1"),)),
    ]
    item = Item.from_texts(ADD_PROMPT, [ADD, SUB], kind="code")
    evidence = EvidenceJudge(verifiers={"code": Scripted("code", code)})
    verdict = compare(make_judge(server.base_url, evidence=evidence), item, 1, 0)
    assert (verdict.winner, verdict.judge, verdict.cost.calls) == ("b", "evidence", 0)
    assert verdict.evidence == ("test:1",) and "no LLM call" in verdict.reason
    assert server.chat_requests == []


@pytest.mark.skipif(
    isolation().process_limit == "none", reason="this machine cannot sandbox programs"
)
def test_the_real_code_verifier_short_circuits_and_the_switch_turns_it_off(server):
    """With the sandboxed code verifier: a failing program loses unasked; without the
    short-circuit the model is asked (and may say otherwise)."""
    item = Item.from_texts(
        ADD_PROMPT, [ADD, SUB], kind="code", resources={"tests": ["assert add(1, 2) == 3"]}
    )
    verdict = compare(make_judge(server.base_url, evidence=EvidenceJudge()), item)
    assert (verdict.winner, verdict.judge, verdict.evidence) == ("a", "evidence", ("test:1",))
    assert server.chat_requests == []
    server.enqueue(final("B", evidence=("test:1",)))
    judge = make_judge(server.base_url, evidence=EvidenceJudge(), short_circuit=False)
    assert compare(judge, item).winner == "b"
    assert "add(1, 2) returned -1, expected 3" in sent(server.chat_requests[0])


@pytest.mark.skipif(
    isolation().process_limit == "none", reason="this machine cannot sandbox programs"
)
def test_run_verifier_runs_a_test_the_judge_wrote_and_the_verdict_may_cite_it(server):
    """No visible test separates the programs; the judge's own test does, and is citable."""
    item = Item.from_texts(ADD_PROMPT, [ADD, ABS], kind="code", resources={"entry_point": "add"})
    own_test = {"verifier": "code", "candidate": "B", "test": "assert add(-1, 1) == 0"}
    server.enqueue(call("run_verifier", own_test), final("A", evidence=("test:1", "run")))
    verdict = compare(make_judge(server.base_url, evidence=EvidenceJudge()), item)
    result = server.chat_requests[1].body["messages"][-1]["content"]
    assert "- `test:1` fail (hard): add(-1, 1) returned 2, expected 0" in result
    assert verdict.winner == "a" and verdict.flags == ()


# -- position, cache, endpoints ---------------------------------------------------------------


def _always_first(body: dict) -> Message:
    return final("A")


def _the_right_answer(body: dict) -> Message:
    user = body["messages"][1]["content"]
    first = user.split('<candidate id="A">\n', 1)[1]
    return final("A" if first.startswith("6*7 = 42") else "B")


@pytest.mark.parametrize(
    ("reply", "winner", "disagreements"), [(_always_first, None, 1), (_the_right_answer, 0, 0)]
)
def test_both_orders_ask_twice_and_a_disagreement_is_a_tie(server, reply, winner, disagreements):
    """Swap mode: two requests per match; a judge that always names A is caught."""
    server.default = reply
    judge = make_judge(server.base_url)

    async def select():
        try:
            return await select_item(MATH, StrategyConfig("knockout", both_orders=True), judge)
        finally:
            await judge.aclose()

    result = run(select())
    match = result.selection.matches[0]
    assert len(server.chat_requests) == 2 and len(match.verdicts) == 2
    assert match.winner == winner and (match.outcome == "tie") == (winner is None)
    row = result_row(result)
    assert (row["both_orders_matches"], row["swap_disagreements"]) == (1, disagreements)
    assert row["judge_calls"] == 2 and row["prompt_tokens"] > 0


def test_a_cached_verdict_costs_no_request(server, tmp_path):
    """A second judge on the same cache file answers from it; the other order is asked."""
    server.enqueue(final("B"), final("A"))
    cache = tmp_path / "verdicts.sqlite"
    first = compare(make_judge(server.base_url, cache=cache))
    second = make_judge(server.base_url, cache=str(cache))
    again, swapped = run(judged(second, ("compare", MATH, 0, 1), ("compare", MATH, 1, 0)))
    assert len(server.chat_requests) == 2  # the first question, then the swapped one
    assert (again.winner, again.reason, again.evidence) == (
        first.winner,
        first.reason,
        first.evidence,
    )
    assert again.cost.calls == 0 and (again.judge, again.via) == ("llm:math", "cache")
    assert swapped.winner == "a" and swapped.cost.calls == 1


def test_an_invalid_verdict_is_not_cached(server, tmp_path):
    """A rerun asks again where the model failed before."""
    server.enqueue(Message(""), Message(""), final())
    cache = tmp_path / "verdicts.sqlite"
    assert compare(make_judge(server.base_url, cache=cache, max_steps=0)).winner == "invalid"
    assert compare(make_judge(server.base_url, cache=cache, max_steps=0)).winner == "a"


def test_failover_when_the_first_endpoint_refuses(server):
    """A refused connection moves the call on to the next endpoint."""
    server.enqueue(final())
    with refusing_endpoint() as dead:
        verdict = compare(make_judge([dead, server.base_url]))
    assert verdict.winner == "a" and len(server.chat_requests) == 1


def test_failover_when_the_first_endpoint_fails_with_500(server, other):
    """A 5xx from one endpoint is answered by the other."""
    other.enqueue(ErrorReply(500, "CUDA out of memory"))
    server.enqueue(final())
    verdict = compare(make_judge([other.base_url, server.base_url]))
    assert verdict.winner == "a"
    assert (len(other.chat_requests), len(server.chat_requests)) == (1, 1)


def test_retry_on_429(server):
    """A rate-limited call is retried on the same endpoint in the next round."""
    server.enqueue(ErrorReply(429, "slow down", headers={"Retry-After": "0"}), final())
    assert compare(make_judge(server.base_url)).winner == "a"
    assert len(server.chat_requests) == 2


def test_a_server_without_the_thinking_field_is_asked_again_without_it(server):
    """enable_thinking goes as chat_template_kwargs; a server rejecting it gets none."""
    server.enqueue(ErrorReply(400, "unknown field 'chat_template_kwargs'"), final())
    assert compare(make_judge(server.base_url)).winner == "a"
    first, second = server.chat_requests
    assert first.body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "chat_template_kwargs" not in second.body


def test_a_server_without_tool_calling_is_asked_for_text_verdicts(server):
    """A 400 about tools switches the judge to plain replies for good."""
    rejection = ErrorReply(400, '"auto" tool choice requires --enable-auto-tool-choice')
    text = 'B is off.\n{"winner": "A", "confidence": 0.7, "evidence": ["answer"], "reason": "42"}'
    step = call("view_resource", {"id": "rubric"})
    server.enqueue(step, rejection, Message(text), Message(text))
    judge = make_judge(server.base_url)
    first, second = run(judged(judge, ("compare", MATH, 0, 1), ("compare", MATH, 1, 0)))
    assert first.winner == second.winner == "a"
    assert (first.cost.calls, second.cost.calls) == (2, 1)  # the abandoned step counts
    assert [("tools" in r.body) for r in server.chat_requests] == [True, True, False, False]
    user = server.chat_requests[2].body["messages"][1]["content"]
    assert "End your reply with the verdict" in user


def test_no_endpoint_answering_is_an_error_not_a_verdict():
    """Endpoint failures raise (the item fails and --resume retries it), naming the URL."""
    with refusing_endpoint() as dead, pytest.raises(Exception, match="no endpoint answered"):
        compare(make_judge(dead))


# -- pointwise, compact, options --------------------------------------------------------------


def test_pointwise_score_on_the_skill_scale(server):
    """score() asks for the pointwise contract and returns its score."""
    server.enqueue(call("final_answer", {"score": 7, "evidence": ["answer"], "reason": "fine"}))
    (score,) = run(judged(make_judge(server.base_url), ("score", MATH, 0)))
    assert (score.value, score.reason, score.evidence) == (7.0, "fine", ("answer",))
    assert score.cost.calls == 1 and score.judge == "llm:math"
    tools = {t["function"]["name"]: t for t in server.chat_requests[0].body["tools"]}
    assert tools["final_answer"]["function"]["parameters"]["properties"]["score"]["maximum"] == 10


def test_an_off_scale_score_is_repaired_and_then_invalid(server):
    """A score off the scale is a bad reply; if it stays off, the score is None with why."""
    server.enqueue(
        call("final_answer", {"score": 11, "evidence": [], "reason": "great"}),
        Message("Score: 12"),
    )
    (score,) = run(judged(make_judge(server.base_url, max_steps=0), ("score", MATH, 1)))
    assert score.value is None and "off the scale" in score.reason


def test_compact_form_sends_no_tools_and_reads_the_verdict_line(server):
    """compact=True: the compact prefix, no tools, and a 'Verdict: A' reply."""
    # Math: the model solves first (its answer, 44, matches neither), then the question.
    server.enqueue(Message("Answer: 44"), Message("Correct answer: 42\nVerdict: A"))
    verdict = compare(make_judge(server.base_url, compact=True, swap=False, verdict="text"))
    body = server.chat_requests[1].body
    assert verdict.winner == "a" and "tools" not in body
    assert body["messages"][0]["content"] == render(
        SkillRegistry.from_dirs().get("math"), compact=True
    )


def test_explain_names_kind_skill_and_evidence(server):
    """The trace gets the task kind, the skill with its hash, and each candidate's evidence."""
    (explained,) = run(judged(make_judge(server.base_url), ("explain", MATH)))
    skill = SkillRegistry.from_dirs().get("math")
    assert explained["task_kind"] == "math" and explained["skill"] == "math"
    assert explained["skill_hash"] == skill.hash
    assert explained["evidence"][1]["checks"][1]["id"] == "step:1"


def test_a_forced_skill_withholds_a_reference_it_does_not_grant(server):
    """general grants no reference: the exposed reference and its checks stay out."""
    item = Item.from_texts(
        "What is 6*7?", ["#### 42", "#### 43"], kind="math", resources={"reference": "GOLD-42"}
    )
    server.enqueue(final())
    verdict = compare(make_judge(server.base_url, skill="general", evidence=EvidenceJudge()), item)
    assert verdict.judge == "llm:general" and "GOLD-42" not in sent(server.chat_requests[0])
    user = server.chat_requests[0].body["messages"][1]["content"]
    assert "- `answer` pass" in user and "- `reference`" not in user


def test_spec_options_arrive_as_strings_and_are_read(server):
    """--judge llm:max_steps=2,short_circuit=false,... builds a judge with typed options."""
    judge = create_judge(
        "llm:max_steps=2,short_circuit=false,cache=false,temperature=0.5", base_url=server.base_url
    )
    options = judge.options
    assert (options.max_steps, options.short_circuit, options.temperature) == (2, False, 0.5)
    assert judge.spec == "llm:max_steps=2,short_circuit=false,cache=false,temperature=0.5"


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("llm:max_steps=many", {"base_url": "http://h:1/v1"}, "max_steps must be a number"),
        ("llm:short_circuit=maybe", {"base_url": "http://h:1/v1"}, "true or false"),
        ("llm:skill=poetry", {"base_url": "http://h:1/v1"}, "no skill named 'poetry'"),
        ("llm", {}, "no endpoint given: set --base-url"),
    ],
)
def test_bad_options_are_config_errors(spec, options, message):
    """A bad option fails when the judge is built, saying which and why."""
    with pytest.raises(ConfigError, match=message):
        create_judge(spec, **options)

"""Verdicts and scores from the log-probabilities of a one-token answer (``verdict=logprobs``).

Against the scripted loopback server through the real openai client: the server sends the
``top_logprobs`` a test scripts (or none, with ``logprobs=False``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

import pytest
from click.testing import CliRunner

from rerank.cli import main
from rerank.items import Item
from rerank.judges import create_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.judge import LLMJudge
from rerank.judges.llm.logprobs import (
    LabelRead,
    NoLabel,
    label_probability,
    position_free,
    verdict_from_probability,
)
from rerank.judges.llm.predict import SYSTEM as PREDICT_SYSTEM
from rerank.llm import EndpointPool
from rerank.selector import StrategyConfig, select_item
from rerank.testing import Message, OpenAIServer, ToolCall, openai_server_fixture

server = openai_server_fixture("server")
GUARD_SECONDS = 60  # a hang fails the test instead of the run; nothing is timed

POEM = Item.from_texts(
    "Write a haiku about rain.",
    ["Rain taps the tin roof / puddles gather in the lane / the cat stays inside", "rain"],
    kind="general",
)
MATH = Item.from_texts(
    "Tom has 3 apples and buys 4 more. How many apples does he have?",
    ["3 + 4 = 7. The answer is 7.", "3 * 4 = 12. The answer is 12.", "3 - 4 = -1. It is -1."],
    kind="math",
)


def judge(server: OpenAIServer, model: str = "tiny-1.5b", **options: Any) -> LLMJudge:
    pool = EndpointPool(server.base_url, model, retries=0, backoff=0.0)
    return LLMJudge(pool=pool, evidence=EvidenceJudge(), **{"cache": False, **options})


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, GUARD_SECONDS))


def judged(j: LLMJudge, *calls: tuple[Any, ...]) -> list[Any]:
    """Run ``(method, item, *args)`` calls in order on one judge, then close it."""

    async def go():
        try:
            return [await getattr(j, name)(item, *args) for name, item, *args in calls]
        finally:
            await j.aclose()

    return run(go())


def letters(p_a: float) -> Message:
    """A one-letter reply whose first token is A with probability ``p_a``, else B."""
    return Message("A" if p_a >= 0.5 else "B", top_logprobs={"A": math.log(p_a),
                                                              "B": math.log(1 - p_a)})  # fmt: skip


def names_the_haiku(body: dict[str, Any]) -> Message:
    """A text reply naming the haiku, whichever display order it is shown in."""
    first = body["messages"][-1]["content"].split('<candidate id="A">\n', 1)[1]
    return Message(f"Reason: a poem\nVerdict: {'A' if first.startswith('Rain') else 'B'}")


def by_order(item: Item, when_first: dict[int, float]) -> Any:
    """A scripted reply whose P(A) depends on which candidate is shown first:
    ``when_first[i]`` when candidate ``i`` is A (the two orders arrive in either order)."""
    texts = tuple(c.text for c in item.candidates)

    def reply(body: dict[str, Any]) -> Message:
        return letters(when_first[texts.index(shown_first(body, texts))])

    return reply


def shown_first(body: dict[str, Any], texts: tuple[str, ...]) -> str:
    """Which of ``texts`` the request shows as Response A."""
    user = body["messages"][-1]["content"]
    first = user.split('<response id="A">\n', 1)[1].split("\n</response>", 1)[0]
    assert first in texts
    return first


# -- reading probabilities (pure) ---------------------------------------------------------


def test_label_probability_is_normalised_over_the_two_labels() -> None:
    """P(A) / (P(A) + P(B)); every spelling of a label counts; the mass is their share."""
    read = label_probability([("A", math.log(0.3)), (" A", math.log(0.1)), ("B", math.log(0.4)),
                              ("The", math.log(0.2))], ("A", "B"))  # fmt: skip
    assert isinstance(read, LabelRead)
    assert read.probability == pytest.approx(0.5) and read.mass == pytest.approx(0.8)


def test_a_lowercase_a_is_a_word_not_the_label() -> None:
    read = label_probability([("a", 0.0), ("B", math.log(0.5))], ("A", "B"))
    assert isinstance(read, LabelRead) and read.probability == 0.0


def test_yes_and_no_are_read_whatever_their_case() -> None:
    read = label_probability([("Yes", math.log(0.6)), (" no", math.log(0.2))], ("yes", "no"))
    assert isinstance(read, LabelRead) and read.probability == pytest.approx(0.75)


def test_no_label_among_the_alternatives_is_no_answer_with_the_reason() -> None:
    read = label_probability([("The", -0.1), ("I", -2.0)], ("A", "B"))
    assert isinstance(read, NoLabel) and "'The'" in read.reason


def test_position_free_probability_cancels_a_first_shown_preference() -> None:
    """A model that gives the response shown first 0.7 whatever it is gets p = 0.5."""
    assert position_free(0.7, 1 - 0.7) == pytest.approx(0.5)
    assert position_free(0.9, 0.8) == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("p", "margin", "winner"),
    [(0.6, 0.05, "a"), (0.4, 0.05, "b"), (0.54, 0.05, "tie"), (0.46, 0.05, "tie"),
     (0.5, 0.0, "tie"), (0.51, 0.0, "a")],
)  # fmt: skip
def test_a_verdict_is_a_tie_inside_the_margin(p, margin, winner) -> None:
    assert verdict_from_probability(p, margin) == winner


# -- the judge ------------------------------------------------------------------------------


def test_a_logprob_verdict_averages_both_display_orders(server) -> None:
    """Two one-token requests (A first, B first); p = (P_AB(A) + P_BA(B)) / 2 is kept."""
    texts = (POEM.candidates[0].text, POEM.candidates[1].text)
    # 0.9 for the haiku when shown first, 0.6 when shown second: a first-shown bias.
    server.enqueue(*[by_order(POEM, {0: 0.9, 1: 0.4})] * 2)
    (verdict,) = judged(judge(server), ("compare", POEM, 0, 1))
    assert verdict.winner == "a" and verdict.via == "model"
    assert verdict.probability == pytest.approx((0.9 + 0.6) / 2)
    assert verdict.confidence == pytest.approx(0.75) and verdict.cost.calls == 2
    assert "P(A better) = 0.750" in verdict.reason and verdict.to_dict()["probability"] == 0.75
    for request in server.chat_requests:
        body = request.body
        assert (body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (1, True, 20)
        assert "tools" not in body
    assert {shown_first(r.body, texts) for r in server.chat_requests} == set(texts)


def test_a_position_bias_alone_makes_a_tie(server) -> None:
    """Naming whichever comes first with 0.8 is p = 0.5: a tie, never a win for A."""
    server.enqueue(letters(0.8), letters(0.8))
    (verdict,) = judged(judge(server), ("compare", POEM, 0, 1))
    assert verdict.winner == "tie" and verdict.probability == pytest.approx(0.5)
    assert "within 0.02 of 0.5" in verdict.reason


def test_the_margin_is_an_option(server) -> None:
    server.enqueue(*[by_order(POEM, {0: 0.6, 1: 0.45})] * 2)  # p = (0.6 + 0.55) / 2 = 0.575
    (wide,) = judged(judge(server, margin=0.1), ("compare", POEM, 0, 1))
    server.enqueue(*[by_order(POEM, {0: 0.6, 1: 0.45})] * 2)
    (narrow,) = judged(judge(server, margin="0.05"), ("compare", POEM, 0, 1))
    assert (wide.winner, narrow.winner) == ("tie", "a")


def test_the_other_display_order_reuses_both_answers(server) -> None:
    """compare(b, a) asks the same two questions as compare(a, b): no new request."""
    server.enqueue(*[by_order(POEM, {0: 0.9, 1: 0.2})] * 2)
    forward, backward = judged(judge(server), ("compare", POEM, 0, 1), ("compare", POEM, 1, 0))
    assert len(server.chat_requests) == 2
    assert backward.probability == pytest.approx(1 - forward.probability)
    assert (forward.winner, backward.winner) == ("a", "b")
    assert backward.via == "cache" and backward.cost.calls == 0


def test_the_answers_are_kept_in_the_verdict_cache(server, tmp_path) -> None:
    """A rerun with the verdict cache sends nothing."""
    server.enqueue(*[by_order(POEM, {0: 0.9, 1: 0.2})] * 2)
    cache = str(tmp_path / "verdicts.sqlite")
    (first,) = judged(judge(server, cache=cache), ("compare", POEM, 0, 1))
    (again,) = judged(judge(server, cache=cache), ("compare", POEM, 0, 1))
    assert len(server.chat_requests) == 2
    assert again.probability == first.probability and again.via == "cache"


def test_the_prompt_puts_what_questions_share_first(server) -> None:
    """The system message is the same for every question of a skill, and the user message
    is the same up to the first response in both display orders."""
    server.enqueue(letters(0.9), letters(0.2))
    judged(judge(server), ("compare", POEM, 0, 1))
    first, second = (r.body["messages"] for r in server.chat_requests)
    assert first[0] == second[0] and "one letter only: A or B" in first[0]["content"]
    prefix = first[1]["content"].split("## Response A")[0]
    assert second[1]["content"].startswith(prefix) and "Write a haiku about rain." in prefix
    assert first[1]["content"] != second[1]["content"]


def test_no_label_in_the_reply_is_an_invalid_verdict_with_the_reason(server) -> None:
    server.enqueue(
        Message("The", top_logprobs={"The": -0.1, "I": -2.5}), letters(0.5)
    )  # either order
    (verdict,) = judged(judge(server), ("compare", POEM, 0, 1))
    assert verdict.winner == "invalid" and "neither 'A' nor 'B'" in verdict.reason


FIRST = Item.from_texts(
    'def first(xs):\n    """The first element of xs, or None when xs is empty.\n'
    '    >>> first([1, 2])\n    1\n    """\n',
    ["def first(xs):\n    return xs[0]\n", "def first(xs):\n    return xs[0] if xs else None\n"],
    kind="code",
    resources={"inputs": [[[]]]},
)


def against_raising(predicted: str = "I cannot tell.") -> Any:
    """Replies: to "what does the call give?", ``predicted``; to "which result?", P(A)
    0.1 when result A is an exception, 0.9 when B is, else 0.5; to "which program?", 0.6
    for whichever is shown first."""

    def reply(body: dict[str, Any]) -> Message:
        system = body["messages"][0]["content"]
        if system == PREDICT_SYSTEM:
            return Message(predicted)
        if "give different results for the same call" not in system:
            return letters(0.6)
        user = body["messages"][1]["content"]
        return letters(0.1 if "\nA: raises" in user else 0.9 if "\nB: raises" in user else 0.5)

    return reply


def test_the_judge_works_out_the_call_where_two_programs_differ(server) -> None:
    """Both programs pass the example; on ``first([])`` one raises and one returns None.
    The model works out the call as a doctest would; its result names the program."""
    server.default = against_raising(predicted="None")
    (verdict,) = judged(judge(server), ("compare", FIRST, 0, 1))
    assert verdict.winner == "b" and verdict.via == "own-answer"
    assert verdict.evidence == ("own-answer",) and "`first([])` gives None" in verdict.reason
    asked = [r.body["messages"] for r in server.chat_requests]
    assert all(m[0]["content"] == PREDICT_SYSTEM for m in asked)  # no A-or-B question
    assert asked[0][1]["content"].endswith(">>> first([])") and len(asked) <= 3
    assert verdict.cost.calls == len(asked)


def test_an_exception_the_model_predicts_names_the_program_that_raises_it(server) -> None:
    server.default = against_raising(predicted="IndexError: list index out of range")
    (verdict,) = judged(judge(server), ("compare", FIRST, 1, 0))
    assert verdict.winner == "b" and verdict.via == "own-answer"


def test_an_unreadable_prediction_asks_which_result_the_task_asks_for(server) -> None:
    """The model's reply is no value: the pair is asked "which result?" about each call
    where the programs differ, in both display orders, not which program."""
    server.default = against_raising()
    (verdict,) = judged(judge(server), ("compare", FIRST, 0, 1))
    assert verdict.winner == "b" and verdict.probability == pytest.approx(0.1)
    assert "first([])" in verdict.reason and "A raises IndexError, B returns None" in verdict.reason
    asked = [r.body["messages"] for r in server.chat_requests]
    predictions = [m for m in asked if m[0]["content"] == PREDICT_SYSTEM]
    questions = [m for m in asked if "give different results" in m[0]["content"]]
    assert len(predictions) + len(questions) == len(asked)
    assert 2 <= len(questions) == 2 * len(predictions) <= 6  # up to 3 calls, both orders
    user = questions[0][1]["content"]
    assert user.startswith("## Task") and "first([])" in user and "def first" in user
    assert "return xs[0]" not in user  # the programs are not shown, only what they gave


def test_solve_false_asks_about_results_without_working_them_out(server) -> None:
    server.default = against_raising(predicted="None")
    (verdict,) = judged(judge(server, solve=False), ("compare", FIRST, 0, 1))
    assert verdict.winner == "b" and verdict.via == "model"
    assert all(r.body["messages"][0]["content"] != PREDICT_SYSTEM for r in server.chat_requests)


def test_outputs_zero_asks_which_program(server) -> None:
    server.default = against_raising(predicted="None")
    (verdict,) = judged(judge(server, outputs=0), ("compare", FIRST, 0, 1))
    assert verdict.winner == "tie" and verdict.probability == pytest.approx(0.5)
    assert len(server.chat_requests) == 2
    assert "Which program is correct" in server.chat_requests[0].body["messages"][1]["content"]


def test_the_own_answer_still_decides_math_pairs(server) -> None:
    """Solve first: when exactly one candidate reaches the model's answer, no question."""
    server.enqueue(Message("3 + 4 = 7\nAnswer: 7"))
    (verdict,) = judged(judge(server), ("compare", MATH, 1, 0))
    assert verdict.winner == "b" and verdict.via == "own-answer"
    assert len(server.chat_requests) == 1


def test_an_undecided_math_pair_asks_with_the_own_answer_in_the_shared_part(server) -> None:
    server.enqueue(Message("Answer: 7"), *[by_order(MATH, {1: 0.3, 2: 0.6})] * 2)
    (verdict,) = judged(judge(server), ("compare", MATH, 1, 2))
    assert verdict.winner == "b" and verdict.probability == pytest.approx(0.35)
    user = server.chat_requests[1].body["messages"][1]["content"]
    assert user.index("reached: 7") < user.index("## Response A")
    assert verdict.cost.calls == 3  # the solve and both orders


def test_solve_false_asks_without_solving(server) -> None:
    server.enqueue(*[by_order(MATH, {0: 0.7, 1: 0.2})] * 2)
    (verdict,) = judged(judge(server, solve=False), ("compare", MATH, 0, 1))
    assert verdict.winner == "a" and len(server.chat_requests) == 2
    assert "Your own answer" not in server.chat_requests[0].body["messages"][1]["content"]


def test_swap_false_asks_one_display_order(server) -> None:
    server.enqueue(letters(0.7))
    (verdict,) = judged(judge(server, swap=False), ("compare", POEM, 0, 1))
    assert verdict.probability == pytest.approx(0.7) and len(server.chat_requests) == 1


def test_pointwise_score_is_the_probability_of_yes(server) -> None:
    server.enqueue(Message("yes", top_logprobs={"yes": math.log(0.6), "no": math.log(0.2)}))
    (score,) = judged(judge(server), ("score", POEM, 0))
    assert score.value == pytest.approx(0.75) and score.via == "model"
    body = server.chat_requests[0].body
    assert "one word only: yes or no" in body["messages"][0]["content"]
    assert body["max_tokens"] == 1 and "Rain taps" in body["messages"][1]["content"]


def test_pointwise_selection_ranks_by_the_probability_of_yes(server) -> None:
    def yes_for_the_haiku(body: dict[str, Any]) -> Message:
        p = 0.8 if "Rain taps" in body["messages"][1]["content"] else 0.3
        return Message("yes", top_logprobs={"yes": math.log(p), "no": math.log(1 - p)})

    server.enqueue(yes_for_the_haiku, yes_for_the_haiku)
    j = judge(server)

    async def go():
        try:
            return await select_item(POEM, StrategyConfig("pointwise", seed=0), j)
        finally:
            await j.aclose()

    result = run(go())
    assert result.selection.winner == 0
    assert result.selection.scores == pytest.approx([0.8, 0.3])


def test_without_logprobs_the_judge_falls_back_to_text_and_says_so(caplog) -> None:
    """An endpoint that sends none: the first answer shows it, one warning, text verdicts."""

    def plain_model(body: dict[str, Any]) -> Message:
        if body.get("logprobs"):
            return Message("A")  # the server leaves the log-probabilities out
        return names_the_haiku(body)

    with OpenAIServer(logprobs=False, default=plain_model) as plain:
        j = judge(plain)
        with caplog.at_level(logging.WARNING, logger="rerank.judges.llm.probabilities"):
            first, second = judged(j, ("compare", POEM, 0, 1), ("compare", POEM, 0, 1))
        bodies = [r.body for r in plain.chat_requests]
    probe, *questions = bodies
    assert (probe["max_tokens"], probe["logprobs"]) == (1, True)  # the first answer: the probe
    assert len(questions) == 2 and all("logprobs" not in b for b in questions)  # both orders
    assert first.winner == "a" and first.probability is None  # from "Verdict:" lines
    assert second.winner == "a" and second.via == "dedup"  # asked once, not probed again
    warned = [r for r in caplog.records if "no log-probabilities" in r.getMessage()]
    assert len(warned) == 1 and "--verdict text" in warned[0].getMessage()


def test_verdict_text_asks_for_lines(server) -> None:
    server.enqueue(names_the_haiku, names_the_haiku)
    (verdict,) = judged(judge(server, verdict="text"), ("compare", POEM, 0, 1))
    assert verdict.winner == "a" and "logprobs" not in server.chat_requests[0].body


def test_large_models_keep_the_tool_loop(server) -> None:
    """verdict=auto: a large model gets the full skill with tools, no one-token question."""
    final = '{"winner": "A", "confidence": 0.9, "evidence": [], "reason": "a poem"}'
    server.enqueue(Message(tool_calls=[ToolCall("final_answer", final)]))
    (verdict,) = judged(judge(server, "Qwen3-8B"), ("compare", POEM, 0, 1))
    body = server.chat_requests[0].body
    assert verdict.winner == "a" and "tools" in body and "logprobs" not in body


def test_verdict_logprobs_applies_to_large_models_too(server) -> None:
    server.enqueue(*[by_order(POEM, {0: 0.9, 1: 0.1})] * 2)
    (verdict,) = judged(judge(server, "Qwen3-8B", verdict="logprobs"), ("compare", POEM, 0, 1))
    assert verdict.probability == pytest.approx(0.9)


def test_the_server_reported_size_makes_a_model_compact() -> None:
    """A 1.5B model served as "judge" is small by the parameter count llama.cpp reports."""
    with OpenAIServer(models=("judge",), parameters=1_543_714_304, context=8192) as served:
        served.enqueue(*[by_order(POEM, {0: 0.9, 1: 0.1})] * 2)
        (verdict,) = judged(judge(served, "judge"), ("compare", POEM, 0, 1))
        assert verdict.probability == pytest.approx(0.9)
        assert served.chat_requests[0].body["max_tokens"] == 1


def test_the_verdict_option_is_recorded_and_given_by_the_cli(server, tmp_path) -> None:
    assert create_judge("llm:verdict=text", base_url=server.base_url).spec == "llm:verdict=text"
    with pytest.raises(Exception, match="verdict must be one of auto, logprobs, text"):
        create_judge("llm:verdict=maybe", base_url=server.base_url)
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"id": "p", "prompt": "Say hi.", "candidates": ["hi", "hello"]}\n')
    out = tmp_path / "out.jsonl"
    hi = by_order(Item.from_texts("Say hi.", ["hi", "hello"]), {0: 0.9, 1: 0.1})
    server.enqueue(hi, hi)
    result = CliRunner().invoke(
        main,
        ["select", str(rows), "--base-url", server.base_url, "--model", "tiny-1.5b",
         "--verdict", "logprobs", "--no-cache", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"judge": "llm:model=tiny-1.5b,verdict=logprobs"' in out.read_text()
    # the knockout's confidence: the winner's one match, p = (0.9 + (1 - 0.1)) / 2
    row = json.loads(out.read_text())
    assert row["selected"] == 0 and row["confidence"] == pytest.approx(0.9)

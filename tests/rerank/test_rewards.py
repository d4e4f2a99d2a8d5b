"""rerank.rewards called exactly as TRL's GRPOTrainer and verl's reward managers call them."""

from __future__ import annotations

import asyncio
import doctest
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import rerank.rewards as rewards
import rerank.verifier_scores as verifier_scores
from rerank.errors import ConfigError, JudgeError
from rerank.judges import BaseJudge, Verdict
from rerank.rewards import agrpo_reward, compute_score, compute_score_batch, grpo_reward

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
# Two prompts of 4 completions each, flattened as TRL passes them (num_generations = 4).
PROMPTS = ["What is 2+3?"] * 4 + ["What is 10-4?"] * 4
COMPLETIONS = [
    "2+3=5. #### 5",
    "#### 6",
    "It is 5. #### 5",
    "#### 5",
    "#### 6",
    "10-4=7. #### 7",
    "10-4=6 #### 6",
    "So 6. #### 6",
]
ANSWERS = ["#### 5"] * 4 + ["#### 6"] * 4
CORRECT = [True, False, True, True, True, False, True, True]


def trl_call(reward, prompts=PROMPTS, completions=COMPLETIONS, **columns):
    """The keyword arguments GRPOTrainer passes: prompts, completions, completion_ids,
    trainer_state and every dataset column."""
    ids = [[1, 2, 3] for _ in completions]
    return reward(
        prompts=prompts,
        completions=completions,
        completion_ids=ids,
        trainer_state=None,
        answer=ANSWERS,
        **columns,
    )


def conversational(texts):
    return [[{"role": "assistant", "content": t}] for t in texts]


def chat(prompts):
    return [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": p}]
        for p in prompts
    ]


@pytest.mark.parametrize("mode", ["winner", "rank", "bradley_terry"])
def test_every_mode_rewards_each_completion_in_its_group(mode):
    """One reward per completion, in order, in [0, 1]; within each group the correct
    answers (the majority here) get more than the wrong ones."""
    with grpo_reward(mode=mode) as reward:
        values = trl_call(reward)
    assert len(values) == len(COMPLETIONS)
    assert all(v is None or 0.0 <= v <= 1.0 for v in values)
    for group in (range(0, 4), range(4, 8)):
        right = [values[i] for i in group if CORRECT[i]]
        wrong = [values[i] for i in group if not CORRECT[i]]
        assert max(wrong) <= min(right) if mode == "winner" else max(wrong) < min(right)
    if mode == "winner":
        assert sorted(values[:4]) == [0.0, 0.0, 0.0, 1.0]


def test_rank_is_the_normalised_place_with_ties_sharing_it():
    """rank: 0 for the last, 1 for the first, equal candidates share their mean place."""
    with grpo_reward(mode="rank") as reward:
        values = reward(PROMPTS[:4], COMPLETIONS[:4])
    assert values == [2 / 3, 0.0, 2 / 3, 2 / 3]


def test_conversational_prompts_and_completions_give_the_same_rewards():
    """Message lists (TRL's conversational format) are read as their user / assistant text."""
    with grpo_reward(mode="rank") as reward:
        plain = trl_call(reward)
        chatty = trl_call(reward, prompts=chat(PROMPTS), completions=conversational(COMPLETIONS))
    assert chatty == plain


def test_groups_are_runs_of_one_prompt_or_a_fixed_size():
    """Consecutive equal prompts form a group; num_generations fixes the size instead."""
    with grpo_reward(mode="rank") as reward:
        reward(PROMPTS, COMPLETIONS)
        assert [r["n"] for r in reward.last_rows] == [4, 4]
    with grpo_reward(mode="rank", num_generations=2) as reward:
        reward(PROMPTS, COMPLETIONS)
        assert [r["n"] for r in reward.last_rows] == [2, 2, 2, 2]
        with pytest.raises(ValueError, match="groups of 2"):
            reward(PROMPTS[:3], COMPLETIONS[:3])


def test_no_usable_evidence_is_none_never_a_made_up_half():
    """Where no verifier applies (an open-ended prompt) every reward is None."""
    prompts = ["Write a haiku about rain."] * 3
    for mode in ("winner", "rank", "bradley_terry", "verifier"):
        with grpo_reward(mode=mode) as reward:
            assert reward(prompts, ["drops", "clouds weep", "grey sky"]) == [None] * 3


def test_a_failed_judge_gives_none_for_its_group_only():
    """A judge that fails (JudgeError) leaves its group without rewards, not the batch."""

    class Flaky(BaseJudge):
        spec = "flaky"

        async def compare(self, item, a, b):
            if "10-4" in item.prompt:
                raise JudgeError("endpoint down")
            ta, tb = item.candidates[a].text, item.candidates[b].text
            return Verdict("a" if len(ta) > len(tb) else "b" if len(tb) > len(ta) else "tie")

    with grpo_reward(Flaky(), mode="rank") as reward:
        values = reward(PROMPTS, COMPLETIONS)
    assert values[4:] == [None] * 4 and all(v is not None for v in values[:4])


def test_ground_truth_columns_count_only_when_granted():
    """The answer column is a label until exposed; granted, it decides against the majority."""
    prompts = ["What is 2+3?"] * 3
    completions = ["#### 6", "so 6. #### 6", "2+3=5 #### 5"]  # the majority is wrong
    answer = ["5"] * 3
    with grpo_reward(mode="rank") as blind:
        assert blind(prompts, completions, answer=answer)[2] == 0.0
    with grpo_reward(mode="rank", expose=["answer"]) as granted:
        assert granted(prompts, completions, answer=answer)[2] == 1.0
        assert granted.last_rows[0]["exposed"] == ["reference"]
    with grpo_reward(mode="verifier", expose={"answer": "reference"}) as verifier:
        assert verifier(prompts, completions, answer=answer) == [0.0, 0.0, 1.0]


def test_code_tests_from_a_granted_column_drive_the_verifier_mode():
    """verifier mode: the share of hard checks (the program found, each test) passed."""
    prompt = "Write add(a, b) returning the sum."
    completions = [
        "def add(a, b):\n    return a + b",
        "def add(a, b):\n    return a - b",
        "no code",
    ]
    tests = [["assert add(1, 2) == 3", "assert add(0, 0) == 0"]] * 3
    with grpo_reward(mode="verifier", expose=["tests"]) as reward:
        values = reward([prompt] * 3, completions, tests=tests)
    assert values[0] == 1.0 and values[1] == pytest.approx(2 / 3) and values[2] < values[1]


def test_expose_is_checked():
    """A column that maps to no resource, or that the trainer did not pass, is an error."""
    with pytest.raises(ConfigError, match="no judge reads"):
        grpo_reward(expose=["difficulty"])
    with grpo_reward(expose=["tests"]) as reward, pytest.raises(ValueError, match="tests"):
        reward(PROMPTS, COMPLETIONS)
    with pytest.raises(ConfigError, match="unknown reward mode"):
        grpo_reward(mode="best")
    with pytest.raises(ConfigError, match="full ranking"):
        grpo_reward(mode="rank", strategy="knockout")


def test_the_async_form_is_a_coroutine_function_with_the_same_rewards():
    """agrpo_reward is an `async def` (TRL checks asyncio.iscoroutinefunction) named for
    TRL's logs, and agrees with the sync form."""
    areward = agrpo_reward(mode="rank", name="rerank_rank")
    assert asyncio.iscoroutinefunction(areward) and areward.__name__ == "rerank_rank"

    async def run():
        try:
            return await areward(prompts=PROMPTS, completions=COMPLETIONS, trainer_state=None)
        finally:
            await areward.aclose()

    with grpo_reward(mode="rank") as reward:
        assert asyncio.run(run()) == reward(PROMPTS, COMPLETIONS)
        assert reward.__name__ == "rerank_rank"


def test_the_sync_form_works_inside_a_running_event_loop():
    """The sync reward runs on a loop of its own, so async code may call it too."""

    async def inside():
        with grpo_reward(mode="winner") as reward:
            return reward(PROMPTS, COMPLETIONS)

    assert len(asyncio.run(inside())) == 8


# --- verl ---------------------------------------------------------------------------------


def test_compute_score_has_verls_signature_for_math():
    """compute_score(data_source, solution_str, ground_truth, extra_info) scores a math
    answer against a bare answer or a whole solution; no answer scores 0."""
    assert compute_score("openai/gsm8k", "3 * 24 = 72 #### 72", "72") == 1.0
    assert (
        compute_score(
            data_source="lighteval/MATH",
            solution_str="so $x = \\boxed{\\frac{1}{2}}$",
            ground_truth="0.5",
            extra_info={"split": "test", "index": 3},
        )
        == 1.0
    )
    assert compute_score("openai/gsm8k", "It is 71.", "#### 72") == 0.0
    assert compute_score("openai/gsm8k", "I do not know", "72", details=True) == {
        "score": 0.0,
        "acc": 0.0,
        "passed": 0,
        "checks": 1,
    }


def test_compute_score_runs_code_against_the_rows_tests():
    """Code: tests from ground_truth (list, string, dict, JSON) or extra_info run in the
    sandbox; all must pass, or the share with partial_credit."""
    good, bad = "def f(x):\n    return x + 1\n", "def f(x):\n    return 2 * x\n"
    tests = ["assert f(1) == 2", "assert f(3) == 4"]
    assert compute_score("code", good, tests) == 1.0
    assert compute_score("code", good, "\n".join(tests)) == 1.0
    assert compute_score("code", good, json.dumps({"tests": tests, "entry_point": "f"})) == 1.0
    assert compute_score("humaneval", bad, None, {"tests": tests}) == 0.0
    assert compute_score("humaneval", bad, tests, partial_credit=True) == 0.5
    check = "def check(candidate):\n    assert candidate(1) == 2\n\ncheck(f)"
    assert compute_score("humaneval", good, check) == 1.0


def test_compute_score_checks_ifeval_instructions_from_extra_info():
    """IFEval: the ids and kwargs in extra_info (numpy arrays, as parquet gives them, and
    kwargs padded with None) are checked strictly."""
    extra = {
        "instruction_id_list": np.array(["change_case:english_lowercase", "punctuation:no_comma"]),
        "kwargs": np.array([{"num_words": None}, {"num_words": None}]),
    }
    assert compute_score("ifeval", "hello there friend", None, extra) == 1.0
    assert compute_score("ifeval", "Hello, there", None, extra, details=True) == {
        "score": 0.0,
        "acc": 0.0,
        "passed": 0,
        "checks": 2,
    }
    assert compute_score("ifeval", "hello, there", None, extra, partial_credit=True) == 0.5


def test_the_batch_form_takes_verls_batch_keywords():
    """compute_score_batch(data_sources=, solution_strs=, ground_truths=, extra_infos=,
    **reward_kwargs) scores every row in order (rows of one task verified together)."""
    scores = compute_score_batch(
        data_sources=np.array(["openai/gsm8k"] * 3 + ["code"]),
        solution_strs=["#### 72", "#### 71", "#### 72", "def f(x):\n    return x"],
        ground_truths=["72", "72", "72", ["assert f(1) == 1"]],
        extra_infos=[None, {}, {"index": 1}, {}],
        details=True,
    )
    assert [s["score"] for s in scores] == [1.0, 0.0, 1.0, 1.0]
    assert all(set(s) == {"score", "acc", "passed", "checks"} for s in scores)


def test_a_row_that_cannot_be_scored_raises():
    """No tests for code, no answer for math, an unknown kind: errors, never a silent 0."""
    with pytest.raises(ValueError, match="no tests"):
        compute_score("x", "def f(): pass", None, {"kind": "code"})
    with pytest.raises(ValueError, match="cannot tell the task kind"):
        compute_score("chat", "hi", None)
    with pytest.raises(ValueError, match="unknown task kind"):
        compute_score("x", "hi", "1", {"kind": "poetry"})


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")
def test_compute_score_agrees_with_gsm8k_labels():
    """On 40 GSM8K rows (160 solutions), compute_score against the gold answer agrees with
    the labels (benchmarks/rewards.py measures the whole set)."""
    path = SHARED_DATA / "candidates" / "gsm8k_gpt3-4solutions_dev400.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:40]
    agree = total = 0
    for row in rows:
        gold = row["query"]["metadata"]["reference"]
        for response in row["responses"]:
            score = compute_score("openai/gsm8k", response["content"], gold)
            agree += score == response["metadata"]["score"]
            total += 1
    assert agree / total >= 0.99


def test_the_module_examples_run():
    """The docstring examples of rerank.rewards and rerank.verifier_scores pass."""
    assert doctest.testmod(rewards).failed == 0
    assert doctest.testmod(verifier_scores).failed == 0

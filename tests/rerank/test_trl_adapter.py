"""rerank.trl: TRL's pairwise and rank judge interfaces over rerank judges."""

from __future__ import annotations

import doctest

import pytest

import rerank.trl as trl_adapter
from rerank.errors import JudgeError
from rerank.judges import BaseJudge, Verdict
from rerank.trl import PairwiseJudge, RankJudge


class FirstShown(BaseJudge):
    """Always prefers the candidate shown first: position bias made visible."""

    spec = "first-shown"

    async def compare(self, item, a, b):
        return Verdict("a")


class Longer(BaseJudge):
    spec = "longer"

    async def compare(self, item, a, b):
        ta, tb = item.candidates[a].text, item.candidates[b].text
        if "down" in item.prompt:
            raise JudgeError("endpoint down")
        return Verdict("a" if len(ta) > len(tb) else "b" if len(tb) > len(ta) else "tie")


def test_online_dpo_calls_it_with_zipped_pairs():
    """OnlineDPOTrainer calls judge(prompts, list(zip(first, second))): one index per
    prompt, 0 or 1 for the better completion, -1 for a tie."""
    first, second = ["a", "bbbb", "cc"], ["aa", "b", "cc"]
    with PairwiseJudge(Longer()) as judge:
        assert judge.judge(["p1", "p2", "p3"], list(zip(first, second, strict=True))) == [1, 0, -1]


def test_shuffle_order_is_seeded_and_mapped_back():
    """With shuffle_order the display order is drawn per pair from the seed and content
    (a position-biased judge's picks spread over both slots); without it, A is slot 0."""
    pairs = [[f"x{k}", f"y{k}"] for k in range(40)]
    prompts = [f"q{k}" for k in range(40)]
    with PairwiseJudge(FirstShown()) as judge:
        shuffled = judge.judge(prompts, pairs)
        assert judge.judge(prompts, pairs) == shuffled  # reproducible
        assert 10 <= shuffled.count(0) <= 30
        assert judge.judge(prompts, pairs, shuffle_order=False) == [0] * 40


def test_both_orders_turns_a_position_dependent_verdict_into_no_verdict():
    """both_orders asks each pair twice; verdicts that follow the position give -1."""
    with PairwiseJudge(FirstShown(), both_orders=True) as judge:
        assert judge.judge(["q"], [["x", "y"]]) == [-1]
        assert len(judge.last_verdicts[0]) == 2


def test_a_failed_call_is_minus_one_and_a_wrong_pair_is_an_error():
    """A judge failure is -1 for that prompt only; a 'pair' of three is a ValueError."""
    with PairwiseJudge(Longer()) as judge:
        assert judge.judge(["down", "up"], [["a", "bb"], ["a", "bb"]]) == [-1, 1]
        with pytest.raises(ValueError, match="pairs"):
            judge.judge(["q"], [["a", "b", "c"]])


def test_it_wraps_functions_and_conversations():
    """Any judge works: a plain compare function; chat prompts and completions too."""
    with PairwiseJudge(lambda prompt, a, b: 0.9 if "!" in a else 0.1) as judge:
        prompts = [[{"role": "user", "content": "Cheer."}]]
        pair = [
            [[{"role": "assistant", "content": "yay"}], [{"role": "assistant", "content": "yay!"}]]
        ]
        assert judge.judge(prompts, pair) == [1]


def test_the_rank_judge_returns_each_prompts_completions_best_first():
    """RankJudge: a permutation of each prompt's completion indices, best first."""
    with RankJudge(Longer()) as judge:
        ranks = judge.judge(["p", "q"], [["bb", "a", "dddd", "ccc"], ["x", "yy"]])
    assert ranks == [[2, 3, 0, 1], [1, 0]]
    assert [r["n"] for r in judge.last_rows] == [4, 2]
    with pytest.raises(ValueError, match="no full ranking"):
        RankJudge(strategy="knockout")


def test_the_module_examples_run():
    """The docstring example of rerank.trl passes (the evidence judge)."""
    assert doctest.testmod(trl_adapter).failed == 0

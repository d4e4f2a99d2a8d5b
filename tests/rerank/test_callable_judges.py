"""Plain functions as judges: compare, score and TRL batch shapes, sync or async."""

from __future__ import annotations

import asyncio
import doctest
import math
import re

import pytest

import rerank.judges.callables as callables
from rerank import select
from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges import BaseJudge, from_callable
from rerank.judges.callables import as_judge, infer_kind
from rerank.run import output_row
from rerank.selector import StrategyConfig, select_item

TEXTS = ["a", "abcd", "ab", "abc"]  # the longest (index 1) is best for every judge below
PAIRWISE = ["sequential", "knockout", "round-robin"]


def longer(prompt: str, a: str, b: str) -> str:
    return "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"


async def longer_async(prompt: str, a: str, b: str) -> float:
    await asyncio.sleep(0)
    return 1.0 if len(a) > len(b) else 0.0 if len(b) > len(a) else 0.5


def length(prompt: str, candidate: str) -> float:
    return float(len(candidate))


def trl_style(prompts: list[str], completions: list[list[str]]) -> list[int]:
    return [0 if len(a) >= len(b) else 1 for a, b in completions]


def _row(judge, strategy: str, texts=TEXTS) -> dict:
    item = Item.from_texts("q", texts, id="x")
    config = StrategyConfig(name=strategy, seed=1)
    return output_row(asyncio.run(select_item(item, config, as_judge(judge))))


@pytest.mark.parametrize("strategy", PAIRWISE)
@pytest.mark.parametrize("fn", [longer, longer_async, length, trl_style])
def test_every_shape_runs_every_pairwise_strategy(fn, strategy):
    """Compare, score and batch functions, sync or async, pick the best with every strategy."""
    assert select("q", TEXTS, strategy=strategy, judge=fn, seed=1).winner == 1


def test_a_score_function_runs_pointwise_and_is_asked_once_per_candidate():
    """A score function drives pointwise, and round-robin reuses each candidate's score."""
    calls: list[str] = []

    def counted(prompt: str, candidate: str) -> int:
        calls.append(candidate)
        return len(candidate)

    assert select("q", TEXTS, strategy="pointwise", judge=counted).winner == 1
    calls.clear()
    row = _row(from_callable(counted, kind="score"), "round-robin")
    assert row["selected"] == 1 and sorted(calls) == sorted(TEXTS)
    assert row["judge_calls"] == len(TEXTS)  # a cached score costs nothing


def test_verdicts_name_the_function_and_count_its_calls():
    """Every verdict names the function that decided, and each call is one judge call."""
    row = _row(longer, "round-robin")
    assert row["judge"] == "callable:compare:longer"
    assert row["decided_by"] == {"callable:longer": 6}
    assert row["judge_calls"] == row["comparisons"] == 6


def test_a_probability_is_read_as_a_verdict_with_its_confidence():
    """A probability that A is better decides with confidence max(p, 1 - p); 0.5 ties."""
    judge = from_callable(lambda prompt, a, b: 0.8 if a == "x" else 0.5, kind="compare")
    item = Item.from_texts("q", ["x", "y"])
    forward = judge.compare_sync(item, 0, 1)
    assert forward.winner == "a" and math.isclose(forward.confidence, 0.8)
    assert judge.compare_sync(item, 1, 0).winner == "tie"


def test_none_and_nan_are_no_verdict_never_a_tie():
    """A function that returns None or NaN gives an invalid verdict, which rows count."""
    row = _row(lambda prompt, a, b: None, "round-robin")
    assert row["invalid"] == row["comparisons"] == 6 and row["ties"] == 0
    judge = from_callable(lambda prompt, a, b: float("nan"), kind="compare")
    assert judge.compare_sync(Item.from_texts("q", ["x", "y"]), 0, 1).winner == "invalid"


@pytest.mark.parametrize(
    ("fn", "kind", "shape"),
    [
        (lambda prompt, a, b: 3, "compare", "compare(prompt, a, b)"),
        (lambda prompt, a, b: "first", "compare", "compare(prompt, a, b)"),
        (lambda prompt, a, b: True, "compare", "compare(prompt, a, b)"),
        (lambda prompt, c: "high", "score", "score(prompt, candidate)"),
        (lambda prompts, completions: [0], "batch", "judge(prompts, completions)"),
        (lambda prompts, completions: [2] * len(prompts), "batch", "judge(prompts, completions)"),
    ],
)
def test_a_wrong_return_shape_is_a_type_error_naming_the_shape(fn, kind, shape):
    """A value of the wrong shape raises TypeError saying which shape was expected."""
    strategy = "pointwise" if kind == "score" else "knockout"
    with pytest.raises(TypeError, match=f"returned .*{re.escape(shape)}"):
        select("q", TEXTS, strategy=strategy, judge=from_callable(fn, kind=kind))


def test_a_lambda_is_a_judge_and_an_unreadable_one_says_how_to_wrap_it():
    """A lambda no longer fails with AttributeError; one of no known shape is a TypeError
    pointing at from_callable."""
    assert select("q", TEXTS, judge=lambda prompt, a, b: longer(prompt, a, b)).winner == 1
    with pytest.raises(TypeError, match="from_callable"):
        select("q", TEXTS, judge=lambda prompt: 1.0)
    with pytest.raises(TypeError, match="expected a judge"):
        select("q", TEXTS, judge=42)


def test_shape_inference_and_the_explicit_kind():
    """Three parameters compare, two score, prompts/completions (or a .judge method) batch;
    kind= overrides the inference."""
    assert infer_kind(longer) == "compare"
    assert infer_kind(length) == "score"
    assert infer_kind(trl_style) == "batch"

    class TrlJudge:
        def judge(self, prompts, completions, shuffle_order=True):
            return [1] * len(prompts)

    assert infer_kind(TrlJudge()) == "batch"
    assert select("q", ["aaa", "b"], strategy="knockout", judge=TrlJudge()).winner == 1
    as_score = from_callable(lambda x, y: len(y), kind="score")
    assert as_score.kind == "score" and select("q", TEXTS, judge=as_score).winner == 1


def test_pointwise_refuses_a_judge_that_only_compares():
    """A compare or batch function under pointwise is a ConfigError, not a pick from
    [None] * n."""
    for fn in (longer, trl_style):
        with pytest.raises(ConfigError, match="scores single candidates"):
            select("q", TEXTS, strategy="pointwise", judge=fn)


def test_a_judge_object_whose_score_returns_nothing_is_an_error():
    """A judge whose score() returns None (no Score) raises instead of picking silently."""

    class Silent(BaseJudge):
        spec = "silent"

        async def score(self, item, index):
            return None

    with pytest.raises(TypeError, match="expected a rerank.judges.Score"):
        select("q", TEXTS, strategy="pointwise", judge=Silent())


def test_an_incomplete_judge_object_is_told_what_it_lacks():
    """An object with compare() but not the rest of the protocol names what is missing."""

    class Partial:
        async def compare(self, item, a, b):
            return "a"

    with pytest.raises(TypeError, match="lacks spec, reads_labels, score, aclose"):
        select("q", TEXTS, judge=Partial())


def test_a_batch_function_gets_each_round_in_one_call():
    """Comparisons of one round go to a batch function together, counted as one call, and
    the function is asked not to shuffle (rerank seeds the display order)."""
    calls: list[tuple[int, bool]] = []

    def batch(prompts, completions, shuffle_order=True):
        calls.append((len(prompts), shuffle_order))
        return trl_style(prompts, completions)

    row = _row(batch, "knockout", texts=[c * k for k, c in enumerate("abcdefgh", start=1)])
    assert row["selected"] == 7
    assert calls == [(4, False), (2, False), (1, False)]
    assert row["judge_calls"] == 3 and row["comparisons"] == 7


def test_the_module_examples_run():
    """The docstring examples of rerank.judges.callables pass."""
    assert doctest.testmod(callables).failed == 0

"""Judges: the registry and specs, the simulated judge, the consensus judge."""

from __future__ import annotations

import asyncio

import pytest

from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges import ConsensusJudge, SimulatedJudge, create_judge, parse_spec


def _item(scores, texts=None, id="i"):
    texts = texts or [f"candidate {k}" for k in range(len(scores))]
    return Item.from_texts("p", texts, id=id, scores=scores)


def test_parse_spec_splits_positional_and_keywords():
    """'name:a,k=v' parses into its name, positional and keyword parts."""
    assert parse_spec("simulated:0.8,seed=3") == ("simulated", ["0.8"], {"seed": "3"})
    assert parse_spec("consensus") == ("consensus", [], {})


def test_unknown_judge_lists_the_known_ones():
    """A typo in --judge names the judges that exist."""
    with pytest.raises(ConfigError, match=r"unknown judge 'simulatd'.*consensus.*simulated"):
        create_judge("simulatd:0.8")


def test_bad_judge_arguments_are_config_errors():
    """Out-of-range or unknown arguments are reported against the spec."""
    with pytest.raises(ConfigError, match="accuracy must be within"):
        create_judge("simulated:1.5")
    with pytest.raises(ConfigError, match="simulated:color=red"):
        create_judge("simulated:color=red")


def test_simulated_perfect_judge_prefers_higher_label_in_both_orders():
    """Accuracy 1 always picks the better-labelled candidate, whichever is shown first."""
    judge = SimulatedJudge(1.0)
    item = _item([0.0, 1.0])
    assert judge.compare_sync(item, 0, 1).winner == "b"
    assert judge.compare_sync(item, 1, 0).winner == "a"


def test_simulated_zero_accuracy_always_errs():
    """Accuracy 0 always picks the worse candidate."""
    judge = SimulatedJudge(0.0)
    assert judge.compare_sync(_item([0.0, 1.0]), 0, 1).winner == "a"


def test_simulated_error_rate_matches_accuracy():
    """Over many pairs the simulated judge is right about as often as its accuracy says."""
    judge = SimulatedJudge(0.8, seed=1)

    async def run():
        items = [_item([0.0, 1.0], id=str(k)) for k in range(2000)]
        return [await judge.compare(it, 0, 1) for it in items]

    right = sum(v.winner == "b" for v in asyncio.run(run()))
    assert 0.77 < right / 2000 < 0.83


def test_simulated_is_deterministic_and_seeded():
    """The same seed gives the same verdicts; another seed gives other ones."""
    items = [_item([0.0, 1.0], id=str(k)) for k in range(200)]
    runs = {
        seed: [SimulatedJudge(0.5, seed=seed).compare_sync(i, 0, 1).winner for i in items]
        for seed in (1, 1, 2)
    }
    again = [SimulatedJudge(0.5, seed=1).compare_sync(i, 0, 1).winner for i in items]
    assert runs[1] == again
    assert runs[1] != runs[2]


def test_simulated_equal_labels_tie_and_missing_labels_are_invalid():
    """Equal labels are a tie; a missing label is an invalid verdict with a reason."""
    judge = SimulatedJudge(1.0)
    assert judge.compare_sync(_item([1.0, 1.0]), 0, 1).winner == "tie"
    verdict = judge.compare_sync(_item([1.0, None]), 0, 1)
    assert verdict.winner == "invalid" and "no label for candidate 1" in verdict.reason
    assert judge.compare_sync(Item.from_texts("p", ["a", "b"]), 0, 1).winner == "invalid"


def test_simulated_position_bias_answers_a():
    """With position_bias 1 the judge always answers 'a'."""
    judge = SimulatedJudge(1.0, position_bias=1.0)
    assert judge.compare_sync(_item([1.0, 0.0]), 1, 0).winner == "a"


def test_simulated_scores_are_labels_when_accurate():
    """A perfect simulated scorer returns the label; a missing label is an invalid score."""
    judge = SimulatedJudge(1.0)
    assert judge.score_sync(_item([0.25, 1.0]), 0).value == 0.25
    assert judge.score_sync(Item.from_texts("p", ["a"]), 0).value is None


def test_consensus_prefers_the_answer_more_candidates_share():
    """The consensus judge prefers the more common final answer and ties equal support."""
    item = Item.from_texts("q", ["so #### 5", "#### 6", "thus #### 5", "#### 7"])
    judge = ConsensusJudge()
    assert judge.compare_sync(item, 0, 1).winner == "a"
    assert judge.compare_sync(item, 1, 2).winner == "b"
    assert judge.compare_sync(item, 1, 3).winner == "tie"
    assert judge.score_sync(item, 2).value == pytest.approx(0.5)


def test_consensus_reads_no_labels():
    """Only the simulated judge declares that it reads labels."""
    assert create_judge("consensus").reads_labels is False
    assert create_judge("simulated:0.9").reads_labels is True

"""select(): every strategy through the Python API, and the label boundary it enforces."""

from __future__ import annotations

import asyncio

import pytest

from rerank import aselect, select
from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges import BaseJudge, Verdict
from rerank.selector import STRATEGIES, StrategyConfig, select_item

TEXTS = ["#### 1", "#### 2", "#### 3", "#### 4", "#### 5", "#### 6", "#### 7"]
SCORES = [0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.6]


@pytest.mark.parametrize("strategy", ["sequential", "knockout", "round-robin", "pointwise"])
def test_perfect_simulated_judge_finds_the_best(strategy):
    """With a perfect judge every judged strategy picks the best-labelled candidate."""
    chosen = select("q", TEXTS, strategy=strategy, judge="simulated:1.0", scores=SCORES)
    assert chosen.winner == 3


def test_vote_uses_final_answers():
    """The vote strategy is a majority vote over normalised final answers."""
    chosen = select("q", ["x = 2. #### 2", "#### 3", "so 2.0 #### 2.0"], strategy="vote")
    assert chosen.strategy == "vote"
    assert chosen.winner in (0, 2)


def test_the_default_is_a_knockout_judged_by_evidence():
    """select() with no options runs a bracket judged by verifier evidence."""
    chosen = select("What is 3 + 4?", ["3 + 4 = 7\n#### 7", "#### 8", "It is 7. #### 7"])
    assert chosen.strategy == "knockout"
    assert chosen.winner in (0, 2)


def test_same_seed_same_selection_and_seeds_matter():
    """Identical seeds reproduce the selection; the seed changes the match order."""
    kwargs = {"strategy": "knockout", "judge": "simulated:0.6", "scores": SCORES}
    a = select("q", TEXTS, seed=1, **kwargs)
    b = select("q", TEXTS, seed=1, **kwargs)
    assert [(m.a, m.b, m.outcome) for m in a.matches] == [(m.a, m.b, m.outcome) for m in b.matches]
    orders = {tuple(select("q", TEXTS, seed=s, **kwargs).order) for s in range(5)}
    assert len(orders) > 1


def test_aselect_runs_inside_an_event_loop():
    """aselect is the async entry point for generation loops."""
    chosen = asyncio.run(
        aselect(
            "q",
            TEXTS,
            strategy="sequential",
            judge="simulated:1.0",
            scores=SCORES,
            checkpoints=(1, 2, 4),
        )
    )
    assert chosen.winner == 3 and set(chosen.checkpoints) == {1, 2, 4, 7}


def test_unknown_strategy_and_empty_candidates_are_config_errors():
    """A wrong strategy name lists the valid ones; no candidates is an error."""
    with pytest.raises(ConfigError, match="choose from sequential"):
        StrategyConfig(name="swiss")
    with pytest.raises(ConfigError, match="no candidates"):
        select("q", [])


def test_strategy_names_match_the_cli():
    """The strategies the CLI offers are exactly these."""
    assert set(STRATEGIES) == {"sequential", "knockout", "round-robin", "pointwise", "vote"}


class _Peeker(BaseJudge):
    reads_labels = False

    def __init__(self):
        self.spec = "peeker"
        self.labels = []

    async def compare(self, item, a, b):
        self.labels.append(item.labels)
        return Verdict("a")


def test_judges_that_do_not_declare_it_get_no_labels():
    """select_item hands a label-free copy of the item to an ordinary judge."""
    judge = _Peeker()
    item = Item.from_texts("q", ["a", "b", "c"], scores=[1, 0, 0])
    result = asyncio.run(select_item(item, StrategyConfig(name="knockout"), judge))
    assert judge.labels == [None, None]
    assert result.labels_used is False


def test_each_prompt_gets_its_own_seed_so_ties_spread_over_slots():
    """Without an id, ties follow a seed made from the item's content: over many prompts
    whose candidates tie, every slot wins sometimes, and a rerun picks the same."""
    from collections import Counter

    from rerank import select

    prompts = [f"Describe place number {k}." for k in range(80)]
    texts = [[f"An answer {k}.{j}" for j in range(4)] for k in range(80)]
    winners = [select(p, t, judge="consensus").winner for p, t in zip(prompts, texts, strict=True)]
    counts = Counter(winners)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) >= 8, counts
    assert winners == [
        select(p, t, judge="consensus").winner for p, t in zip(prompts, texts, strict=True)
    ]


def test_an_id_given_in_python_seeds_like_the_same_id_in_a_file():
    """``select(..., id=...)`` is accepted and seeds the item as a file row with that id."""
    from rerank import select
    from rerank.items import Item
    from rerank.selector import item_seed

    texts = ["same", "same text", "also same"]
    picks = {select("q", texts, judge="consensus", id=str(k), seed=3).winner for k in range(12)}
    assert len(picks) > 1
    assert item_seed(3, Item.from_texts("q", texts, id="7")) == item_seed(
        3, Item.from_texts("other", ["x"], id="7")
    )

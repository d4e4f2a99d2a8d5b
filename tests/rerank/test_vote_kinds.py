"""vote on every task kind: evidence signatures as keys, "no votes" when nobody has one."""

from __future__ import annotations

import asyncio
from collections import Counter

from rerank import select
from rerank.items import Item
from rerank.judges import EvidenceJudge
from rerank.run import output_row
from rerank.selector import VOTE_KEY, StrategyConfig, select_item, vote_signatures

VOTE = StrategyConfig(name="vote", seed=5)
ADD = "def add(a, b):\n    '''Add two numbers.\n    >>> add(1, 2)\n    3\n    '''\n"
CODE = [
    "def add(a, b):\n    return a + b\n",
    "def add(a, b):\n    return b + a\n",
    "def add(a, b):\n    return a - b\n",
    "def add(a, b):\n    return sum([a, b])\n",
]


def _row(item: Item, evidence: EvidenceJudge | None = None) -> dict:
    return output_row(asyncio.run(select_item(item, VOTE, None, evidence=evidence)))


def test_code_candidates_vote_by_behaviour():
    """On code, candidates that behave the same form one class and the largest wins; none
    is marked invalid."""
    row = _row(Item.from_texts(ADD, CODE, id="add"))
    assert row["task_kind"] == "code" and row["invalid"] == 0
    assert row["scores"] == [3.0, 3.0, 1.0, 3.0] and row["selected"] != 2
    assert row["vote"] == {"classes": [3, 1], "abstained": 0, "decided": "largest class"}
    assert row["strategy_options"] == {"key": VOTE_KEY}


def test_math_candidates_vote_by_answer_class():
    """On math, equivalent answers (1/2, 0.5, \\frac{1}{2}) share one class."""
    texts = ["So x = 1/2. #### 1/2", "#### 0.5", "The answer is \\boxed{\\frac{1}{2}}", "#### 2"]
    item = Item.from_texts("Solve 2x = 1 for x.", texts, id="half", kind="math")
    row = _row(item)
    assert row["vote"]["classes"] == [3, 1] and row["selected"] != 3


def test_without_keys_the_seeded_order_picks_and_the_row_says_no_votes():
    """With no key anywhere every slot wins about equally often over many items, and each
    row says "no votes"."""
    texts = ["I am not sure.", "Hard to say.", "No idea.", "Cannot tell."]
    winners: Counter[int] = Counter()
    for k in range(200):
        row = _row(Item.from_texts(f"Question {k}?", texts, id=str(k), kind="math"))
        assert row["vote"] == {"classes": [], "abstained": 4, "decided": "no votes"}
        winners[row["selected"]] += 1
    assert sorted(winners) == [0, 1, 2, 3]
    assert all(25 <= count <= 75 for count in winners.values()), winners


def test_instructions_have_no_signature_so_they_cast_no_votes():
    """IFEval evidence carries no signature: an instruction item is a "no votes" row."""
    item = Item.from_texts(
        "Answer in all lowercase letters.",
        ["hello", "Hello"],
        id="i",
        resources={"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
    )
    row = _row(item)
    assert row["task_kind"] == "instruction" and row["vote"]["decided"] == "no votes"


def test_general_items_vote_with_their_stated_final_answers():
    """Where no verifier applies, candidates vote with their stated final answers."""
    chosen = select("q", ["x = 2. #### 2", "#### 3", "so 2.0 #### 2.0"], strategy="vote")
    assert chosen.scores == [2.0, 1.0, 2.0]


def test_vote_reads_the_evidence_it_is_given_once():
    """The evidence judge passed in computes the keys (once), as the report shares one."""
    evidence = EvidenceJudge()
    item = Item.from_texts("What is 3+4?", ["#### 7", "3+4=7 #### 7", "#### 8"], id="s")
    kind, keys = asyncio.run(vote_signatures(item, evidence))
    assert kind == "math" and keys[0] == keys[1] != keys[2]
    _row(item, evidence)
    assert evidence.computed == 1

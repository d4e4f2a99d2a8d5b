"""Responses without a final answer: no strategy turns them into a bias toward a slot, and
every judge reads the one extraction (rerank.answers.extract_answer)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from rerank.items import Item
from rerank.judges.consensus import ConsensusJudge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.prompt import Shown, evidence_lines
from rerank.selector import StrategyConfig, select_item
from rerank.verifiers.math.equivalence import EquivalencePool
from rerank.verifiers.math.verifier import MathVerifier

N = 4
PROMPTS = 400
# No marker, no number: none of these states a final answer (nor shares one).
NO_ANSWER = [
    "I am not sure how to solve this one.",
    '```json\n{"reasoning": "It is hard.", "answer": "None"}\n```',
    "Answer: N/A",
    '{"reasoning": "Too long to finish here.", "answer": ""}',
]


def _items(texts: list[str]) -> list[Item]:
    """Many prompts, each with the same candidates, ids as a file's rows give them."""
    return [
        Item.from_texts(
            f"Problem {i}: what is the sum of the roots?", texts, id=str(i), kind="math"
        )
        for i in range(PROMPTS)
    ]


def _winners(strategy: str, judge, texts: list[str]) -> Counter:
    async def run() -> Counter:
        results = [
            await select_item(item, StrategyConfig(name=strategy, seed=3), judge)
            for item in _items(texts)
        ]
        return Counter(r.selection.winner for r in results)

    return asyncio.run(run())


def _evidence_judge() -> EvidenceJudge:
    return EvidenceJudge(verifiers={"math": MathVerifier(steps=False)})


@pytest.mark.parametrize(
    ("strategy", "judge"),
    [
        ("vote", None),
        ("knockout", "consensus"),
        ("sequential", "consensus"),
        ("knockout", "evidence"),
        ("round-robin", "evidence"),
        ("pointwise", "evidence"),
    ],
)
def test_without_answers_the_winning_slot_is_spread(strategy: str, judge: str | None) -> None:
    """Over 400 prompts whose candidates state no answer, every slot wins 15-35% of the time
    (25% expected): ties follow the seeded order, no slot and no "None" key is favoured."""
    chosen = {None: None, "consensus": ConsensusJudge(), "evidence": _evidence_judge()}[judge]
    winners = _winners(strategy, chosen, NO_ANSWER)
    assert sorted(winners) == list(range(N))
    assert all(0.15 * PROMPTS <= count <= 0.35 * PROMPTS for count in winners.values()), winners


def test_vote_abstentions_share_no_key() -> None:
    """With no answer anywhere, vote records no key and every candidate abstains."""
    result = asyncio.run(select_item(_items(NO_ANSWER)[0], StrategyConfig(name="vote"), None))
    assert result.vote_keys == [None] * N
    assert result.selection.invalid == N


def test_weak_answers_never_outvote_a_stated_one() -> None:
    """Three stray last numbers agreeing lose to one stated answer (they abstain), in vote
    and in the consensus judge."""
    texts = ["The answer is 5.", "we tried 3", "we tried 3", "we tried 3"]
    item = Item.from_texts("What is 2 + 3?", texts, id="1", kind="math")
    result = asyncio.run(select_item(item, StrategyConfig(name="vote"), None))
    assert result.vote_keys == ["5", None, None, None] and result.selection.winner == 0
    judge = ConsensusJudge()
    assert [judge.score_sync(item, i).value for i in range(N)] == [0.25, 0.0, 0.0, 0.0]


def test_weak_answers_join_a_stated_answer() -> None:
    """A stray last number that agrees with a stated answer counts as its vote."""
    texts = ["The answer is 3.", "so 3", "A: 5", "The answer is 7."]
    item = Item.from_texts("What is 1 + 2?", texts, id="2", kind="math")
    result = asyncio.run(select_item(item, StrategyConfig(name="vote"), None))
    assert result.vote_keys == ["3", "3", "5", "7"] and result.selection.winner in (0, 1)


def test_the_llm_judge_is_shown_the_same_extraction() -> None:
    """The evidence an LLM judge reads names each candidate's answer and where it was found,
    from the one extractor: a JSON answer, a weak last number, no answer."""
    texts = [
        '```json\n{"reasoning": "Add.", "answer": "\\frac{1}{2}"}\n```',
        "We halve it and get 0.5",
        "I could not finish.",
    ]
    item = Item.from_texts("Half of 1?", texts, kind="math")
    with EquivalencePool(workers=1) as pool:
        judge = EvidenceJudge(verifiers={"math": MathVerifier(pool, steps=False)})
        kind, stand = asyncio.run(judge.assess(item))
    lines = [
        "\n".join(evidence_lines(Shown(label, text, s), kind, item.n))
        for label, text, s in zip("ABC", texts, stand, strict=True)
    ]
    assert "`answer` pass (soft): \\frac{1}{2}" in lines[0]
    assert "answer_source: json:answer" in lines[0] and "shared by 2 of 3" in lines[0]
    assert "`answer` unknown (soft): 0.5 (a last number, weak" in lines[1]
    assert "answer_source: last-number (weak)" in lines[1]
    assert "`answer` fail (soft): no final answer found" in lines[2]
    assert "answer_source: none (no final answer found)" in lines[2]

"""The evidence judge's readout, with scripted verifiers (the real ones have their own tests)."""

from __future__ import annotations

import asyncio

import pytest

from rerank.evidence import Check, Evidence
from rerank.items import Item
from rerank.judges.evidence import EvidenceJudge, standings
from rerank.selector import StrategyConfig, select_item


class Scripted:
    """A verifier that returns the evidence it was given, and counts its calls."""

    name = "scripted"

    def __init__(self, evidence: list[Evidence]):
        self.evidence = evidence
        self.calls = 0

    def applies(self, item: Item) -> bool:
        return True

    def verify(self, item: Item) -> list[Evidence]:
        self.calls += 1
        assert item.labels is None, "a verifier must never be handed labels"
        return self.evidence


def ev(*statuses: str, hard: bool = True, signature: str | None = None) -> Evidence:
    checks = tuple(Check(f"test:{k}", s, hard=hard) for k, s in enumerate(statuses))
    return Evidence("scripted", checks, signature=signature)


def _judge(evidence: list[Evidence]) -> tuple[EvidenceJudge, Scripted, Item]:
    verifier = Scripted(evidence)
    judge = EvidenceJudge(verifiers={"code": verifier})
    item = Item.from_texts("p", [f"c{k}" for k in range(len(evidence))], kind="code")
    return judge, verifier, item


def test_hard_pass_beats_hard_fail_and_cites_the_check():
    """A candidate passing every visible test beats one failing a test, citing that test."""
    judge, _, item = _judge([ev("pass", "fail"), ev("pass", "pass")])
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "b"
    assert verdict.evidence == ("test:1",)
    assert "tier" in verdict.reason


def test_partial_credit_separates_two_failures():
    """Between two failing candidates, the one passing more tests wins."""
    judge, _, item = _judge([ev("fail", "fail", "fail"), ev("pass", "pass", "fail")])
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "b" and "hard checks" in verdict.reason


def test_no_hard_evidence_ranks_between_pass_and_fail():
    """No hard checks at all ranks below passing every test and above failing one."""
    judge, _, item = _judge([ev(), ev("pass"), ev("fail")])
    assert judge.compare_sync(item, 0, 1).winner == "b"
    assert judge.compare_sync(item, 0, 2).winner == "a"


def test_consensus_breaks_ties_in_checks():
    """With equal checks, the candidate whose signature more candidates share wins."""
    judge, _, item = _judge(
        [ev("pass", signature="x"), ev("pass", signature="y"), ev("pass", signature="x")]
    )
    verdict = judge.compare_sync(item, 1, 2)
    assert verdict.winner == "b" and "consensus" in verdict.reason


def test_soft_checks_count_after_hard_ones():
    """Soft checks separate candidates only when the hard evidence is equal."""
    soft_fail = Evidence("s", (Check("t", "pass"), Check("step:1", "fail", hard=False)))
    soft_pass = Evidence("s", (Check("t", "pass"), Check("step:1", "pass", hard=False)))
    hard_fail = Evidence("s", (Check("t", "fail"), Check("step:1", "pass", hard=False)))
    judge, _, item = _judge([soft_fail, soft_pass, hard_fail])
    assert judge.compare_sync(item, 0, 1).winner == "b"
    assert judge.compare_sync(item, 0, 2).winner == "a"


def test_equal_evidence_is_an_explicit_tie_with_a_reason():
    """When evidence cannot separate two candidates the verdict is a tie that says so."""
    judge, _, item = _judge([ev("pass", signature="x"), ev("pass", signature="x")])
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "tie"
    assert "cannot separate" in verdict.reason


def test_unknown_checks_are_neither_credit_nor_blame():
    """A check whose outcome is unknown (e.g. a timeout in the checker) does not count."""
    judge, _, item = _judge([ev("unknown"), ev()])
    assert judge.compare_sync(item, 0, 1).winner == "tie"


def test_general_items_get_no_evidence_ties():
    """On a general item no verifier applies and the judge says it has no evidence."""
    judge = EvidenceJudge(verifiers={})
    item = Item.from_texts("Write a poem about rain.", ["drip", "drop"], kind="general")
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "tie" and "no evidence" in verdict.reason
    assert judge.score_sync(item, 0).value is None


def test_evidence_is_computed_once_per_item():
    """A whole round-robin computes the evidence of an item once, however many matches."""
    evidence = [ev("pass"), ev("fail"), ev("pass", "pass"), ev("fail", "pass")]
    judge, verifier, item = _judge(evidence)
    result = asyncio.run(select_item(item, StrategyConfig(name="round-robin"), judge))
    assert result.selection.comparisons == 6
    assert verifier.calls == 1 and judge.computed == 1


def test_scores_follow_the_same_precedence():
    """Pointwise scores order candidates exactly as compare does."""
    evidence = [ev("fail"), ev("pass", "fail"), ev("pass", signature="x"), ev("pass"), ev()]
    judge, _, item = _judge(evidence)
    values = [judge.score_sync(item, k).value for k in range(5)]
    keys = [s.key() for s in standings(evidence)]
    order = sorted(range(5), key=lambda k: keys[k])
    assert sorted(range(5), key=lambda k: values[k]) == order


@pytest.mark.parametrize("strategy", ["sequential", "knockout", "round-robin", "pointwise"])
def test_every_strategy_picks_the_passing_candidate(strategy):
    """With one candidate passing all tests, every judged strategy selects it."""
    evidence = [ev("fail", "pass"), ev("fail", "fail"), ev("pass", "pass"), ev("error", "pass")]
    judge, _, item = _judge(evidence)
    result = asyncio.run(select_item(item, StrategyConfig(name=strategy, seed=7), judge))
    assert result.selection.winner == 2


def test_hard_verdict_only_when_hard_evidence_decides():
    """hard_verdict decides pass-vs-fail pairs and leaves everything else to the caller."""
    judge, _, item = _judge([ev("pass"), ev("fail"), ev(), ev("pass", signature="x")])
    decided = asyncio.run(judge.hard_verdict(item, 1, 0))
    assert decided.winner == "b" and "no LLM call" in decided.reason
    assert asyncio.run(judge.hard_verdict(item, 0, 2)) is None  # pass vs no evidence
    assert asyncio.run(judge.hard_verdict(item, 0, 3)) is None  # both pass


def test_a_machine_without_a_sandbox_gets_no_execution_evidence_not_a_crash():
    """When the sandbox refuses to run code, candidates tie and the evidence says why."""
    from rerank.sandbox.runner import SandboxUnavailable

    class Refusing(Scripted):
        def verify(self, item):
            raise SandboxUnavailable("cannot bound processes here")

    judge = EvidenceJudge(verifiers={"code": Refusing([])})
    item = Item.from_texts("p", ["a", "b"], kind="code")
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "tie"
    explanation = asyncio.run(judge.explain(item))
    assert "cannot bound processes here" in explanation["evidence"][0]["notes"][0]


def test_consensus_weighs_a_cluster_by_its_size_times_the_tests_it_passes():
    """CodeT's weighting: two candidates passing three tests outweigh three whose tests
    mostly did not run (same tier, same share passed), where plain size would not."""
    strong = ev("pass", "pass", "pass", signature="x")
    weak = ev("pass", "unknown", "unknown", signature="y")
    judge, _, item = _judge([strong, weak, strong, weak, weak])
    verdict = judge.compare_sync(item, 0, 1)
    assert verdict.winner == "a" and "consensus" in verdict.reason
    assert "shared by 2 (cluster weight 8)" in verdict.reason  # 2 x (1 + 3) vs 3 x (1 + 1)


def test_a_heavy_cluster_never_outranks_better_checks_in_scores():
    """Packed scores keep the precedence however heavy a cluster is (here 40 x 41): a
    thousandth more soft credit still wins."""
    many = [ev(*["pass"] * 40, signature="x") for _ in range(40)]
    soft = [Check(f"s:{k}", "pass" if k < 501 else "fail", hard=False) for k in range(1000)]
    lone = Evidence("s", (*many[0].checks, *soft))
    judge, _, item = _judge([*many, lone])
    assert judge.score_sync(item, 40).value > judge.score_sync(item, 0).value
    assert judge.compare_sync(item, 40, 0).winner == "a"

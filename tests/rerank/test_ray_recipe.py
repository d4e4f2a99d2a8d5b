"""What a cluster run sends its workers: the judge recipe, endpoint shares, fail-closed
verifiers. None of it needs Ray installed."""

from __future__ import annotations

import sys

import pytest

from rerank.errors import ConfigError
from rerank.evidence import Evidence
from rerank.judges import create_judge
from rerank.ray import JudgeRecipe, NodeSandboxError
from rerank.ray.cluster import require_ray
from rerank.ray.judging import FailClosedVerifier, SandboxGuard
from rerank.sandbox import SandboxUnavailable
from rerank.selector import StrategyConfig

LLM = {"base_url": "http://127.0.0.1:9/v1", "cache": False}


def test_endpoint_cap_is_split_so_workers_never_exceed_it():
    """Each of W workers gets cap // W requests per endpoint; together at most the cap."""
    recipe = JudgeRecipe.resolve("llm", StrategyConfig(), {**LLM, "concurrency": 10})
    assert recipe.for_workers(3).options["concurrency"] == 3
    assert recipe.for_workers(10).options["concurrency"] == 1
    assert recipe.max_workers() == 10
    per_url = JudgeRecipe.resolve("llm", StrategyConfig(), {**LLM, "concurrency": [8, 4]})
    assert per_url.for_workers(4).options["concurrency"] == [2, 1]
    assert per_url.max_workers() == 4


def test_default_endpoint_cap_is_the_llm_judges_own():
    """Without a concurrency option the LLM judge's default cap (8) is what is shared."""
    recipe = JudgeRecipe.resolve("llm", StrategyConfig(), LLM)
    assert recipe.max_workers() == 8
    assert recipe.for_workers(2).options["concurrency"] == 4


def test_more_workers_than_the_endpoint_cap_is_refused():
    """A cap smaller than the number of workers cannot be shared: refused, not exceeded."""
    recipe = JudgeRecipe.resolve("llm", StrategyConfig(), {**LLM, "concurrency": 2})
    with pytest.raises(ConfigError, match="3 workers cannot share an endpoint cap of 2"):
        recipe.for_workers(3)


def test_judges_without_endpoints_are_not_split():
    """Evidence and simulated judges have no endpoint: every worker builds them as given."""
    for spec in ("evidence", "simulated:0.8"):
        recipe = JudgeRecipe.resolve(spec, StrategyConfig())
        assert recipe.for_workers(64) is recipe and recipe.max_workers() is None


def test_unusable_recipes_are_refused():
    """Judge objects, an evidence judge in the options and a cap in the spec are errors."""
    with pytest.raises(ConfigError, match="cannot be rebuilt on each node"):
        JudgeRecipe.resolve(create_judge("simulated:0.8"), StrategyConfig())
    with pytest.raises(ConfigError, match="evidence judge"):
        JudgeRecipe.resolve("llm", StrategyConfig(), {**LLM, "evidence": object()})
    with pytest.raises(ConfigError, match="not in the spec"):
        JudgeRecipe.resolve("llm:concurrency=4", StrategyConfig(), LLM)


def test_recipe_names_the_default_judge_once_and_vote_none():
    """The default judge is decided by the driver; vote takes none but runs code."""
    assert JudgeRecipe.resolve(None, StrategyConfig()).spec in ("evidence", "evidence+local")
    vote = JudgeRecipe.resolve("evidence", StrategyConfig(name="vote"))
    assert vote.spec is None and vote.runs_code
    assert not JudgeRecipe.resolve("simulated:1.0", StrategyConfig()).runs_code


def test_built_judge_has_the_spec_of_the_single_process_judge():
    """A worker's judge records the spec create_judge gives in one process."""
    guard = SandboxGuard("node test")
    judge, evidence = JudgeRecipe("evidence").build(guard)
    assert judge is evidence and judge.spec == create_judge("evidence").spec
    assert all(isinstance(v, FailClosedVerifier) for v in judge.verifiers.values())
    simulated, none = JudgeRecipe("simulated:0.7").build(guard)
    assert simulated.spec == create_judge("simulated:0.7").spec and none is None


class _LosesSandbox:
    name = "code"

    def __init__(self) -> None:
        self.calls = 0

    def applies(self, item) -> bool:
        return True

    def verify(self, item) -> list[Evidence]:
        self.calls += 1
        raise SandboxUnavailable("refusing to run untrusted code: no namespaces")


def test_verifier_fails_closed_when_the_sandbox_is_lost():
    """SandboxUnavailable becomes NodeSandboxError naming the node, and stays so."""
    inner, guard = _LosesSandbox(), SandboxGuard("node 10.0.0.7 (gpu7, pid 1)")
    verifier = FailClosedVerifier(inner, guard)
    with pytest.raises(NodeSandboxError, match=r"node 10\.0\.0\.7 .* cannot sandbox code"):
        verifier.verify(None)
    with pytest.raises(NodeSandboxError):
        verifier.verify(None)
    assert inner.calls == 1 and guard.lost is not None


def test_missing_ray_says_how_to_install_it(monkeypatch):
    """Without Ray a call says to install the extra (importing rerank.ray needs no Ray)."""
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        require_ray()

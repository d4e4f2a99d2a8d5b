"""Output contracts: the accepted JSON Schema subset, and verdicts checked against it."""

from __future__ import annotations

import pytest

from rerank.skills import SkillRegistry, validate_instance
from rerank.skills.contract import schema_problems

PAIRWISE = SkillRegistry.from_dirs().get("math").contract["pairwise"]
POINTWISE = SkillRegistry.from_dirs().get("math").contract["pointwise"]


def test_a_well_formed_verdict_passes():
    """A verdict with every required field in range has no errors."""
    verdict = {"winner": "A", "confidence": 0.8, "evidence": ["reference"], "reason": "A is 50."}
    assert validate_instance(verdict, PAIRWISE) == []


@pytest.mark.parametrize(
    ("verdict", "error"),
    [
        ({"winner": "C", "confidence": 0.5, "evidence": [], "reason": "r"}, "'C' is not one of"),
        ({"winner": "A", "confidence": 1.5, "evidence": [], "reason": "r"}, "above the maximum"),
        ({"winner": "A", "confidence": "high", "evidence": [], "reason": "r"}, "expected number"),
        ({"winner": "A", "confidence": 0.5, "evidence": [3], "reason": "r"}, "$.evidence[0]"),
        ({"winner": "A", "confidence": 0.5, "evidence": []}, "missing 'reason'"),
        (
            {"winner": "A", "confidence": 0.5, "evidence": [], "reason": "r", "x": 1},
            "unexpected property 'x'",
        ),
        ({"winner": "A", "confidence": True, "evidence": [], "reason": "r"}, "expected number"),
        ({"winner": "A", "confidence": 0.5, "evidence": [], "reason": ""}, "shorter than 1"),
    ],
)
def test_a_malformed_verdict_is_named(verdict, error):
    """Each way a verdict breaks the contract is reported with where it breaks."""
    errors = validate_instance(verdict, PAIRWISE)
    assert any(error in e for e in errors), errors


def test_a_score_outside_the_scale_is_refused():
    """Pointwise scores must lie on the skill's stated scale."""
    assert validate_instance({"score": 11, "evidence": [], "reason": "r"}, POINTWISE)
    assert validate_instance({"score": 7.5, "evidence": [], "reason": "r"}, POINTWISE) == []


def test_only_the_supported_subset_is_accepted():
    """Keywords outside the subset (pattern, $ref, oneOf) are named as unsupported."""
    problems = schema_problems({"type": "string", "pattern": "x", "oneOf": []}, "s")
    assert {field for field, _ in problems} == {"s.oneOf", "s.pattern"}
    assert schema_problems({"type": "strin"}, "s") == [
        ("s.type", "'strin' is not one of object, array, string, number, integer, boolean, null")
    ]

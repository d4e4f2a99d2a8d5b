"""Skill packages: loading and validating them, rendering them as prompt prefixes, routing.

A skill is how the LLM judge evaluates: a procedure, a typed bank of resources (rubrics,
checklists, references, verifiers, tools), when to use which, the evidence each verdict
must cite, and an output contract. The built-in ones live in ``skills/`` (the package
``rerank_skills``); docs/skills.md describes the format.
"""

from rerank.skills.compact import CompactForm
from rerank.skills.contract import validate_instance
from rerank.skills.package import Skill, content_hash, load_skill
from rerank.skills.problems import SkillError, SkillProblem
from rerank.skills.registry import BUILTIN, SkillRegistry, builtin_dir, discover
from rerank.skills.render import render
from rerank.skills.resources import (
    COSTS,
    EVIDENCE_KINDS,
    GATED,
    RESOURCE_TYPES,
    SEES,
    TOOLS,
    VERIFIERS,
    Resource,
)

__all__ = [
    "BUILTIN",
    "COSTS",
    "EVIDENCE_KINDS",
    "GATED",
    "RESOURCE_TYPES",
    "SEES",
    "TOOLS",
    "VERIFIERS",
    "CompactForm",
    "Resource",
    "Skill",
    "SkillError",
    "SkillProblem",
    "SkillRegistry",
    "builtin_dir",
    "content_hash",
    "discover",
    "load_skill",
    "render",
    "validate_instance",
]

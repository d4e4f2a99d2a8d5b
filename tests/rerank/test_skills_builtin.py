"""The built-in skills: they validate, cover every task kind, and are internally consistent."""

from __future__ import annotations

import re

import pytest

from rerank.items import TASK_KINDS
from rerank.skills import SkillRegistry, builtin_dir, discover, load_skill, render

FOLDERS = discover(builtin_dir())
SKILLS = {folder.name: load_skill(folder) for folder in FOLDERS}
#: The shapes of check ids the verifiers emit (rerank.evidence.Check.id).
CHECK_ID = re.compile(r"^(?:(?:test|step):(?:\d+|<k>)|ifeval:.+|reference)$")


def _cited(skill) -> set[str]:
    """Every id the skill's own texts cite: `a:b` in backticks, and `evidence [..]` lists."""
    texts = [skill.procedure, *(r.text for r in skill.resources if r.text)]
    cited: set[str] = set()
    for text in texts:
        cited |= set(re.findall(r"`([a-z-]+:[a-z<>0-9-]+)`", text))
        for listed in re.findall(r"evidence\s+\[([^\]]*)\]", text):
            cited |= {part.strip() for part in listed.split(",") if part.strip()}
    return cited


def test_the_builtin_skills_are_the_four_of_the_design():
    """general, math, code and instruction_following ship, one folder each."""
    assert sorted(SKILLS) == ["code", "general", "instruction_following", "math"]


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_each_builtin_skill_validates(name):
    """Each built-in package loads without a problem, from its own folder."""
    skill = SKILLS[name]
    assert skill.name == name and skill.root == (builtin_dir() / name).absolute()


def test_together_they_cover_every_task_kind_once():
    """Every task kind is claimed by exactly one built-in skill."""
    claims = sorted(kind for s in SKILLS.values() for kind in s.task_kinds)
    assert claims == sorted(TASK_KINDS)


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_the_procedure_says_when_to_use_every_resource(name):
    """Each resource of the bank is named (in backticks) in the procedure."""
    skill = SKILLS[name]
    missing = [r.id for r in skill.resources if f"`{r.id}`" not in skill.procedure]
    assert not missing, f"{name}: procedure never mentions {missing}"


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_every_id_a_skill_cites_exists(name):
    """Ids cited in procedures, rubrics and examples are check ids or the skill's own ids."""
    skill = SKILLS[name]
    assert _cited(skill), f"{name} cites nothing: the check would be vacuous"
    unknown = {i for i in _cited(skill) if not CHECK_ID.match(i) and i not in skill.citable_ids}
    assert not unknown, f"{name} cites ids it does not define: {sorted(unknown)}"


def test_only_the_math_skill_sees_the_reference_and_says_so():
    """The reference is granted by one resource that declares it; no skill sees labels."""
    for name, skill in SKILLS.items():
        gated = [r for r in skill.resources if r.gated]
        if name == "math":
            (resource,) = gated
            assert resource.type == "reference" and resource.gated == {"reference"}
            assert skill.grants == {"reference"}
        else:
            assert gated == [] and skill.grants == frozenset()


@pytest.mark.parametrize(
    ("name", "verifier"),
    [("math", "math"), ("code", "code"), ("instruction_following", "instruction")],
)
def test_verifier_skills_read_their_kinds_verifier_first(name, verifier):
    """The first resource of a verified kind is that kind's verifier, as hard evidence."""
    first = SKILLS[name].resources[0]
    assert (first.type, first.verifier, first.evidence) == ("verifier", verifier, "hard")


def test_the_general_skill_has_no_verifier_and_rests_on_its_rubric():
    """General has no verifier: its first resource is the rubric."""
    skill = SKILLS["general"]
    assert not [r for r in skill.resources if r.type == "verifier"]
    assert skill.resources[0].type == "rubric"


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_the_rubric_states_the_contract_scale(name):
    """The pointwise scale of the contract is the one the rubric text announces."""
    skill = SKILLS[name]
    low, high = skill.score_scale
    (rubric,) = [r for r in skill.resources if r.type == "rubric"]
    assert f"scored {low:g} to {high:g}" in rubric.text


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_each_builtin_has_a_compact_form_ending_with_the_verdict(name):
    """A small model can run every built-in skill: compact procedure, verdict line last."""
    compact = SKILLS[name].compact
    assert compact is not None
    assert compact.reply[-1] == "Verdict: <A or B>"
    assert "no tools" in " ".join(compact.procedure.split())


def test_the_compact_math_procedure_solves_before_comparing():
    """Compact math: solve the problem first, then compare each final answer with it."""
    compact = SKILLS["math"].compact
    assert compact.reply_keys == ("Correct answer", "Verdict")
    solve = compact.procedure.index("Solve the problem yourself first")
    assert solve < compact.procedure.index("Compare each with your own answer")


@pytest.mark.parametrize("name", sorted(SKILLS))
def test_the_full_prefix_stays_within_budget(name):
    """The prefix precedes every judge call: at most 16,000 characters (about 4k tokens)."""
    assert len(render(SKILLS[name])) <= 16_000


def test_the_registry_serves_the_same_packages():
    """The registry's built-ins are the packages in the built-in folder."""
    registry = SkillRegistry.from_dirs()
    assert {s.name: s.hash for s in registry} == {n: s.hash for n, s in SKILLS.items()}

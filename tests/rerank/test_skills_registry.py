"""Discovery and routing: built-in skills, user folders that add or override, kinds to skills."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rerank.errors import ConfigError
from rerank.items import TASK_KINDS
from rerank.skills import SkillError, SkillRegistry, builtin_dir


def _user_skill(directory: Path, name: str, kinds: str, *, base: str = "general") -> Path:
    """A copy of built-in ``base`` called ``name`` that applies to ``kinds`` (YAML list)."""
    root = Path(shutil.copytree(builtin_dir() / base, directory / name))
    skill_md = root / "SKILL.md"
    text = skill_md.read_text()
    for old, new in ((f"name: {base}", f"name: {name}"), ('version: "1.0"', 'version: "9.0"')):
        assert old in text
        text = text.replace(old, new)
    head, rest = text.split("task_kinds: ", 1)
    skill_md.write_text(head + f"task_kinds: {kinds}" + rest[rest.index("\n") :])
    return root


def test_builtin_skills_are_found():
    """The registry holds the four built-in skills, all from the built-in source."""
    registry = SkillRegistry.from_dirs()
    assert registry.names == ("code", "general", "instruction_following", "math")
    assert {registry.source(n) for n in registry.names} == {"built-in"}
    assert registry.notes == ()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("math", "math"),
        ("code", "code"),
        ("instruction", "instruction_following"),
        ("general", "general"),
        (None, "general"),
    ],
)
def test_routing_by_task_kind(kind, name):
    """Each task kind goes to its built-in skill; an undeclared kind to general."""
    assert SkillRegistry.from_dirs().for_kind(kind).name == name


def test_every_task_kind_has_a_skill():
    """No task kind falls through: each one routes to a skill that claims it."""
    registry = SkillRegistry.from_dirs()
    for kind in TASK_KINDS:
        assert kind in registry.for_kind(kind).task_kinds


def test_an_unknown_kind_is_a_config_error():
    """A kind outside TASK_KINDS is refused with the known ones listed."""
    with pytest.raises(ConfigError, match="unknown task kind 'poetry'; known: math"):
        SkillRegistry.from_dirs().for_kind("poetry")


def test_a_user_skill_overrides_the_builtin_one_and_says_so(tmp_path):
    """A user skill named like a built-in one replaces it, and a note records it."""
    _user_skill(tmp_path, "math", "[math]", base="math")
    registry = SkillRegistry.from_dirs([tmp_path])
    assert registry.get("math").version == "9.0"
    assert registry.get("math").root == tmp_path / "math"
    assert registry.source("math") == str(tmp_path)
    assert registry.for_kind("math").version == "9.0"
    (note,) = registry.notes
    assert "'math'" in note and "overrides" in note and "built-in" in note


def test_a_later_skills_dir_overrides_an_earlier_one(tmp_path):
    """Of two --skills-dir folders with the same skill name, the later one wins."""
    first, second = tmp_path / "first", tmp_path / "second"
    _user_skill(first, "house", "[general]")
    _user_skill(second, "house", "[general]")
    registry = SkillRegistry.from_dirs([first, second])
    assert registry.get("house").root == second / "house"
    assert any(str(first) in note and str(second) in note for note in registry.notes)


def test_a_skills_dir_may_be_a_single_skill_folder(tmp_path):
    """--skills-dir pointing at one skill folder loads that skill."""
    root = _user_skill(tmp_path, "house", "[general]")
    assert "house" in SkillRegistry.from_dirs([root])


def test_a_user_skill_claiming_a_kind_takes_its_routing(tmp_path):
    """A user skill with another name that claims a kind wins the routing for it."""
    _user_skill(tmp_path, "strict_math", "[math]", base="math")
    registry = SkillRegistry.from_dirs([tmp_path])
    assert registry.for_kind("math").name == "strict_math"
    assert registry.for_kind("code").name == "code"
    assert "math" in registry  # still available with --skill math


def test_two_claimants_in_one_folder_are_ambiguous(tmp_path):
    """Two skills of the same folder claiming one kind make routing that kind an error."""
    _user_skill(tmp_path, "house_a", "[code]")
    _user_skill(tmp_path, "house_b", "[code]")
    registry = SkillRegistry.from_dirs([tmp_path])
    with pytest.raises(ConfigError, match="house_a, house_b all apply to 'code'.*--skill"):
        registry.for_kind("code")
    assert registry.for_kind("math").name == "math"


def test_a_kind_nobody_claims_falls_back_to_general(tmp_path):
    """Without a skill for a kind, routing falls back to the general skill."""
    _user_skill(tmp_path, "general", "[general]")
    registry = SkillRegistry.from_dirs([tmp_path], builtin=False)
    assert registry.for_kind("code").name == "general"


def test_without_any_general_skill_routing_says_what_to_do(tmp_path):
    """No claimant and no general skill: a ConfigError that says how to fix it."""
    _user_skill(tmp_path, "only_math", "[math]", base="math")
    registry = SkillRegistry.from_dirs([tmp_path], builtin=False)
    with pytest.raises(ConfigError, match="task_kinds \\[general\\]"):
        registry.for_kind("code")


def test_an_unknown_name_lists_the_available_skills():
    """get() of an unknown name raises ConfigError listing every available skill."""
    with pytest.raises(ConfigError, match="no skill named 'maths'; available: code, general"):
        SkillRegistry.from_dirs().get("maths")


def test_broken_user_skills_are_reported_together(tmp_path):
    """Problems of every broken package are raised at once, each naming its skill."""
    for name in ("one", "two"):
        root = _user_skill(tmp_path, name, "[general]")
        (root / "contract.json").unlink()
    with pytest.raises(SkillError) as info:
        SkillRegistry.from_dirs([tmp_path])
    assert {p.skill for p in info.value.problems} == {"one", "two"}


def test_a_subfolder_without_skill_md_is_reported_and_caches_are_skipped(tmp_path):
    """A stray folder is an error (not silently skipped); `_` and `.` folders are ignored."""
    _user_skill(tmp_path, "house", "[general]")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "typo").mkdir()
    with pytest.raises(SkillError) as info:
        SkillRegistry.from_dirs([tmp_path])
    assert {p.skill for p in info.value.problems} == {"typo"}


def test_a_missing_skills_dir_is_a_config_error(tmp_path):
    """A --skills-dir that does not exist is refused by name."""
    with pytest.raises(ConfigError, match="does not exist"):
        SkillRegistry.from_dirs([tmp_path / "nowhere"])

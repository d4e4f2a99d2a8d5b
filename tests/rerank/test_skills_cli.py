"""`rerank skills list | show | validate`, through click's CliRunner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rerank.cli.skills import skills
from rerank.skills import SkillRegistry, builtin_dir, render


@pytest.fixture
def runner():
    return CliRunner()


def _copy(tmp_path: Path, name: str = "math") -> Path:
    return Path(shutil.copytree(builtin_dir() / name, tmp_path / name))


def test_list_shows_every_builtin_skill(runner):
    """list prints each skill's name, version, task kinds, source and description."""
    result = runner.invoke(skills, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TASK", "KINDS", "SOURCE"]
    for skill in SkillRegistry.from_dirs():
        row = next(line for line in lines if line.startswith(skill.name + " "))
        assert row.split()[1:4] == [skill.version, ",".join(skill.task_kinds), "built-in"]
        assert skill.description.split()[0] in result.stdout


def test_list_with_an_override_notes_it(runner, tmp_path):
    """A user skill replacing a built-in one shows its folder and a note on stderr."""
    _copy(tmp_path)
    result = runner.invoke(skills, ["list", "--skills-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "overrides" in result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("math "))
    assert str(tmp_path) in row


def test_show_prints_the_exact_prefix_and_the_hash(runner):
    """show NAME writes the rendered prefix to stdout, byte for byte, and the hash to stderr."""
    skill = SkillRegistry.from_dirs().get("code")
    result = runner.invoke(skills, ["show", "code"])
    assert result.exit_code == 0, result.output
    assert result.stdout == render(skill)
    assert f"sha256:{skill.hash}" in result.stderr


def test_show_compact(runner):
    """show NAME --compact prints the compact prefix."""
    skill = SkillRegistry.from_dirs().get("math")
    result = runner.invoke(skills, ["show", "math", "--compact"])
    assert result.exit_code == 0, result.output
    assert result.stdout == render(skill, compact=True)
    assert "compact" in result.stderr


def test_show_an_unknown_skill_lists_the_available_ones(runner):
    """An unknown name exits 1 with the available names, no traceback."""
    result = runner.invoke(skills, ["show", "maths"])
    assert result.exit_code == 1
    assert "no skill named 'maths'; available: code, general, instruction_following, math" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_validate_the_builtin_skills(runner):
    """validate without paths checks every built-in skill and exits 0."""
    result = runner.invoke(skills, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("ok   ") == 4
    assert "4 skills valid" in result.stdout


def test_validate_lists_every_problem_and_fails(runner, tmp_path):
    """validate of a broken folder lists each problem with file and field, and exits 1."""
    root = _copy(tmp_path)
    (root / "rubrics" / "solution.md").unlink()
    text = (root / "resources.yaml").read_text().replace("verifier: math", "verifier: algebra")
    (root / "resources.yaml").write_text(text)
    good = _copy(tmp_path, "code")
    result = runner.invoke(skills, ["validate", str(root), str(good)])
    assert result.exit_code == 1
    assert "resources.yaml: resources[4].path: 'rubrics/solution.md' does not exist" in (
        result.stderr
    )
    assert "resources.yaml: resources[0].verifier: 'algebra' is not one of" in result.stderr
    assert "ok   " in result.stdout  # the valid folder is still reported
    assert "1 of 2 skills invalid" in result.stderr


def test_validate_a_folder_of_skills(runner, tmp_path):
    """A path holding several skill folders validates each of them."""
    _copy(tmp_path, "math")
    _copy(tmp_path, "general")
    result = runner.invoke(skills, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 skills valid" in result.stdout


def test_validate_an_empty_folder_fails(runner, tmp_path):
    """A folder with no skill in it is an error, not a silent success."""
    result = runner.invoke(skills, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no skill folders" in result.stderr


def test_validate_a_missing_path_is_a_usage_error(runner, tmp_path):
    """A path that does not exist is refused by click (exit 2)."""
    result = runner.invoke(skills, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2

"""Skill package validation: every kind of problem names its file and field, and all are listed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rerank.skills import SkillError, SkillProblem, builtin_dir, load_skill


def _copy(tmp_path: Path, name: str = "math") -> Path:
    return Path(shutil.copytree(builtin_dir() / name, tmp_path / name))


def _replace(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text, f"{old!r} not in {file}: the test no longer edits what it claims"
    file.write_text(text.replace(old, new, 1))


def _problems(root: Path) -> tuple[SkillProblem, ...]:
    with pytest.raises(SkillError) as info:
        load_skill(root)
    return info.value.problems


# (what is broken, the edit, the file named, the field named, a fragment of the message)
# Resource indexes of skills/math/resources.yaml: answers 0, reference 1, equivalence 2,
# steps 3, rubric 4, decision 5, python 6, examples 7, view 8.
Edit = Callable[[Path], None]
CASES: list[tuple[str, Edit, str, str | None, str]] = [
    ("missing SKILL.md", lambda r: (r / "SKILL.md").unlink(), "SKILL.md", None, "missing"),
    (
        "no front matter",
        lambda r: (r / "SKILL.md").write_text("1. Just steps.\n"),
        "SKILL.md",
        "front matter",
        "must open with a line '---'",
    ),
    (
        "missing front matter field",
        lambda r: _replace(r / "SKILL.md", 'version: "1.0"\n', ""),
        "SKILL.md",
        "version",
        "missing",
    ),
    (
        "version of the wrong type",
        lambda r: _replace(r / "SKILL.md", 'version: "1.0"', "version: 1.0"),
        "SKILL.md",
        "version",
        "must be a string",
    ),
    (
        "unknown task kind",
        lambda r: _replace(r / "SKILL.md", "task_kinds: [math]", "task_kinds: [maths]"),
        "SKILL.md",
        "task_kinds",
        "'maths' is not one of math, code, instruction, general",
    ),
    (
        "unknown front matter field",
        lambda r: _replace(r / "SKILL.md", "task_kinds:", "task_kind: [math]\ntask_kinds:"),
        "SKILL.md",
        "task_kind",
        "unknown field",
    ),
    (
        "name that is not the folder's",
        lambda r: _replace(r / "SKILL.md", "name: math", "name: algebra"),
        "SKILL.md",
        "name",
        "must match the folder name 'math'",
    ),
    (
        "empty procedure",
        lambda r: (r / "SKILL.md").write_text(
            (r / "SKILL.md").read_text().split("\n---\n")[0] + "\n---\n\n"
        ),
        "SKILL.md",
        "procedure",
        "missing",
    ),
    (
        "unknown resource type",
        lambda r: _replace(r / "resources.yaml", "type: rubric", "type: rubrik"),
        "resources.yaml",
        "resources[4].type",
        "'rubrik' is not one of rubric, checklist, reference, verifier, tool, calibration",
    ),
    (
        "duplicate resource id",
        lambda r: _replace(r / "resources.yaml", "id: reference", "id: answers"),
        "resources.yaml",
        "resources[1].id",
        "'answers' is already the id of resources[0]",
    ),
    (
        "missing rubric file",
        lambda r: (r / "rubrics" / "solution.md").unlink(),
        "resources.yaml",
        "resources[4].path",
        "'rubrics/solution.md' does not exist",
    ),
    (
        "empty rubric file",
        lambda r: (r / "rubrics" / "solution.md").write_text("\n\n"),
        "resources.yaml",
        "resources[4].path",
        "is empty",
    ),
    (
        "rubric without criteria",
        lambda r: (r / "rubrics" / "solution.md").write_text("Be fair.\n"),
        "resources.yaml",
        "resources[4].path",
        "defines no criteria",
    ),
    (
        "path outside the package",
        lambda r: _replace(r / "resources.yaml", "rubrics/solution.md", "../general/SKILL.md"),
        "resources.yaml",
        "resources[4].path",
        "inside the skill folder",
    ),
    (
        "unknown verifier name",
        lambda r: _replace(r / "resources.yaml", "verifier: math", "verifier: algebra"),
        "resources.yaml",
        "resources[0].verifier",
        "'algebra' is not one of code, instruction, math",
    ),
    (
        "unknown tool name",
        lambda r: _replace(r / "resources.yaml", "tool: run_python", "tool: shell"),
        "resources.yaml",
        "resources[6].tool",
        "'shell' is not one of view_resource, run_verifier, run_python",
    ),
    (
        "a reference resource that does not say it sees the reference",
        lambda r: _replace(
            r / "resources.yaml", "sees: [prompt, candidates, reference]", "sees: [prompt]"
        ),
        "resources.yaml",
        "resources[1].sees",
        "must list 'reference'",
    ),
    (
        "unknown thing seen",
        lambda r: _replace(r / "resources.yaml", "sees: []", "sees: [gold]"),
        "resources.yaml",
        "resources[8].sees[0]",
        "'gold' is not one of prompt, candidates",
    ),
    (
        "missing resource field",
        lambda r: _replace(
            r / "resources.yaml",
            "    when: To turn the findings into the verdict and its confidence.\n",
            "",
        ),
        "resources.yaml",
        "resources[5].when",
        "missing",
    ),
    (
        "unknown resource field",
        lambda r: _replace(r / "resources.yaml", "cost: free", "costs: free"),
        "resources.yaml",
        "resources[0].costs",
        "unknown field",
    ),
    (
        "bad cost",
        lambda r: _replace(r / "resources.yaml", "cost: free", "cost: cheap"),
        "resources.yaml",
        "resources[0].cost",
        "'cheap' is not one of free, low, medium, high or a token count",
    ),
    (
        "bad evidence kind",
        lambda r: _replace(r / "resources.yaml", "evidence: hard", "evidence: firm"),
        "resources.yaml",
        "resources[0].evidence",
        "'firm' is not one of hard, soft",
    ),
    (
        "a file-backed field on a verifier",
        lambda r: _replace(
            r / "resources.yaml", "verifier: math", "verifier: math\n    path: x.md"
        ),
        "resources.yaml",
        "resources[0].path",
        "a verifier resource has no path",
    ),
    (
        "a costly file and no view_resource tool to read it",
        lambda r: _replace(r / "resources.yaml", "tool: view_resource", "tool: run_verifier"),
        "resources.yaml",
        "resources[7].cost",
        "add a tool resource 'view_resource'",
    ),
    (
        "duplicate YAML key",
        lambda r: _replace(r / "resources.yaml", "cost: free", "cost: free\n    cost: low"),
        "resources.yaml",
        None,
        "duplicate key 'cost'",
    ),
    (
        "invalid YAML",
        lambda r: _replace(r / "resources.yaml", "resources:", "resources: ["),
        "resources.yaml",
        None,
        "not valid YAML",
    ),
    (
        "contract that is not JSON",
        lambda r: (r / "contract.json").write_text("{winner: A}"),
        "contract.json",
        None,
        "not valid JSON",
    ),
    (
        "contract with other winners",
        lambda r: _replace(r / "contract.json", '["A", "B", "tie"]', '["A", "B"]'),
        "contract.json",
        "pairwise.properties.winner.enum",
        'must be exactly ["A", "B", "tie"]',
    ),
    (
        "contract without a pointwise scale",
        lambda r: _replace(r / "contract.json", '"minimum": 1, "maximum": 10', '"minimum": 1'),
        "contract.json",
        "pointwise.properties.score",
        "must state the scale",
    ),
    (
        "contract without a required field",
        lambda r: _replace(
            r / "contract.json",
            '"required": ["winner", "confidence", "evidence", "reason"]',
            '"required": ["winner", "evidence", "reason"]',
        ),
        "contract.json",
        "pairwise.required",
        "must include 'confidence'",
    ),
    (
        "contract using an unsupported keyword",
        lambda r: _replace(r / "contract.json", '"minLength": 1}', '"pattern": "x"}'),
        "contract.json",
        "pairwise.properties.evidence.items.pattern",
        "unsupported keyword",
    ),
    (
        "contract whose evidence is not a list of ids",
        lambda r: _replace(
            r / "contract.json", '"items": {"type": "string"', '"items": {"type": "number"'
        ),
        "contract.json",
        "pairwise.properties.evidence.items",
        "must be strings",
    ),
    (
        "contract with winners of mixed types",
        lambda r: _replace(r / "contract.json", '["A", "B", "tie"]', '["A", 2, {"x": 1}]'),
        "contract.json",
        "pairwise.properties.winner.enum",
        'must be exactly ["A", "B", "tie"]',
    ),
    (
        "resources.yaml that is a bare list",
        lambda r: (r / "resources.yaml").write_text("- id: x\n"),
        "resources.yaml",
        None,
        "must be a mapping with one key, 'resources'",
    ),
    (
        "a resource that is not a mapping",
        lambda r: _replace(r / "resources.yaml", "resources:\n", "resources:\n  - just text\n"),
        "resources.yaml",
        "resources[0]",
        "must be a mapping of fields",
    ),
    (
        "missing contract",
        lambda r: (r / "contract.json").unlink(),
        "contract.json",
        None,
        "missing",
    ),
    (
        "compact reply that does not end with the verdict",
        lambda r: _replace(r / "compact.md", '  - "Verdict: <A or B>"\n', ""),
        "compact.md",
        "reply",
        "the last line must be 'Verdict: ...'",
    ),
    (
        "compact reply line without a placeholder",
        lambda r: _replace(r / "compact.md", "Verdict: <A or B>", "Verdict: A"),
        "compact.md",
        "reply[1]",
        "must read 'Label: <what to write>'",
    ),
]


@pytest.mark.parametrize(
    ("broken", "edit", "file", "field", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_each_problem_names_its_file_and_field(tmp_path, broken, edit, file, field, message):
    """A broken package raises SkillError whose problem names the skill, file and field."""
    root = _copy(tmp_path)
    edit(root)
    problems = _problems(root)
    match = [p for p in problems if p.file == root / file and p.field == field]
    assert match, f"{broken}: no problem for {file} {field}: {[str(p) for p in problems]}"
    assert any(message in p.message for p in match), [str(p) for p in match]
    assert all(p.skill == "math" for p in problems)
    rendered = str(match[0])
    assert rendered.startswith(str(root / file)) or f"math/{file}" in rendered
    if field:
        assert f": {field}: " in rendered


def test_the_message_reads_file_then_field_then_problem(tmp_path, monkeypatch):
    """The one-line form is `<skill>/<file>: <field>: <message>`, relative to the cwd."""
    root = _copy(tmp_path)
    _replace(root / "resources.yaml", "type: rubric", "type: rubrik")
    monkeypatch.chdir(tmp_path)
    (problem,) = _problems(root)
    assert str(problem) == (
        "math/resources.yaml: resources[4].type: 'rubrik' is not one of rubric, checklist, "
        "reference, verifier, tool, calibration, aggregation"
    )


def test_all_problems_of_a_package_are_collected(tmp_path):
    """Problems in several files are reported together, not only the first."""
    root = _copy(tmp_path)
    _replace(root / "SKILL.md", 'version: "1.0"', "version: 1.0")
    _replace(root / "resources.yaml", "type: rubric", "type: rubrik")
    _replace(root / "resources.yaml", "id: reference", "id: answers")
    (root / "contract.json").write_text("[]")
    problems = _problems(root)
    fields = {(p.file.name, p.field) for p in problems}
    assert {
        ("SKILL.md", "version"),
        ("resources.yaml", "resources[4].type"),
        ("resources.yaml", "resources[1].id"),
        ("contract.json", None),
    } <= fields
    with pytest.raises(SkillError, match=r"invalid skill math: \d+ problems"):
        load_skill(root)


def test_a_folder_that_does_not_exist_is_a_skill_error(tmp_path):
    """Loading a missing folder raises SkillError naming it, not an OSError."""
    with pytest.raises(SkillError, match="no such directory"):
        load_skill(tmp_path / "nowhere")


def test_a_skill_error_is_a_config_error():
    """SkillError sits under ConfigError in the one exception tree, so the CLI reports it."""
    from rerank.errors import ConfigError

    assert issubclass(SkillError, ConfigError)


def test_a_token_count_is_a_valid_cost(tmp_path):
    """`cost` accepts a positive token count as well as free|low|medium|high."""
    root = _copy(tmp_path)
    _replace(root / "resources.yaml", "cost: free", "cost: 250")
    assert load_skill(root).resources[0].cost == 250


def test_the_contract_file_can_be_renamed(tmp_path):
    """`output_contract` in the front matter names the contract file."""
    root = _copy(tmp_path)
    (root / "contract.json").rename(root / "verdicts.json")
    _replace(root / "SKILL.md", "output_contract: contract.json", "output_contract: verdicts.json")
    skill = load_skill(root)
    assert skill.contract == json.loads((root / "verdicts.json").read_text())

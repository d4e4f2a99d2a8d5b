"""Rendering and hashing: byte-stable prefixes, and any edit to a package shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rerank.errors import ConfigError
from rerank.skills import builtin_dir, content_hash, load_skill, render

MATH = builtin_dir() / "math"
FILES = sorted(p.relative_to(MATH).as_posix() for p in MATH.rglob("*") if p.is_file())
# Files whose text reaches the full prefix (the calibration examples are read on demand).
RENDERED = [f for f in FILES if f not in ("compact.md", "calibration/examples.md")]


def _copy(tmp_path: Path, name: str = "math") -> Path:
    return Path(shutil.copytree(builtin_dir() / name, tmp_path / name))


def test_render_is_byte_identical_across_loads_and_places(tmp_path):
    """Two loads, and a copy in another folder, render the same bytes and hash alike."""
    first, again, moved = load_skill(MATH), load_skill(MATH), load_skill(_copy(tmp_path))
    assert render(first) == render(again) == render(moved)
    assert render(first, compact=True) == render(moved, compact=True)
    assert first.hash == again.hash == moved.hash
    assert first == again


def test_the_hash_does_not_depend_on_file_order_or_line_endings(tmp_path):
    """Files written in reverse order, with CRLF line endings, hash and render the same."""
    target = tmp_path / "math"
    for relative in reversed(FILES):
        data = (MATH / relative).read_bytes().replace(b"\n", b"\r\n")
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(data)
    skill = load_skill(target)
    assert skill.hash == load_skill(MATH).hash
    assert render(skill) == render(load_skill(MATH))


def test_the_hash_algorithm_is_pinned(tmp_path):
    """A fixed two-file folder has a fixed hash, so recorded hashes stay comparable."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_bytes(b"alpha\n")
    (tmp_path / "sub" / "b.yaml").write_bytes(b"beta: 1\n")
    assert content_hash(tmp_path) == (
        "683a06ff93be87ceb598072b02f0e2a87d1d92589bda0d016f85265096e3f5bd"
    )


@pytest.mark.parametrize("relative", FILES)
def test_editing_any_file_changes_the_hash(tmp_path, relative):
    """Appending to any file of the package gives a different hash."""
    root = _copy(tmp_path)
    before = load_skill(root).hash
    with (root / relative).open("a") as handle:
        handle.write("\n- [extra] One more line.\n" if relative.endswith(".md") else "\n")
    assert load_skill(root).hash != before


@pytest.mark.parametrize("relative", RENDERED)
def test_editing_a_rendered_file_changes_the_prefix(tmp_path, relative):
    """A change to the procedure, resources, inlined texts or contract shows in the prefix."""
    root = _copy(tmp_path)
    before = render(load_skill(root))
    file = root / relative
    text = file.read_text()
    if relative.endswith(".json"):
        text = text.replace('"minimum": 1, "maximum": 10', '"minimum": 0, "maximum": 5')
    elif relative == "resources.yaml":
        text = text.replace("Always, first:", "Always, before anything else:")
    else:
        text = text.rstrip("\n") + "\nOne more sentence.\n"
    file.write_text(text)
    assert render(load_skill(root)) != before


def test_editing_the_compact_form_changes_the_compact_prefix(tmp_path):
    """compact.md reaches the compact prefix."""
    root = _copy(tmp_path)
    before = render(load_skill(root), compact=True)
    with (root / "compact.md").open("a") as handle:
        handle.write("5. Be brief.\n")
    assert render(load_skill(root), compact=True) != before


def test_hidden_files_and_caches_do_not_count(tmp_path):
    """Editor and OS droppings (.DS_Store, __pycache__) leave the hash alone."""
    root = _copy(tmp_path)
    before = load_skill(root).hash
    (root / ".DS_Store").write_bytes(b"\0\1")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert load_skill(root).hash == before


def test_resources_appear_in_file_order():
    """The resource index lists resources in the order of resources.yaml."""
    skill = load_skill(MATH)
    prefix = render(skill)
    positions = [prefix.index(f"- `{r.id}` (") for r in skill.resources]
    assert positions == sorted(positions)


def test_cheap_texts_are_inlined_and_costly_ones_are_not():
    """Free/low-cost files appear in full; the medium-cost calibration is only indexed."""
    skill = load_skill(MATH)
    prefix = render(skill)
    for resource in skill.resources:
        if resource.text is None:
            continue
        assert (resource.text in prefix) == (resource.cost in ("free", "low")), resource.id
    assert "`examples` (calibration; soft evidence; cost medium; read it with view_resource)" in (
        prefix
    )


def test_the_prefix_holds_procedure_contract_and_scale():
    """The prefix carries the procedure, both reply shapes and the stated scale."""
    skill = load_skill(MATH)
    prefix = render(skill)
    assert skill.procedure in prefix
    assert '"winner": "A" | "B" | "tie", "confidence": number 0 to 1' in prefix
    assert '"score": number 1 to 10' in prefix
    assert "sees the reference" in prefix


def test_the_compact_prefix_is_the_compact_procedure_and_reply_lines():
    """The compact prefix is short, tool-free and ends with the exact reply lines."""
    prefix = render(load_skill(MATH), compact=True)
    assert prefix.endswith("Correct answer: <your own final answer>\nVerdict: <A or B>\n")
    assert "## Resources" not in prefix
    assert len(prefix) < 1000


def test_a_skill_without_compact_form_cannot_render_compact(tmp_path):
    """compact=True on a skill without compact.md raises ConfigError naming the skill."""
    root = _copy(tmp_path)
    (root / "compact.md").unlink()
    skill = load_skill(root)
    assert skill.compact is None
    with pytest.raises(ConfigError, match="'math' has no compact form"):
        render(skill, compact=True)


def test_only_skills_with_evidence_are_told_to_expect_it():
    """The general prefix (no verifier) does not promise per-candidate evidence; math's does."""
    general = render(load_skill(builtin_dir() / "general"))
    assert "No verifier applies" in general
    assert "evidence computed for each candidate" not in general
    assert "evidence computed for each candidate" in render(load_skill(MATH))

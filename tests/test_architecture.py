"""Architecture: the module import graph of rerank/ and tournaments/ has no cycles and keeps
the layering docs/architecture.md draws.

Every import counts, wherever it sits: at the top, inside a function (a lazy import hides
a cycle, it does not cut it) and under ``if TYPE_CHECKING``. ``from package import name``
is an edge to the module ``package.name`` when there is one, else to the package's
``__init__``; a submodule's implicit import of its parent package is not an edge (every
package that re-exports its submodules would be a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("rerank", "tournaments")

Edge = tuple[str, str]

#: Import edges that may close a cycle while a change in progress cuts them, each mapped to
#: what that change is: ``{("rerank.a", "rerank.b"): "why, and what removes it"}``. The
#: cycle test ignores them; an entry whose edge is gone or no longer on a cycle fails
#: test_allow_lists_hold_no_stale_entries. Empty today; keep it so.
KNOWN_CYCLE_EDGES: dict[Edge, str] = {}

#: Edges that break a layering rule (RULES), under the same terms. Empty today.
KNOWN_LAYER_VIOLATIONS: dict[Edge, str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for top in TOPS
        for path in sorted((ROOT / top).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _first_party(name: str) -> bool:
    return name.split(".")[0] in TOPS


def _known(name: str, modules: dict[str, Path]) -> str:
    """``name`` itself if it is a module here, else its longest prefix that is."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The first-party modules ``module`` imports, anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names]
            targets = [t if t in modules else source for t in targets]
        else:
            continue
        for target in targets:
            if _first_party(target):
                found = _known(target, modules)
                if found and found != module:
                    yield found


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        graph.add_edges_from((module, target) for target in _imports(module, path, modules))
    return graph


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@dataclass(frozen=True)
class Rule:
    """No module within ``importers`` (but ``exempt``) imports one within ``imported``
    (but ``allowed``)."""

    says: str
    importers: tuple[str, ...]
    imported: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()

    def broken_by(self, a: str, b: str) -> bool:
        return (
            _within(a, *self.importers)
            and not _within(a, *self.exempt)
            and _within(b, *self.imported)
            and not _within(b, *self.allowed)
        )


#: The bottom layer of rerank: every other layer may import it, it imports none of them.
FOUNDATION = (
    "rerank.errors",
    "rerank.text",
    "rerank.memo",
    "rerank.items",
    "rerank.evidence",
    "rerank.answers",
    "rerank.answers_json",
    "rerank.cells",
    "rerank.fieldpaths",
    "rerank.sources",
    "rerank.readers",
)

RULES = [
    Rule("tournaments imports nothing from rerank", ("tournaments",), ("rerank",)),
    Rule(
        "only rerank.cli imports rerank.cli", ("rerank",), ("rerank.cli",), exempt=("rerank.cli",)
    ),
    Rule("rerank.report imports no rerank.cli", ("rerank.report",), ("rerank.cli",)),
    Rule(
        "verifiers, sandbox and labels import no judges, cli or report",
        ("rerank.verifiers", "rerank.sandbox", "rerank.labels"),
        ("rerank.judges", "rerank.cli", "rerank.report"),
    ),
    Rule(
        "rerank.sandbox imports nothing from rerank but rerank.errors",
        ("rerank.sandbox",),
        ("rerank",),
        allowed=("rerank.errors", "rerank.sandbox"),
    ),
    Rule(
        "the foundation (data model, readers, evidence contract, answers, utilities) imports"
        " no layer above it",
        FOUNDATION,
        ("rerank",),
        allowed=FOUNDATION,
    ),
    Rule(
        "verifiers compute evidence without an LLM: no llm, local or skills",
        ("rerank.verifiers",),
        ("rerank.llm", "rerank.local", "rerank.skills"),
    ),
    Rule(
        "judges import nothing that runs them (selector, run, outputs, batch, report, view, ray)",
        ("rerank.judges",),
        (
            "rerank.selector",
            "rerank.run",
            "rerank.outputs",
            "rerank.batch",
            "rerank.report",
            "rerank.view",
            "rerank.ray",
            "rerank.cli",
        ),
    ),
    Rule(
        "rerank.labels (labels from hidden tests) is imported by benchmarks and tests only",
        ("rerank",),
        ("rerank.labels",),
        exempt=("rerank.labels",),
    ),
]


def _violations(graph: nx.DiGraph) -> dict[Edge, str]:
    """Every edge that breaks a rule, with the first rule it breaks."""
    found: dict[Edge, str] = {}
    for a, b in graph.edges:
        rule = next((r for r in RULES if r.broken_by(a, b)), None)
        if rule is not None:
            found[(a, b)] = rule.says
    return found


def _show(edges: set[Edge]) -> str:
    return "\n".join(f"  {a} -> {b}" for a, b in sorted(edges))


def test_the_scan_sees_the_packages() -> None:
    """The graph holds every module, and the imports of one known to import others."""
    graph = _graph()
    assert {"tournaments", "rerank", "rerank.cli", "rerank.report.run"} <= set(graph)
    assert ("rerank.selector", "tournaments") in graph.edges  # import tournaments
    assert ("rerank.cli.app", "rerank.cli.select") in graph.edges  # from package import module
    assert ("rerank.cli.select", "rerank.judges") in graph.edges  # from package import name


def test_the_scan_counts_lazy_and_relative_imports(tmp_path: Path) -> None:
    """An import inside a function, or a relative one, is an edge like any other."""
    modules = {"rerank.x": tmp_path / "x.py", "rerank.y": tmp_path / "y.py", "rerank": tmp_path}
    (tmp_path / "x.py").write_text(
        "def f():\n    from rerank.y import g\n    from . import y\n    from .y import h\n"
    )
    assert list(_imports("rerank.x", tmp_path / "x.py", modules)) == ["rerank.y"] * 3


def test_the_rules_name_what_they_forbid() -> None:
    """A rule flags the edges it forbids and passes the ones it allows."""
    graph = nx.DiGraph(
        [
            ("rerank.sandbox.runner", "rerank.errors"),
            ("rerank.sandbox.runner", "rerank.sandbox.boot"),
            ("rerank.sandbox.runner", "rerank.items"),
            ("rerank.cli.report", "rerank.cli.options"),
            ("rerank.report.run", "rerank.cli.options"),
            ("rerank.judges.evidence", "rerank.labels.code"),
            ("tournaments.vote", "rerank.items"),
        ]
    )
    assert set(_violations(graph)) == {
        ("rerank.sandbox.runner", "rerank.items"),
        ("rerank.report.run", "rerank.cli.options"),
        ("rerank.judges.evidence", "rerank.labels.code"),
        ("tournaments.vote", "rerank.items"),
    }


def _rotated(cycle: list[str]) -> list[str]:
    """The cycle starting at its first module in sort order (one way to write each)."""
    at = cycle.index(min(cycle))
    return cycle[at:] + cycle[:at]


def test_no_import_cycles() -> None:
    """The module import graph is a DAG (allow-listed edges aside), and the cycles found
    are named when it is not."""
    graph = _graph()
    graph.remove_edges_from(KNOWN_CYCLE_EDGES)
    components = sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)
    if components:
        cycles = sorted(_rotated(c) for c in nx.simple_cycles(graph, length_bound=6))
        pytest.fail(
            f"{len(components)} group(s) of modules that import each other:\n"
            + "\n".join(f"  {', '.join(c)}" for c in components)
            + "\nthe short cycles among them:\n"
            + "\n".join(f"  {' -> '.join([*c, c[0]])}" for c in cycles[:30])
        )
    assert nx.is_directed_acyclic_graph(graph)


def test_layering() -> None:
    """tournaments < rerank; only the CLI imports the CLI; evidence does not import the
    judges or reports; the sandbox stands alone; hidden-test labels stay out of rerank."""
    found = _violations(_graph())
    broken = {edge: rule for edge, rule in found.items() if edge not in KNOWN_LAYER_VIOLATIONS}
    assert not broken, "layering broken:\n" + "\n".join(
        f"  {a} -> {b}: {rule}" for (a, b), rule in sorted(broken.items())
    )


def test_allow_lists_hold_no_stale_entries() -> None:
    """An allow-listed edge that is gone, or no longer breaks anything, leaves the list."""
    graph = _graph()
    on_cycles = {
        (a, b)
        for component in nx.strongly_connected_components(graph)
        for a, b in graph.subgraph(component).edges
    }
    stale = set(KNOWN_CYCLE_EDGES) - on_cycles
    stale |= set(KNOWN_LAYER_VIOLATIONS) - set(_violations(graph))
    assert not stale, "remove from the allow-lists:\n" + _show(stale)

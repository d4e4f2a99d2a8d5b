"""The typed resource bank of a skill (``resources.yaml``).

Each resource says what it is (``type``), when the judge should use it (``when``), what it
costs, whether what it yields is *hard* evidence (decisive on its own: a test, a reference)
or *soft* (a hint: a rubric judgement), and what it may see. ``sees`` is how a skill grants
access: a resource that sees the ``reference`` or the ``labels`` must say so, and the judge
shows those only through such a resource. File-backed resources (rubrics, checklists,
calibration examples, aggregation rules) name a file in the package; executable ones name a
verifier or a tool the judge provides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerank.skills.problems import ProblemLog
from rerank.skills.yamltext import read_text

__all__ = [
    "COSTS",
    "EVIDENCE_KINDS",
    "FILE_TYPES",
    "GATED",
    "INLINE_TOKENS",
    "RESOURCE_TYPES",
    "SEES",
    "TOOLS",
    "VERIFIERS",
    "Resource",
    "parse_resources",
]

RESOURCE_TYPES: tuple[str, ...] = (
    "rubric",
    "checklist",
    "reference",
    "verifier",
    "tool",
    "calibration",
    "aggregation",
)
#: Types whose content is a file of the package (``path``).
FILE_TYPES: frozenset[str] = frozenset({"rubric", "checklist", "calibration", "aggregation"})
EVIDENCE_KINDS: tuple[str, ...] = ("hard", "soft")
COSTS: tuple[str, ...] = ("free", "low", "medium", "high")
#: What a resource may see of an item (``[]``: nothing, as for ``view_resource``). ``task``
#: is the item's visible resources (tests, instruction ids).
SEES: tuple[str, ...] = ("prompt", "candidates", "task", "evidence", "reference", "labels")
#: What the judge withholds unless a resource of the skill declares that it sees it.
GATED: frozenset[str] = frozenset({"reference", "labels"})
#: The verifiers of rerank.verifiers, by the name the evidence judge gives them.
VERIFIERS: tuple[str, ...] = ("code", "instruction", "math")
#: The tools the LLM judge offers a skill.
TOOLS: tuple[str, ...] = ("view_resource", "run_verifier", "run_python")
#: File-backed resources cheaper than this (in tokens), or costed free or low, are inlined
#: in the rendered prefix; the others are listed and read with ``view_resource``.
INLINE_TOKENS = 800

_ID = re.compile(r"^[a-z][a-z0-9-]*$")
#: A criterion in a rubric or checklist: a list item opening with ``[id]``.
_CRITERION = re.compile(r"^\s*[-*]\s+\[([a-z0-9][a-z0-9-]*)\]", re.M)
_REQUIRED = ("id", "type", "when", "cost", "evidence", "sees")
_BACKING = {"path": FILE_TYPES, "verifier": {"verifier"}, "tool": {"tool"}}


@dataclass(frozen=True)
class Resource:
    """One entry of the bank; ``text`` and ``criteria`` are filled for file-backed ones."""

    id: str
    type: str
    when: str
    cost: str | int
    evidence: str
    sees: tuple[str, ...]
    path: str | None = None
    verifier: str | None = None
    tool: str | None = None
    text: str | None = None
    criteria: tuple[str, ...] = ()

    @property
    def gated(self) -> frozenset[str]:
        """What this resource sees that the judge withholds unless granted."""
        return frozenset(self.sees) & GATED

    @property
    def inline(self) -> bool:
        """Whether the rendered prefix carries the text (cheap files only)."""
        if self.text is None:
            return False
        if isinstance(self.cost, int):
            return self.cost <= INLINE_TOKENS
        return self.cost in ("free", "low")

    @property
    def backing(self) -> str | None:
        """What the resource is made of: its file, verifier or tool name."""
        return self.path or self.verifier or self.tool


def _one_of(value: Any, allowed: tuple[str, ...]) -> str | None:
    """A problem message, or ``None`` when ``value`` is one of ``allowed``."""
    if value in allowed:
        return None
    return f"{value!r} is not one of {', '.join(allowed)}"


class _EntryChecker:
    """Checks one entry of ``resources``; problems go to the log under ``resources[i]``."""

    def __init__(self, log: ProblemLog, file: Path, root: Path, index: int) -> None:
        self.log, self.file, self.root = log, file, root
        self.where = f"resources[{index}]"

    def problem(self, key: str, message: str) -> None:
        self.log.add(self.file, f"{self.where}.{key}", message)

    def text(self, entry: dict[str, Any], key: str) -> str | None:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "must be a non-empty string")
            return None
        return value.strip()

    def choice(self, entry: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
        message = _one_of(entry.get(key), allowed)
        if message:
            self.problem(key, message)
            return None
        return entry[key]

    def cost(self, value: Any) -> str | int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if value in COSTS:
            return value
        self.problem("cost", f"{value!r} is not one of {', '.join(COSTS)} or a token count")
        return None

    def sees(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.problem("sees", f"must be a list drawn from {', '.join(SEES)} ([] for nothing)")
            return ()
        for position, name in enumerate(value):
            message = _one_of(name, SEES)
            if message:
                self.problem(f"sees[{position}]", message)
        if len(set(map(str, value))) != len(value):
            self.problem("sees", "lists an entry twice")
        return tuple(str(v) for v in value)

    def load_file(self, value: Any) -> tuple[str | None, str | None]:
        """The package-relative path and its text, if the file is usable."""
        if not isinstance(value, str) or not value.strip():
            self.problem("path", "must be a path inside the skill folder")
            return None, None
        relative = Path(value)
        target = (self.root / relative).resolve()
        if relative.is_absolute() or not target.is_relative_to(self.root.resolve()):
            self.problem("path", f"{value!r} must be a relative path inside the skill folder")
            return None, None
        if not target.is_file():
            self.problem("path", f"{value!r} does not exist in {self.root.name}/")
            return None, None
        try:
            text = read_text(target).strip()
        except (OSError, UnicodeDecodeError) as exc:
            self.problem("path", f"{value!r} cannot be read as UTF-8 text: {exc}")
            return None, None
        if not text:
            self.problem("path", f"{value!r} is empty")
            return None, None
        return relative.as_posix(), text

    def criteria(self, kind: str, path: str, text: str) -> tuple[str, ...]:
        found = tuple(_CRITERION.findall(text))
        if kind in ("rubric", "checklist") and not found:
            self.problem(
                "path",
                f"{path!r} defines no criteria: list each as '- [criterion-id] ...' so "
                "verdicts can cite it",
            )
        seen: set[str] = set()
        for criterion in found:
            if criterion in seen:
                self.problem("path", f"{path!r} defines criterion [{criterion}] twice")
            seen.add(criterion)
        return found


def _parse_entry(checker: _EntryChecker, entry: Any) -> Resource | None:
    if not isinstance(entry, dict):
        checker.log.add(checker.file, checker.where, "must be a mapping of fields")
        return None
    known = (*_REQUIRED, *_BACKING)
    for key in entry:
        if key not in known:
            checker.problem(str(key), f"unknown field; known fields: {', '.join(known)}")
    for key in _REQUIRED:
        if key not in entry:
            checker.problem(key, "missing")
    rid = checker.text(entry, "id") if "id" in entry else None
    if rid is not None and not _ID.match(rid):
        checker.problem("id", f"{rid!r} must be lowercase letters, digits and '-'")
    kind = checker.choice(entry, "type", RESOURCE_TYPES) if "type" in entry else None
    when = checker.text(entry, "when") if "when" in entry else None
    cost = checker.cost(entry["cost"]) if "cost" in entry else None
    evidence = checker.choice(entry, "evidence", EVIDENCE_KINDS) if "evidence" in entry else None
    sees = checker.sees(entry["sees"]) if "sees" in entry else ()
    path = text = verifier = tool = None
    criteria: tuple[str, ...] = ()
    if kind is not None:
        for key, kinds in _BACKING.items():
            if key in entry and kind not in kinds:
                checker.problem(key, f"a {kind} resource has no {key}")
            elif key not in entry and kind in kinds:
                checker.problem(key, f"missing: a {kind} resource names its {key}")
        if kind in FILE_TYPES and "path" in entry:
            path, text = checker.load_file(entry["path"])
            if path is not None and text is not None:
                criteria = checker.criteria(kind, path, text)
        if kind == "verifier" and "verifier" in entry:
            verifier = checker.choice(entry, "verifier", VERIFIERS)
        if kind == "tool" and "tool" in entry:
            tool = checker.choice(entry, "tool", TOOLS)
        if kind == "reference" and "reference" not in sees:
            checker.problem("sees", "a reference resource must list 'reference' in what it sees")
    if (
        rid is None
        or kind is None
        or when is None
        or cost is None
        or evidence is None
        or not isinstance(entry.get("sees"), list)
    ):
        return None
    return Resource(rid, kind, when, cost, evidence, sees, path, verifier, tool, text, criteria)


def parse_resources(data: Any, file: Path, root: Path, log: ProblemLog) -> tuple[Resource, ...]:
    """The resources of ``resources.yaml`` (already parsed), logging every problem found."""
    if not isinstance(data, dict) or set(data) != {"resources"}:
        log.add(file, None, "must be a mapping with one key, 'resources' (a list)")
        return ()
    entries = data["resources"]
    if not isinstance(entries, list) or not entries:
        log.add(file, "resources", "must be a non-empty list")
        return ()
    parsed: list[tuple[int, Resource]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        checker = _EntryChecker(log, file, root, index)
        rid = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(rid, str) and rid in seen:
            checker.problem("id", f"{rid!r} is already the id of resources[{seen[rid]}]")
        elif isinstance(rid, str):
            seen[rid] = index
        resource = _parse_entry(checker, entry)
        if resource is not None:
            parsed.append((index, resource))
    tools = {r.tool for _, r in parsed}
    for index, resource in parsed:
        if resource.text is not None and not resource.inline and "view_resource" not in tools:
            log.add(
                file,
                f"resources[{index}].cost",
                f"{resource.id!r} is too costly to inline in the prompt; add a tool resource "
                "'view_resource' so the judge can read it",
            )
    return tuple(r for _, r in parsed)

"""A skill package on disk, loaded and validated once into a frozen :class:`Skill`.

Layout of a package (one folder, named after the skill)::

    SKILL.md          front matter (name, description, version, task_kinds,
                      output_contract) and the procedure in Markdown
    resources.yaml    the typed resource bank (see rerank.skills.resources)
    contract.json     the output contract (see rerank.skills.contract)
    compact.md        optional: the procedure for small local models, and its reply lines
    rubrics/, checklists/, ...   the files the resources name

``load_skill`` checks all of it and raises one ``SkillError`` listing every
problem. The :attr:`Skill.hash` covers every file of the folder, so a verdict recorded with a
skill's hash pins the exact package that produced it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rerank.items import TASK_KINDS
from rerank.skills.compact import CompactForm, parse_compact
from rerank.skills.contract import contract_problems, score_scale
from rerank.skills.problems import ProblemLog
from rerank.skills.resources import Resource, parse_resources
from rerank.skills.yamltext import YamlError, load_yaml, read_text, split_front_matter

__all__ = ["Skill", "content_hash", "load_skill"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
_FRONT_REQUIRED = ("name", "description", "version", "task_kinds")
_FRONT_OPTIONAL = ("output_contract",)
_DESCRIPTION_MAX = 300


@dataclass(frozen=True)
class Skill:
    """A validated skill package. Equal skills have equal content (the hash says so)."""

    name: str
    description: str
    version: str
    task_kinds: tuple[str, ...]
    procedure: str
    resources: tuple[Resource, ...]
    contract: dict[str, Any] = field(compare=False)  # covered by ``hash``
    compact: CompactForm | None
    root: Path
    hash: str

    @property
    def score_scale(self) -> tuple[float, float]:
        """The pointwise scale (minimum, maximum) the contract states."""
        return score_scale(self.contract)

    @property
    def grants(self) -> frozenset[str]:
        """What the skill lets the judge see beyond the public item (``reference``, ...)."""
        return frozenset().union(*(r.gated for r in self.resources))

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        """The criteria of the skill's files, as cited: ``<resource>:<criterion>``."""
        return tuple(f"{r.id}:{c}" for r in self.resources for c in r.criteria)

    @property
    def citable_ids(self) -> frozenset[str]:
        """Ids a verdict may cite besides the item's check ids: criteria and resource ids
        (a resource id stands for a result the judge obtained with it, such as a tool run)."""
        return frozenset(self.criterion_ids) | {r.id for r in self.resources}

    def resource(self, resource_id: str) -> Resource:
        """The resource with this id (``KeyError`` when there is none)."""
        for resource in self.resources:
            if resource.id == resource_id:
                return resource
        raise KeyError(resource_id)


def content_hash(root: Path) -> str:
    """SHA-256 over every file of the folder: relative POSIX path and LF-normalised bytes.

    Files are taken in sorted path order, so the hash does not depend on the file system's
    listing order or line-ending conventions. Hidden files and ``__pycache__`` are skipped.
    """
    digest = hashlib.sha256()
    files = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts
        )
    )
    for relative, path in files:
        data = path.read_bytes().replace(b"\r\n", b"\n")
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _front_matter(file: Path, log: ProblemLog) -> tuple[dict[str, Any], str]:
    """The checked front matter fields (only the valid ones) and the procedure."""
    if not file.is_file():
        log.add(file, None, "missing: every skill opens with SKILL.md (front matter + procedure)")
        return {}, ""
    try:
        front, body = split_front_matter(read_text(file))
    except YamlError as exc:
        log.add(file, "front matter", str(exc))
        return {}, ""
    if not isinstance(front, dict):
        log.add(file, "front matter", "must be a mapping of fields")
        return {}, body.strip()
    fields: dict[str, Any] = {}
    for key in front:
        if key not in (*_FRONT_REQUIRED, *_FRONT_OPTIONAL):
            known = ", ".join((*_FRONT_REQUIRED, *_FRONT_OPTIONAL))
            log.add(file, str(key), f"unknown field; known fields: {known}")
    for key in _FRONT_REQUIRED:
        if key not in front:
            log.add(file, key, "missing")
    checks = {
        "name": _check_name,
        "description": _check_description,
        "version": _check_version,
        "task_kinds": _check_task_kinds,
        "output_contract": _check_contract_path,
    }
    for key, check in checks.items():
        if key in front:
            message = check(front[key])
            if message:
                log.add(file, key, message)
            else:
                fields[key] = front[key]
    if not body.strip():
        log.add(file, "procedure", "missing: write the steps below the front matter")
    return fields, body.strip()


def _check_name(value: Any) -> str | None:
    if isinstance(value, str) and _NAME.match(value):
        return None
    return f"{value!r} must be lowercase letters, digits and '_', starting with a letter"


def _check_description(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > _DESCRIPTION_MAX:
        return f"is {len(value)} characters; keep it under {_DESCRIPTION_MAX} (one sentence)"
    return None


def _check_version(value: Any) -> str | None:
    if isinstance(value, str) and _VERSION.match(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value!r} must be a string: quote it ('{value}'), YAML reads it as a number"
    return f"{value!r} must be a version string such as '1.0' or '1.2.0'"


def _check_task_kinds(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"must be a non-empty list drawn from {', '.join(TASK_KINDS)}"
    unknown = [v for v in value if v not in TASK_KINDS]
    if unknown:
        return f"{unknown[0]!r} is not one of {', '.join(TASK_KINDS)}"
    if len(set(value)) != len(value):
        return "lists a kind twice"
    return None


def _check_contract_path(value: Any) -> str | None:
    if (
        isinstance(value, str)
        and value.endswith(".json")
        and not Path(value).is_absolute()
        and ".." not in Path(value).parts
    ):
        return None
    return f"{value!r} must be the relative path of a .json file in the skill folder"


def _load_json_file(file: Path, log: ProblemLog) -> Any:
    if not file.is_file():
        log.add(file, None, "missing: the output contract of the skill")
        return None
    try:
        return json.loads(read_text(file))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.add(file, None, f"not valid JSON: {exc}")
        return None


def _contract(file: Path, log: ProblemLog) -> dict[str, Any] | None:
    data = _load_json_file(file, log)
    if data is None:
        return None
    problems = contract_problems(data)
    for where, message in problems:
        log.add(file, where or None, message)
    return None if problems else data


def _resources(file: Path, root: Path, log: ProblemLog) -> tuple[Resource, ...]:
    if not file.is_file():
        log.add(file, None, "missing: the resource bank of the skill")
        return ()
    try:
        data = load_yaml(read_text(file))
    except YamlError as exc:
        log.add(file, None, str(exc))
        return ()
    return parse_resources(data, file, root, log)


def load_skill(path: str | Path) -> Skill:
    """Load and validate the skill package in folder ``path``.

    Raises ``SkillError`` listing every problem of the package (file and field each).
    """
    root = Path(path).absolute()
    log = ProblemLog(root.name)
    if not root.is_dir():
        log.add(root, None, "not a skill folder (no such directory)")
        log.raise_if_any()
    skill_md = root / "SKILL.md"
    front, procedure = _front_matter(skill_md, log)
    name = front.get("name")
    if name is not None and name != root.name:
        log.add(skill_md, "name", f"{name!r} must match the folder name {root.name!r}")
    resources = _resources(root / "resources.yaml", root, log)
    contract = _contract(root / front.get("output_contract", "contract.json"), log)
    compact = parse_compact(root / "compact.md", log)
    log.raise_if_any()
    assert contract is not None  # no problems logged means the contract loaded
    return Skill(
        name=front["name"],
        description=" ".join(front["description"].split()),
        version=front["version"],
        task_kinds=tuple(front["task_kinds"]),
        procedure=procedure,
        resources=resources,
        contract=contract,
        compact=compact,
        root=root,
        hash=content_hash(root),
    )

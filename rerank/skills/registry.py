"""Finding skills and routing items to them.

The built-in skills ship as the package ``rerank_skills`` (the repository's ``skills/``);
users add folders with ``--skills-dir``. A user skill with the name of a built-in one (or of
a skill from an earlier ``--skills-dir``) replaces it, and the registry records a note saying
so, because a silently swapped judge procedure would make results hard to explain.

Routing: :meth:`SkillRegistry.for_kind` picks the skill whose ``task_kinds`` include the
item's kind, preferring the most recently added folder; a kind no skill claims falls back to
the skill for ``general``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from rerank.errors import ConfigError
from rerank.items import TASK_KINDS
from rerank.skills.package import Skill, load_skill
from rerank.skills.problems import SkillError

__all__ = ["BUILTIN", "SkillRegistry", "builtin_dir", "discover"]

#: The source name of the skills shipped with rerank.
BUILTIN = "built-in"
FALLBACK_KIND = "general"


def builtin_dir() -> Path:
    """The folder of the built-in skill packages (``rerank_skills``)."""
    return Path(str(files("rerank_skills")))


def discover(directory: str | Path) -> list[Path]:
    """The skill folders in ``directory``: itself if it holds SKILL.md, else its subfolders.

    Subfolders starting with ``.`` or ``_`` (caches, ``__pycache__``) are not skills; every
    other subfolder is, so one that lacks SKILL.md is reported rather than skipped.
    """
    path = Path(directory)
    if (path / "SKILL.md").is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"skills directory {path} does not exist")
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


@dataclass(frozen=True)
class _Entry:
    skill: Skill
    source: str  # BUILTIN or the --skills-dir it came from
    layer: int  # 0 for built-ins, then one per --skills-dir in order


class SkillRegistry:
    """The skills available to a run, by name, with routing by task kind."""

    def __init__(self, entries: Iterable[_Entry], notes: Iterable[str] = ()) -> None:
        self._entries = {e.skill.name: e for e in entries}
        self.notes: tuple[str, ...] = tuple(notes)

    @classmethod
    def from_dirs(
        cls, extra_dirs: Iterable[str | Path] = (), *, builtin: bool = True
    ) -> SkillRegistry:
        """The built-in skills (unless ``builtin=False``) plus those in ``extra_dirs``.

        Every package is validated; problems of all of them are raised together as one
        ``SkillError``.
        """
        sources: list[tuple[str, Path]] = [(BUILTIN, builtin_dir())] if builtin else []
        sources += [(str(d), Path(d)) for d in extra_dirs]
        entries: dict[str, _Entry] = {}
        notes: list[str] = []
        failures: list[SkillError] = []
        for layer, (source, directory) in enumerate(sources, start=0 if builtin else 1):
            for folder in discover(directory):
                try:
                    skill = load_skill(folder)
                except SkillError as exc:
                    failures.append(exc)
                    continue
                previous = entries.get(skill.name)
                if previous is not None:
                    notes.append(
                        f"skill {skill.name!r} from {source} overrides the one from "
                        f"{previous.source}"
                    )
                entries[skill.name] = _Entry(skill, source, layer)
        if failures:
            raise SkillError([problem for failure in failures for problem in failure.problems])
        return cls(entries.values(), notes)

    def __iter__(self) -> Iterator[Skill]:
        """The skills in name order."""
        return (self._entries[name].skill for name in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._entries))

    def source(self, name: str) -> str:
        """Where the skill came from: ``"built-in"`` or the skills directory."""
        return self._entry(name).source

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            available = ", ".join(self.names) or "none"
            raise ConfigError(f"no skill named {name!r}; available: {available}") from None

    def get(self, name: str) -> Skill:
        """The skill called ``name`` (``--skill NAME``); an unknown name lists the others."""
        return self._entry(name).skill

    def for_kind(self, kind: str | None) -> Skill:
        """The skill for items of task ``kind`` (``None``: undeclared, hence general).

        Among the skills claiming the kind, the most recently added folder wins; two
        claimants from the same folder are ambiguous and raise ``ConfigError``.
        """
        kind = kind or FALLBACK_KIND
        if kind not in TASK_KINDS:
            raise ConfigError(f"unknown task kind {kind!r}; known: {', '.join(TASK_KINDS)}")
        claims = [e for e in self._entries.values() if kind in e.skill.task_kinds]
        if not claims and kind != FALLBACK_KIND:
            return self.for_kind(FALLBACK_KIND)
        if not claims:
            raise ConfigError(
                f"no skill applies to {kind!r} items and none covers {FALLBACK_KIND!r}: "
                "add a skill with task_kinds [general] or choose one with --skill"
            )
        top = max(e.layer for e in claims)
        best = sorted(e.skill.name for e in claims if e.layer == top)
        if len(best) > 1:
            raise ConfigError(
                f"skills {', '.join(best)} all apply to {kind!r} items: choose one with "
                "--skill NAME or drop the kind from the others' task_kinds"
            )
        return self._entries[best[0]].skill

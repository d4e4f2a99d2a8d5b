"""Validation problems of a skill package, and the error that carries all of them.

A package is checked in full before anything is raised, so ``rerank skills validate`` can
list every problem at once instead of making the author fix them one run at a time. Each
problem names the skill, the file and the field (``resources[2].type``), which is what an
author needs to find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rerank.errors import SkillError

__all__ = ["ProblemLog", "SkillError", "SkillProblem", "display_path"]


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute.

    Relative paths read as ``skills/math/resources.yaml`` in a checkout; absolute ones stay
    clickable everywhere else.
    """
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class SkillProblem:
    """One thing wrong with a skill package: where it is and what is wrong."""

    skill: str
    file: Path
    field: str | None
    message: str

    def __str__(self) -> str:
        where = display_path(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class ProblemLog:
    """Collects the problems of one package while it is being checked."""

    skill: str
    problems: list[SkillProblem] = field(default_factory=list)

    def add(self, file: Path, field: str | None, message: str) -> None:
        self.problems.append(SkillProblem(self.skill, file, field, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise SkillError(self.problems)

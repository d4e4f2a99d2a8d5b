"""The data model: what an item is, and what of it a judge may see.

An :class:`Item` holds the prompt, the candidates, the task (its kind and the resources a
judge may use) and the labels. Labels (scores and gold fields such as a reference
solution) are for reports and the simulated judge only: every other judge receives
:meth:`Item.public`, a copy without them. Readers build items through an explicit
allowlist (:data:`VISIBLE_RESOURCES`), so a field of a source row reaches a judge only when
it is named there or granted with ``expose``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "TASK_KINDS",
    "VISIBLE_RESOURCES",
    "Candidate",
    "Item",
    "Labels",
    "Task",
]

TASK_KINDS: tuple[str, ...] = ("math", "code", "instruction", "general")

#: Task resources a judge may see without any grant. Everything else in a source row
#: (scores, references, hidden tests, generator names, statuses, ...) stays in the labels.
VISIBLE_RESOURCES: frozenset[str] = frozenset(
    {
        "tests",  # tests a user supplies for code candidates
        "inputs",  # inputs for behaviour clustering of code candidates
        "entry_point",  # the function a code task asks for
        "instruction_id_list",  # IFEval instruction ids: part of the task, not gold
        "kwargs",  # their arguments
    }
)


@dataclass(frozen=True)
class Candidate:
    """One response. ``text`` is all a judge sees of it."""

    text: str


@dataclass(frozen=True)
class Task:
    """What kind of task an item is (``None``: not declared) and its visible resources."""

    kind: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Labels:
    """What only reports (and the simulated judge) may read.

    ``scores`` holds one label per candidate (``None`` where the row had none), ``gold``
    the row's hidden fields (a reference solution, hidden tests, ...), and ``candidates``
    each candidate's hidden metadata (generator, statuses, ...).
    """

    scores: tuple[float | None, ...] = ()
    gold: dict[str, Any] = field(default_factory=dict)
    candidates: tuple[dict[str, Any], ...] = ()

    @property
    def complete(self) -> bool:
        """Every candidate has a score."""
        return bool(self.scores) and all(s is not None for s in self.scores)


@dataclass(frozen=True)
class Item:
    """A prompt and its candidates, as read from ``source`` at ``line`` (1-based)."""

    id: str
    prompt: str
    candidates: tuple[Candidate, ...]
    task: Task = field(default_factory=Task)
    labels: Labels | None = None
    source: str | None = None
    line: int | None = None
    exposed: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.candidates)

    def public(self) -> Item:
        """The item as a judge may see it: the same item without its labels."""
        return replace(self, labels=None)

    @classmethod
    def from_texts(
        cls,
        prompt: str,
        candidates: list[str],
        *,
        id: str = "0",
        kind: str | None = None,
        resources: dict[str, Any] | None = None,
        scores: list[float | None] | None = None,
    ) -> Item:
        """Build an item in Python (the reader's validation is the caller's job here)."""
        labels = Labels(scores=tuple(scores)) if scores is not None else None
        return cls(
            id=id,
            prompt=prompt,
            candidates=tuple(Candidate(t) for t in candidates),
            task=Task(kind=kind, resources=dict(resources or {})),
            labels=labels,
        )

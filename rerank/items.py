"""The data model: what an item is, and what of it a judge may see.

An :class:`Item` holds the prompt, the candidates, the task (its kind and the resources a
judge may use) and the labels. Labels (scores and gold fields such as a reference
solution) are for reports and the simulated judge only: every other judge receives
:meth:`Item.public`, a copy without them. Readers build items through an explicit
allowlist (:data:`VISIBLE_RESOURCES`), so a field of a source row reaches a judge only when
it is named there or granted with ``expose``, and only in its shape
(:data:`RESOURCE_SHAPES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "RESOURCE_SHAPES",
    "TASK_KINDS",
    "VISIBLE_RESOURCES",
    "Candidate",
    "Item",
    "Labels",
    "ResourceShape",
    "Task",
    "resource_problem",
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
class ResourceShape:
    """The JSON a resource may hold: a value of one of ``whole``, or a list whose elements
    are of ``elements`` (``None``: no list). ``null`` always stands for an absent resource."""

    description: str
    whole: tuple[type, ...] = ()
    elements: tuple[type, ...] | None = None
    element_description: str = ""


#: The shapes of the resources a judge may receive, checked when rows are read: a resource
#: of another shape would otherwise reach a verifier and fail there, far from its row.
RESOURCE_SHAPES: dict[str, ResourceShape] = {
    "tests": ResourceShape("a string or a list of strings", (str,), (str,), "a string"),
    "inputs": ResourceShape("a list (of argument lists or strings)", (), (object,)),
    "entry_point": ResourceShape("a string", (str,)),
    "instruction_id_list": ResourceShape("a list of strings", (), (str,), "a string"),
    "kwargs": ResourceShape("a list of objects", (), (dict, type(None)), "an object or null"),
    "reference": ResourceShape("a string or a number", (str, int, float)),  # via --expose
}


def resource_problem(name: str, value: Any) -> tuple[str, str] | None:
    """Why ``value`` cannot be the resource ``name``: where inside it (``""`` or ``"[2]"``)
    and what is wrong; ``None`` when it can be, or when ``name`` has no known shape.

    Examples
    --------
    >>> resource_problem("tests", 5)
    ('', 'expected a string or a list of strings, got int')
    >>> resource_problem("tests", ["assert f()", 3])
    ('[1]', 'expected a string, got int')
    >>> resource_problem("entry_point", "add") is None
    True
    """
    shape = RESOURCE_SHAPES.get(name)
    if shape is None or value is None:
        return None
    if isinstance(value, shape.whole) and not isinstance(value, bool):  # JSON true is no number
        return None
    if shape.elements is None or not isinstance(value, list):
        return "", f"expected {shape.description}, got {type(value).__name__}"
    for i, element in enumerate(value):
        if not isinstance(element, shape.elements):
            return f"[{i}]", f"expected {shape.element_description}, got {type(element).__name__}"
    return None


def _unhashable(value: object) -> int:
    """Task, Labels and Item are frozen (no field is reassigned) but hold dicts, so they
    are not hashable; this says so, and what to key them by, instead of a TypeError about
    a dict from inside a generated ``__hash__``."""
    raise TypeError(
        f"{type(value).__name__} is not hashable (it holds dicts): key items by their id or "
        "by rerank.selector.content_id(item)"
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

    def __hash__(self) -> int:
        return _unhashable(self)


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

    def __hash__(self) -> int:
        return _unhashable(self)

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

    def __hash__(self) -> int:
        return _unhashable(self)

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

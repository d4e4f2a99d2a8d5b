"""Evidence: what a verifier found out about one candidate, without any LLM.

A verifier turns an item into one :class:`Evidence` per candidate. Evidence is a list of
:class:`Check` results (a visible test, an instruction, a reference match, an arithmetic
step), each pass / fail / error / timeout / unknown and either *hard* (decisive on its own:
a test, an explicit instruction id, a visible reference) or *soft* (a hint: a constraint
extracted from prose, a wrong-looking step), plus a *signature*: candidates with equal
signatures behave the same (same final answer, same outputs on the same inputs), which is
what consensus counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from rerank.items import Item

__all__ = ["STATUSES", "Check", "Evidence", "Output", "Status", "Verifier"]

Status = Literal["pass", "fail", "error", "timeout", "unknown"]
STATUSES: tuple[str, ...] = ("pass", "fail", "error", "timeout", "unknown")


@dataclass(frozen=True)
class Check:
    """One verified fact about a candidate.

    ``id`` is stable and citable (``"test:2"``, ``"ifeval:change_case:english_lowercase"``,
    ``"reference"``, ``"step:3"``); ``detail`` says what happened in a line (the failing
    case, a short error).
    """

    id: str
    status: Status
    hard: bool = True
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        """Failed, errored or timed out: the candidate did not do what was checked."""
        return self.status in ("fail", "error", "timeout")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "hard": self.hard, "detail": self.detail}


@dataclass(frozen=True)
class Output:
    """What a candidate gave for one behaviour probe (code): the ``call`` as source, what
    it gave as a person reads it (``result``: ``returns [1, 2]``, ``raises ValueError``),
    and ``key``, equal for candidates whose results the signature counts as equal."""

    call: str
    result: str
    key: str


@dataclass(frozen=True)
class Evidence:
    """Everything one verifier established about one candidate.

    ``outputs``: what it gave on each behaviour probe, in probe order (code; empty for
    other verifiers). Not in :meth:`to_dict`: the signature stands for them there."""

    verifier: str
    checks: tuple[Check, ...] = ()
    signature: str | None = None
    notes: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = ()

    def count(self, status: str, *, hard: bool | None = None) -> int:
        """How many checks have ``status`` (only hard or only soft ones, if ``hard`` says)."""
        return sum(
            1 for c in self.checks if c.status == status and (hard is None or c.hard == hard)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier,
            "checks": [c.to_dict() for c in self.checks],
            "signature": self.signature,
            "notes": list(self.notes),
        }


class Verifier(Protocol):
    """Turns an item into evidence for each of its candidates.

    ``applies`` says whether the verifier has anything to check on the item; ``verify``
    sees the item as a judge does (``item.public()``: no labels) and returns one
    :class:`Evidence` per candidate, in candidate order. The built-in verifiers also say
    which undeclared items are theirs (``claims_resources``, ``claims_content``), which
    :mod:`rerank.verifiers.router` asks in order to name an item's kind.
    """

    name: str

    def applies(self, item: Item) -> bool: ...

    def verify(self, item: Item) -> list[Evidence]: ...

"""The judge protocol, its verdicts, and the registry behind ``--judge NAME[:ARGS]``.

A judge answers two questions about an item: which of two candidates is better
(:meth:`Judge.compare`, a :class:`Verdict`), and how good one candidate is
(:meth:`Judge.score`, a :class:`Score`). Both are async; :class:`BaseJudge` adds the sync
wrappers. A verdict that could not be reached is ``winner="invalid"`` with a reason, never a
silent tie or coin flip.

Judges register under the name the CLI accepts::

    @register_judge("simulated")
    class SimulatedJudge(BaseJudge): ...

and :func:`create_judge` rebuilds one from a spec such as ``"simulated:0.8"`` or
``"simulated:accuracy=0.8,seed=3"`` (the spec a report records).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from rerank.errors import ConfigError
from rerank.items import Item
from rerank.llm.redact import redact_spec

__all__ = [
    "JUDGES",
    "BaseJudge",
    "Cost",
    "Judge",
    "Score",
    "Verdict",
    "create_judge",
    "parse_spec",
    "register_judge",
]


@dataclass(frozen=True)
class Cost:
    """What a verdict cost: LLM calls, tokens and wall seconds (zeros for free judges)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(x + y for x, y in zip(astuple(self), astuple(other), strict=True)))


def _without_empty(record: Any, keep: tuple[str, ...]) -> dict[str, Any]:
    """A verdict or score as a JSON-ready dict, leaving out empty fields (except ``keep``)."""
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(record).items()}
    return {k: v for k, v in data.items() if k in keep or v not in (None, "", [])}


@dataclass(frozen=True)
class Verdict:
    """A pairwise judgement of candidates ``a`` (shown first) and ``b``.

    ``winner`` is ``"a"``, ``"b"``, ``"tie"`` or ``"invalid"``; ``evidence`` the ids of the
    evidence the verdict cites; ``judge`` names what decided (a judge may delegate);
    ``flags`` records what is wrong with an otherwise usable verdict (e.g. it cites evidence
    that does not exist).
    """

    winner: str
    reason: str = ""
    confidence: float | None = None
    evidence: tuple[str, ...] = ()
    raw: str | None = None
    judge: str = ""
    cost: Cost = field(default_factory=Cost)
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _without_empty(self, keep=())


@dataclass(frozen=True)
class Score:
    """A pointwise judgement; ``value`` is ``None`` when no valid score was reached."""

    value: float | None
    reason: str = ""
    evidence: tuple[str, ...] = ()
    raw: str | None = None
    judge: str = ""
    cost: Cost = field(default_factory=Cost)
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _without_empty(self, keep=("value",))  # a None value says "invalid"


@runtime_checkable
class Judge(Protocol):
    """What every judge provides. ``reads_labels`` is true only for judges that may see
    labels (the simulated one); every other judge receives items without them."""

    spec: str
    reads_labels: bool

    async def compare(self, item: Item, a: int, b: int) -> Verdict: ...

    async def score(self, item: Item, index: int) -> Score: ...

    async def aclose(self) -> None: ...


class BaseJudge:
    """Shared plumbing: sync wrappers over the async methods, and a no-op close."""

    name: ClassVar[str] = ""
    reads_labels: ClassVar[bool] = False
    spec: str = ""

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        raise NotImplementedError

    async def score(self, item: Item, index: int) -> Score:
        return Score(
            None, reason=f"the {self.name} judge does not score single candidates", judge=self.name
        )

    async def aclose(self) -> None:
        return None

    async def explain(self, item: Item) -> dict[str, Any] | None:
        """What the judge established about the item as a whole (for the trace), if anything."""
        return None

    def compare_sync(self, item: Item, a: int, b: int) -> Verdict:
        """Blocking :meth:`compare`, for code without an event loop."""
        return asyncio.run(self.compare(item, a, b))

    def score_sync(self, item: Item, index: int) -> Score:
        """Blocking :meth:`score`, for code without an event loop."""
        return asyncio.run(self.score(item, index))


JUDGES: dict[str, Callable[..., Judge]] = {}


def register_judge(name: str) -> Callable[[type], type]:
    """Class decorator: make a judge available as ``--judge name``."""

    def decorate(cls: type) -> type:
        cls.name = name
        JUDGES[name] = cls
        return cls

    return decorate


def parse_spec(spec: str) -> tuple[str, list[str], dict[str, str]]:
    """Split ``"name:pos,key=value"`` into its name, positional and keyword arguments."""
    name, _, rest = spec.strip().partition(":")
    args: list[str] = []
    kwargs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if eq:
            kwargs[key.strip()] = value.strip()
        elif kwargs:
            raise ConfigError(f"judge spec {spec!r}: positional {part!r} after keywords")
        else:
            args.append(part)
    return name, args, kwargs


def create_judge(spec: str, **options: Any) -> Judge:
    """Build a judge from its spec (``--judge``); ``options`` are passed through."""
    name, args, kwargs = parse_spec(spec)
    if name not in JUDGES:
        known = ", ".join(sorted(JUDGES))
        raise ConfigError(f"unknown judge {name!r} (choose from {known})")
    try:
        judge = JUDGES[name](*args, **kwargs, **options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"judge spec {redact_spec(spec)!r}: {redact_spec(str(exc))}") from exc
    judge.spec = redact_spec(spec.strip())  # a base_url or an api_key in it is a secret
    return judge

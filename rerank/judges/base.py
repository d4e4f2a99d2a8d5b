"""The judge protocol, its verdicts, and the registry behind ``--judge NAME[:ARGS]``.

A judge answers two questions about an item: which of two candidates is better
(:meth:`Judge.compare`, a :class:`Verdict`), and how good one candidate is
(:meth:`Judge.score`, a :class:`Score`). Both are async; :class:`BaseJudge` adds the sync
wrappers. A verdict that could not be reached is ``winner="invalid"`` with a reason, never a
silent tie or coin flip.

Judges register under the name the CLI accepts::

    @register_judge("simulated")
    class SimulatedJudge(BaseJudge):
        Options = SimulatedOptions

and :func:`create_judge` rebuilds one from a spec such as ``"simulated:0.8"`` or
``"simulated:accuracy=0.8,seed=3"`` (the spec a report records): the spec's strings become
the judge's typed options once, there (:mod:`rerank.judges.options`), and the judge writes
its ``spec`` back from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges.options import JudgeOptions
from rerank.llm.redact import redact_spec

__all__ = [
    "JUDGES",
    "JUDGE_OPTIONS",
    "VIAS",
    "BaseJudge",
    "Cost",
    "Judge",
    "Score",
    "Verdict",
    "Via",
    "create_judge",
    "parse_spec",
    "register_judge",
]

#: Where a model judge's verdict came from (``None``: a judge without such stages decided
#: it itself: the evidence, consensus, simulated and callable judges).
Via = Literal["model", "cache", "dedup", "evidence", "own-answer"]
VIAS: tuple[Via, ...] = ("model", "cache", "dedup", "evidence", "own-answer")


@dataclass(frozen=True)
class Cost:
    """What a verdict cost: LLM calls, tokens and wall seconds (zeros for free judges).

    ``cached_tokens`` counts the prompt tokens the server took from its prompt cache
    instead of processing them (as servers report them); ``prompt_tokens - cached_tokens``
    were processed."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached_tokens: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(x + y for x, y in zip(astuple(self), astuple(other), strict=True)))


def _without_empty(record: Any, keep: tuple[str, ...]) -> dict[str, Any]:
    """A verdict or score as a JSON-ready dict, leaving out empty fields (except ``keep``)
    and a cost's ``cached_tokens`` when no server reported any."""
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(record).items()}
    cost = data.get("cost")
    if isinstance(cost, dict) and not cost.get("cached_tokens"):
        cost.pop("cached_tokens", None)
    return {k: v for k, v in data.items() if k in keep or v not in (None, "", [])}


@dataclass(frozen=True)
class Verdict:
    """A pairwise judgement of candidates ``a`` (shown first) and ``b``.

    ``winner`` is ``"a"``, ``"b"``, ``"tie"`` or ``"invalid"``; ``evidence`` the ids of the
    evidence the verdict cites; ``judge`` names what decided (a judge may delegate: the
    LLM judge names its skill, ``llm:math``); ``flags`` records what is wrong with an
    otherwise usable verdict (e.g. it cites evidence that does not exist).

    ``via`` says how a model judge reached it (:data:`Via`): ``"model"`` (a request),
    ``"cache"`` (the verdict cache), ``"dedup"`` (an equivalent pair's verdict, or a tie
    within one cluster), ``"evidence"`` (hard evidence decided in place of the model) or
    ``"own-answer"`` (the model's own solution decided). Judges without these stages
    (evidence, consensus, simulated, callable) leave it ``None``.

    ``probability`` is the judge's probability that ``a`` is the better of the two, when it
    has one (a model judge reading its verdict from log-probabilities); strategies that
    can weigh a verdict use it (round-robin's Bradley-Terry, knockout's confidence).
    ``None`` for a verdict without one.
    """

    winner: str
    reason: str = ""
    confidence: float | None = None
    evidence: tuple[str, ...] = ()
    raw: str | None = None
    judge: str = ""
    cost: Cost = field(default_factory=Cost)
    flags: tuple[str, ...] = ()
    via: Via | None = None
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_empty(self, keep=())


@dataclass(frozen=True)
class Score:
    """A pointwise judgement; ``value`` is ``None`` when no valid score was reached.
    ``via`` is as for :class:`Verdict`."""

    value: float | None
    reason: str = ""
    evidence: tuple[str, ...] = ()
    raw: str | None = None
    judge: str = ""
    cost: Cost = field(default_factory=Cost)
    flags: tuple[str, ...] = ()
    via: Via | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_empty(self, keep=("value",))  # a None value says "invalid"


@runtime_checkable
class Judge(Protocol):
    """What every judge provides. ``reads_labels`` is true only for judges that may see
    labels (the simulated one); every other judge receives items without them.

    ``explain`` gives what the judge established about an item as a whole, for the trace
    (``None``: nothing). :class:`BaseJudge` provides it; a judge object of the caller's own
    may leave it out, and is then asked nothing.
    """

    spec: str

    @property
    def reads_labels(self) -> bool: ...

    async def compare(self, item: Item, a: int, b: int) -> Verdict: ...

    async def score(self, item: Item, index: int) -> Score: ...

    async def explain(self, item: Item) -> dict[str, Any] | None: ...

    async def aclose(self) -> None: ...


class BaseJudge:
    """Shared plumbing: sync wrappers over the async methods, a no-op close, and the spec
    written from the judge's options (:attr:`Options`, when it has them)."""

    name: ClassVar[str] = ""
    reads_labels: ClassVar[bool] = False
    #: The judge's options dataclass; :func:`create_judge` reads a spec into it.
    Options: ClassVar[type[JudgeOptions] | None] = None
    spec: str = ""

    def use_options(self, options: JudgeOptions) -> None:
        """Keep ``options`` and write the spec from them (the one place a spec is made)."""
        self.options = options
        self.spec = options.to_spec(self.name)

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


#: Every judge by the name ``--judge`` takes: its class, or a function that imports it.
JUDGES: dict[str, Callable[..., Judge]] = {}
JudgeT = TypeVar("JudgeT", bound=BaseJudge)
#: The options dataclass of each judge that has one (a spec is read into it).
JUDGE_OPTIONS: dict[str, type[JudgeOptions]] = {}


def register_judge(name: str) -> Callable[[type[JudgeT]], type[JudgeT]]:
    """Class decorator: make a judge available as ``--judge name``.

    Parameters
    ----------
    name : the name ``--judge`` and :func:`create_judge` take; set as ``cls.name``.

    Notes
    -----
    A judge class with ``Options`` (a :class:`~rerank.judges.options.JudgeOptions`) gets
    its spec read into them and is built as ``cls(options=..., **arguments)``; one without
    gets the spec's strings as constructor arguments.
    """

    def decorate(cls: type[JudgeT]) -> type[JudgeT]:
        cls.name = name
        JUDGES[name] = cls
        options = getattr(cls, "Options", None)
        if options is not None:
            JUDGE_OPTIONS[name] = options
        return cls

    return decorate


def parse_spec(spec: str) -> tuple[str, list[str], dict[str, str]]:
    """Split a judge spec into its name, positional and keyword arguments, as strings.

    Parameters
    ----------
    spec : ``"name"`` or ``"name:pos,...,key=value,..."``.

    Returns
    -------
    tuple of the name, the positional arguments and the keyword arguments.

    Raises
    ------
    ConfigError
        for a positional argument after a keyword one.

    Examples
    --------
    >>> parse_spec("simulated:0.8,seed=3")
    ('simulated', ['0.8'], {'seed': '3'})
    """
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


def create_judge(spec: str, **arguments: Any) -> Judge:
    """Build a judge from its spec (``--judge``).

    Parameters
    ----------
    spec : ``name``, or ``name:positional,...,key=value,...`` (``"llm:max_steps=3"``).
    **arguments : more constructor arguments, as values: options the spec does not record
        (``base_url``, ``cache``, ``timeout``, ...) and collaborators (``evidence``).

    Returns
    -------
    Judge whose ``spec`` rebuilds it (with the same ``arguments``); credentials in it are
    masked.

    Raises
    ------
    ConfigError
        for an unknown judge, an unknown option or a bad value (naming the option), or an
        option given both in the spec and as an argument.
    """
    name, args, kwargs = parse_spec(spec)
    if name not in JUDGES:
        known = ", ".join(sorted(JUDGES))
        raise ConfigError(f"unknown judge {name!r} (choose from {known})")
    shown = redact_spec(spec.strip())  # a base_url or an api_key in it is a secret
    options_type = JUDGE_OPTIONS.get(name)
    try:
        if options_type is None:  # a judge that reads its spec's strings itself
            judge = JUDGES[name](*args, **kwargs, **arguments)
            judge.spec = shown
            return judge
        try:
            given = options_type.from_spec(args, kwargs, judge=name)
        except ConfigError as exc:
            raise ConfigError(f"judge spec {shown!r}: {redact_spec(str(exc))}") from None
        twice = sorted(set(given.recorded()) & set(arguments))
        if twice:
            raise ConfigError(f"judge spec {shown!r}: {twice[0]} is given in it and as an argument")
        return JUDGES[name](options=given, **arguments)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"judge spec {shown!r}: {redact_spec(str(exc))}") from exc

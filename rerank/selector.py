"""Selecting the best candidate of one item: a strategy, a judge, and the record of both.

This is where the label boundary is enforced: a judge receives ``item.public()`` (no
labels) unless it declares ``reads_labels`` (only the simulated judge does), and every
result says whether labels were used.

Python users call :func:`select` (or :func:`aselect` inside an event loop)::

    from rerank import select
    best = select("What is 2+3?", ["2+3=5. #### 5", "#### 6", "It is 5. #### 5"])
    best.winner  # a candidate answering 5: evidence (answer agreement) separates them
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import tournaments
from rerank.answers import vote_keys
from rerank.errors import ConfigError, InputError
from rerank.items import TASK_KINDS, Item, resource_problem
from rerank.judges import BaseJudge, EvidenceJudge, Judge, Score, create_judge, parse_spec
from rerank.judges.callables import as_judge
from tournaments import Selection

__all__ = [
    "AGGREGATES",
    "DEFAULT_JUDGE",
    "LOCAL_DEFAULT_JUDGE",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "ItemResult",
    "StrategyConfig",
    "aselect",
    "build_item",
    "content_id",
    "item_seed",
    "default_judge_spec",
    "judge_options",
    "resolve_judge",
    "select",
    "select_item",
    "vote_signatures",
]

STRATEGIES: tuple[str, ...] = tuple(tournaments.STRATEGIES)
AGGREGATES: tuple[str, ...] = ("win_rate", "copeland", "bradley_terry")
#: The judge pairwise and pointwise strategies use when none is named: verifier evidence,
#: no LLM, no labels; with the local model installed, LOCAL_DEFAULT_JUDGE instead
#: (:func:`default_judge_spec`).
DEFAULT_JUDGE = "evidence"
LOCAL_DEFAULT_JUDGE = "evidence+local"
#: Set to 0 to keep the default judge evidence-only where the local model is installed.
AUTO_LOCAL_ENV = "RERANK_AUTO_LOCAL"
DEFAULT_STRATEGY = "knockout"
#: What vote groups candidates by: the evidence signature (behaviour cluster for code, answer
#: class for math), as the report's majority baseline; final answers where no verifier applies.
VOTE_KEY = "evidence-signature"


@dataclass(frozen=True)
class StrategyConfig:
    """A strategy and its options, as ``--strategy`` and friends give them."""

    name: str = DEFAULT_STRATEGY
    seed: int = 0
    both_orders: bool = False
    aggregate: str = "win_rate"
    checkpoints: tuple[int, ...] = (1, 2, 4, 8)

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.name!r} (choose from {', '.join(STRATEGIES)})"
            )
        if self.aggregate not in AGGREGATES:
            raise ConfigError(
                f"unknown aggregation {self.aggregate!r} (choose from {', '.join(AGGREGATES)})"
            )

    @property
    def pairwise(self) -> bool:
        return self.name in tournaments.PAIRWISE

    def options(self) -> dict[str, Any]:
        """The options that matter for this strategy (recorded in every output row)."""
        if self.name == "vote":
            return {"key": VOTE_KEY}
        opts: dict[str, Any] = {}
        if self.pairwise:
            opts["both_orders"] = self.both_orders
        if self.name == "round-robin":
            opts["aggregate"] = self.aggregate
        if self.name == "sequential":
            opts["checkpoints"] = list(self.checkpoints)
        return opts


@dataclass
class ItemResult:
    """One item's selection with what it cost and what the judge said outside matches."""

    item: Item
    selection: Selection
    config: StrategyConfig
    judge_spec: str | None
    labels_used: bool
    elapsed: float
    scores: list[Score] = field(default_factory=list)
    vote_keys: list[str | None] = field(default_factory=list)
    explanation: dict[str, Any] | None = None


def item_seed(seed: int, item: Item) -> int:
    """The seed of one item: fixed by the run seed and the item's id.

    Not by processing order (so concurrency cannot change results), and not by the file's
    path (so the same file gives the same selections wherever it lives).
    """
    text = f"{seed}|{item.id}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def content_id(prompt: str, candidates: Sequence[str]) -> str:
    """An id for an item given without one: a digest of its prompt and candidates.

    >>> content_id("q", ["a", "b"]) == content_id("q", ["a", "b"]) != content_id("q", ["b", "a"])
    True
    """
    digest = hashlib.blake2b(digest_size=12)
    for text in (prompt, *candidates):
        digest.update(len(text).to_bytes(8, "big") + text.encode("utf-8", "surrogatepass"))
    return "content:" + digest.hexdigest()


def default_judge_spec() -> str:
    """The judge used when none is named: evidence, then the local model where the evidence
    ties (``evidence+local``) when that model can run here (``pip install -e '.[local]'``
    and ``$RERANK_AUTO_LOCAL`` is not 0), else evidence alone (ties stay explicit ties)."""
    if os.environ.get(AUTO_LOCAL_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return DEFAULT_JUDGE
    from rerank.local.models import DEFAULT_MODEL, available

    return LOCAL_DEFAULT_JUDGE if available(DEFAULT_MODEL) else DEFAULT_JUDGE


#: Judges that take the evidence judge they build on as ``evidence=``.
_BUILT_ON_EVIDENCE = ("llm", "local", "evidence+local")


def judge_options(spec: str, *, exec_python: str | None = None) -> dict[str, Any]:
    """The options that make judge ``spec`` run code candidates on ``exec_python`` (an
    execution environment's interpreter); none for judges that run no code."""
    if exec_python is None:
        return {}
    name = parse_spec(spec)[0]
    if name == "evidence":
        return {"exec_python": exec_python}
    if name in _BUILT_ON_EVIDENCE:
        return {"evidence": EvidenceJudge(exec_python=exec_python)}
    return {}


def resolve_judge(
    judge: Judge | str | Any | None, config: StrategyConfig, *, exec_python: str | None = None
) -> Judge | None:
    """The judge a strategy needs: ``None`` for vote, the default when none is named.
    A judge named by its spec runs code candidates on ``exec_python`` (default: the
    sandbox's own interpreter); a judge object comes as it was built; a plain function
    (compare, score or TRL batch judge) is wrapped by its shape
    (:func:`rerank.judges.callables.as_judge`, a ``TypeError`` for a wrong shape)."""
    if config.name == "vote":
        return None
    if judge is None:
        judge = default_judge_spec()
    if isinstance(judge, str):
        return create_judge(judge, **judge_options(judge, exec_python=exec_python))
    return as_judge(judge)


async def vote_signatures(
    item: Item, evidence: EvidenceJudge | None = None
) -> tuple[str, list[str | None]]:
    """The task kind of ``item`` and the key each candidate votes with.

    The key is the candidate's evidence signature, as in the report's majority baseline:
    its behaviour cluster for code (outputs on the item's probes), its answer class for
    math (answers math-verify finds equivalent share one); ``None`` (abstain) without
    one. Where no verifier applies (a general item), candidates vote with their stated
    final answers (:func:`rerank.answers.vote_keys`). ``evidence`` computes the evidence
    (default: a fresh evidence judge, closed before returning).
    """
    judge = evidence if evidence is not None else EvidenceJudge()
    try:
        kind, stand = await judge.assess(item)
    finally:
        if evidence is None:
            await judge.aclose()
    if all(s.evidence is None for s in stand):
        return kind, vote_keys(c.text for c in item.candidates)
    return kind, [s.evidence.signature if s.evidence is not None else None for s in stand]


def _scores_single(judge: Judge) -> bool:
    """Whether ``judge`` scores single candidates (a judge built on BaseJudge that keeps its
    default ``score`` only compares)."""
    return not (isinstance(judge, BaseJudge) and type(judge).score is BaseJudge.score)


def _checked_verdict(judge: Judge, verdict: Any) -> Any:
    if isinstance(verdict, str) or hasattr(verdict, "winner"):
        return verdict
    raise TypeError(
        f"judge {judge.spec!r}: compare() returned {verdict!r}; expected a rerank.judges.Verdict"
    )


def _checked_score(judge: Judge, score: Any) -> Score:
    if hasattr(score, "value"):
        return score
    raise TypeError(
        f"judge {judge.spec!r}: score() returned {score!r}; expected a rerank.judges.Score "
        "(Score(None, reason=...) when it cannot score)"
    )


async def select_item(
    item: Item,
    config: StrategyConfig,
    judge: Judge | None,
    *,
    limiter: asyncio.Semaphore | None = None,
    evidence: EvidenceJudge | None = None,
) -> ItemResult:
    """Run one strategy on one item. ``limiter`` caps concurrent judge calls across items;
    ``evidence`` is where vote reads its keys (:func:`vote_signatures`; default: an evidence
    judge of its own for this item)."""
    start = time.perf_counter()
    seed = item_seed(config.seed, item)
    labels_used = bool(judge is not None and judge.reads_labels)
    view = item if labels_used else item.public()
    result = ItemResult(
        item=item,
        selection=None,
        config=config,  # type: ignore[arg-type]
        judge_spec=judge.spec if judge is not None else None,
        labels_used=labels_used,
        elapsed=0.0,
    )
    if config.name == "vote":
        # No signature (no answer, code that did not run) abstains: abstainers share no
        # key, and ties go to the seeded order (tournaments.vote), never to index 0.
        kind, result.vote_keys = await vote_signatures(item.public(), evidence)
        result.explanation = {"task_kind": kind}
        selection = await tournaments.vote(item.n, result.vote_keys.__getitem__, seed=seed)
    elif judge is None:
        raise ConfigError(f"strategy {config.name!r} needs a judge")
    elif config.name == "pointwise":
        if not _scores_single(judge):
            raise ConfigError(
                f"strategy 'pointwise' needs a judge that scores single candidates; "
                f"{judge.spec!r} only compares pairs (choose a pairwise strategy)"
            )
        result.scores = [None] * item.n  # type: ignore[list-item]

        async def score(i: int) -> Score:
            async with limiter or _NO_LIMIT:
                s = _checked_score(judge, await judge.score(view, i))
            result.scores[i] = s
            return s

        selection = await tournaments.pointwise(item.n, score, seed=seed)
    else:

        async def compare(a: int, b: int) -> Any:
            async with limiter or _NO_LIMIT:
                return _checked_verdict(judge, await judge.compare(view, a, b))

        strategy = tournaments.STRATEGIES[config.name]
        kwargs: dict[str, Any] = {"seed": seed, "both_orders": config.both_orders}
        if config.name == "round-robin":
            kwargs["aggregate"] = config.aggregate
        if config.name == "sequential":
            kwargs["checkpoints"] = config.checkpoints
        selection = await strategy(item.n, compare, **kwargs)
    result.selection = selection
    explain = getattr(judge, "explain", None)  # optional: not every judge has more to say
    if explain is not None:
        result.explanation = await explain(view)
    result.elapsed = time.perf_counter() - start
    return result


def build_item(
    prompt: str,
    candidates: Sequence[str],
    *,
    id: str | int | None = None,
    kind: str | None = None,
    resources: dict[str, Any] | None = None,
    scores: Sequence[float | None] | None = None,
    where: str = "select",
) -> Item:
    """An item from Python values, checked as a reader checks a row (an
    :class:`~rerank.errors.InputError` naming ``where`` and the field); without an ``id``,
    its :func:`content_id`."""

    def bad(field: str, message: str) -> InputError:
        return InputError(message, file=where, field=field)

    if not isinstance(prompt, str):
        raise bad("prompt", f"expected a string, got {type(prompt).__name__}")
    if isinstance(candidates, str | bytes) or not isinstance(candidates, Sequence):
        raise bad("candidates", f"expected a list of strings, got {type(candidates).__name__}")
    texts = list(candidates)
    if not texts:
        raise bad("candidates", "no candidates to select from")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise bad(f"candidates[{i}]", f"expected a string, got {type(text).__name__}")
    if kind is not None and kind not in TASK_KINDS:
        raise bad("kind", f"unknown task kind {kind!r} (choose from {', '.join(TASK_KINDS)})")
    for name, value in (resources or {}).items():
        problem = resource_problem(name, value)
        if problem is not None:
            raise bad(f"resources.{name}{problem[0]}", problem[1])
    if scores is not None and len(scores) != len(texts):
        raise bad("scores", f"expected {len(texts)} scores, one per candidate, got {len(scores)}")
    return Item.from_texts(
        prompt,
        texts,
        id=str(id) if id is not None else content_id(prompt, texts),
        kind=kind,
        resources=resources,
        scores=list(scores) if scores is not None else None,
    )


class _NoLimit:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


async def aselect(
    prompt: str,
    candidates: Sequence[str],
    *,
    strategy: str = DEFAULT_STRATEGY,
    judge: Judge | str | None = None,
    seed: int = 0,
    id: str | None = None,
    kind: str | None = None,
    resources: dict[str, Any] | None = None,
    scores: Sequence[float | None] | None = None,
    **options: Any,
) -> Selection:
    """Pick the best of ``candidates`` for ``prompt`` (async).

    Ties and display orders follow a seed of this item's own, made from ``seed`` and
    ``id`` as in a file run; without an ``id``, from the prompt and the candidates
    (:func:`content_id`), so a rerun reproduces and different prompts differ.
    ``options`` are :class:`StrategyConfig` fields (``both_orders``, ``aggregate``,
    ``checkpoints``). ``scores`` are labels, read only by the simulated judge.
    """
    if not candidates:
        raise ConfigError("no candidates to select from")
    config = StrategyConfig(name=strategy, seed=seed, **options)
    item = build_item(prompt, candidates, id=id, kind=kind, resources=resources, scores=scores)
    chosen = resolve_judge(judge, config)
    evidence = judge if isinstance(judge, EvidenceJudge) else None  # vote's keys
    try:
        return (await select_item(item, config, chosen, evidence=evidence)).selection
    finally:
        if chosen is not None and chosen is not judge:
            await chosen.aclose()


def select(prompt: str, candidates: Sequence[str], **kwargs: Any) -> Selection:
    """Pick the best of ``candidates`` for ``prompt``: a blocking :func:`aselect`."""
    return asyncio.run(aselect(prompt, candidates, **kwargs))

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
from contextlib import nullcontext
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
    "DEFAULT_STRATEGY",
    "LOCAL_DEFAULT_JUDGE",
    "MODEL_JUDGES",
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
AGGREGATES: tuple[str, ...] = tuple(tournaments.AGGREGATES)
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

    Parameters
    ----------
    seed : the run seed.
    item : the item; only its id is read.

    Returns
    -------
    A 64-bit seed.

    Notes
    -----
    Not fixed by processing order (so concurrency cannot change results), nor by the file's
    path (so the same file gives the same selections wherever it lives).

    Examples
    --------
    >>> a = Item.from_texts("q", ["x"], id="7")
    >>> item_seed(0, a) == item_seed(0, Item.from_texts("other", ["y"], id="7"))
    True
    """
    text = f"{seed}|{item.id}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def content_id(prompt: str, candidates: Sequence[str]) -> str:
    """An id for an item given without one: a digest of its prompt and candidates.

    Parameters
    ----------
    prompt : the item's prompt.
    candidates : the candidates' texts, in order (another order is another id).

    Returns
    -------
    ``"content:"`` and 24 hex digits.

    Examples
    --------
    >>> content_id("q", ["a", "b"]) == content_id("q", ["a", "b"]) != content_id("q", ["b", "a"])
    True
    """
    digest = hashlib.blake2b(digest_size=12)
    for text in (prompt, *candidates):
        digest.update(len(text).to_bytes(8, "big") + text.encode("utf-8", "surrogatepass"))
    return "content:" + digest.hexdigest()


def default_judge_spec() -> str:
    """The spec of the judge used when none is named.

    Returns
    -------
    :data:`LOCAL_DEFAULT_JUDGE` (evidence, then the local model where the evidence ties)
    when that model can run here (``pip install -e '.[local]'``) and
    ``$RERANK_AUTO_LOCAL`` is not 0; else :data:`DEFAULT_JUDGE` (evidence alone: ties stay
    explicit ties).
    """
    if os.environ.get(AUTO_LOCAL_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return DEFAULT_JUDGE
    from rerank.local.models import DEFAULT_MODEL, available

    return LOCAL_DEFAULT_JUDGE if available(DEFAULT_MODEL) else DEFAULT_JUDGE


#: Judges that ask a model: they take the LLM options (``--model``, ``--skill``, ...) and the
#: evidence judge they build on (``evidence=``); all but ``llm`` run the model in this process.
MODEL_JUDGES: tuple[str, ...] = ("llm", "local", "evidence+local")


def judge_options(spec: str, *, exec_python: str | None = None) -> dict[str, Any]:
    """The options that make judge ``spec`` run code candidates on ``exec_python``.

    Parameters
    ----------
    spec : a judge spec, ``NAME[:ARGS]``.
    exec_python : an execution environment's interpreter (None: the sandbox's own).

    Returns
    -------
    Keyword arguments for :func:`rerank.judges.create_judge`; none for judges that run no
    code, or without ``exec_python``.
    """
    if exec_python is None:
        return {}
    name = parse_spec(spec)[0]
    if name == "evidence":
        return {"exec_python": exec_python}
    if name in MODEL_JUDGES:
        return {"evidence": EvidenceJudge(exec_python=exec_python)}
    return {}


def resolve_judge(
    judge: Judge | str | Any | None, config: StrategyConfig, *, exec_python: str | None = None
) -> Judge | None:
    """The judge a strategy needs.

    Parameters
    ----------
    judge : a spec, a judge object (used as built), a plain function (compare, score or
        TRL batch judge, wrapped by its shape: :func:`rerank.judges.callables.as_judge`),
        or None for :func:`default_judge_spec`.
    config : the strategy; vote takes no judge.
    exec_python : where a judge named by its spec runs code candidates (default: the
        sandbox's own interpreter).

    Returns
    -------
    The judge, or None for vote.

    Raises
    ------
    ConfigError
        An unknown judge name or bad judge arguments.
    TypeError
        A function of no judge shape.
    """
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

    Parameters
    ----------
    item : the item (a judge's view: no labels).
    evidence : the evidence judge that computes the signatures (default: a fresh one,
        closed before returning).

    Returns
    -------
    The task kind, and one key per candidate (None: it abstains).

    Notes
    -----
    The key is the candidate's evidence signature, as in the report's majority baseline:
    its behaviour cluster for code (outputs on the item's probes), its answer class for
    math (answers math-verify finds equivalent share one); ``None`` without one. Where no
    verifier applies (a general item), candidates vote with their stated final answers
    (:func:`rerank.answers.vote_keys`).
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
    explain: bool = True,
) -> ItemResult:
    """Run one strategy on one item.

    Parameters
    ----------
    item : the item, labels included: the judge sees ``item.public()`` unless it
        declares ``reads_labels``.
    config : the strategy and its options.
    judge : the judge (None only for vote).
    limiter : caps concurrent judge calls across items.
    evidence : where vote reads its keys (:func:`vote_signatures`; default: an evidence
        judge of its own for this item).
    explain : ask the judge for its explanation (the trace's); a report's subsamples,
        which keep only the pick, skip it.

    Returns
    -------
    The selection, with the judge's spec, whether labels were used, the scores (pointwise)
    or vote keys (vote), the judge's explanation and the time taken.

    Raises
    ------
    ConfigError
        A pairwise or pointwise strategy without a judge; pointwise with a judge that only
        compares.
    TypeError
        A judge that returns no Verdict (compare) or Score (score).
    """
    start = time.perf_counter()
    seed = item_seed(config.seed, item)
    labels_used = bool(judge is not None and judge.reads_labels)
    view = item if labels_used else item.public()
    keys: list[str | None] = []
    scores: dict[int, Score] = {}
    explanation: dict[str, Any] | None = None
    if config.name == "vote":
        # No signature (no answer, code that did not run) abstains: abstainers share no
        # key, and ties go to the seeded order (tournaments.vote), never to index 0.
        kind, keys = await vote_signatures(item.public(), evidence)
        explanation = {"task_kind": kind}
        selection = await tournaments.vote(item.n, keys.__getitem__, seed=seed)
    elif judge is None:
        raise ConfigError(f"strategy {config.name!r} needs a judge")
    elif config.name == "pointwise":
        if not _scores_single(judge):
            raise ConfigError(
                f"strategy 'pointwise' needs a judge that scores single candidates; "
                f"{judge.spec!r} only compares pairs (choose a pairwise strategy)"
            )

        async def score(i: int) -> Score:
            async with limiter or nullcontext():
                scores[i] = _checked_score(judge, await judge.score(view, i))
            return scores[i]

        selection = await tournaments.pointwise(item.n, score, seed=seed)
    else:

        async def compare(a: int, b: int) -> Any:
            async with limiter or nullcontext():
                return _checked_verdict(judge, await judge.compare(view, a, b))

        strategy = tournaments.STRATEGIES[config.name]
        kwargs: dict[str, Any] = {"seed": seed, "both_orders": config.both_orders}
        if config.name == "round-robin":
            kwargs["aggregate"] = config.aggregate
        if config.name == "sequential":
            kwargs["checkpoints"] = config.checkpoints
        selection = await strategy(item.n, compare, **kwargs)
    explainer = getattr(judge, "explain", None) if explain else None  # not every judge has one
    if explainer is not None:
        explanation = await explainer(view)
    return ItemResult(
        item=item,
        selection=selection,
        config=config,
        judge_spec=judge.spec if judge is not None else None,
        labels_used=labels_used,
        elapsed=time.perf_counter() - start,
        scores=[scores[i] for i in sorted(scores)],  # pointwise: every candidate's
        vote_keys=keys,
        explanation=explanation,
    )


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
    """An item from Python values, checked as a reader checks a row.

    Parameters
    ----------
    prompt, candidates : the prompt and the candidates' texts.
    id : the item's id (default: its :func:`content_id`).
    kind : the task kind (default: detected from the prompt).
    resources : visible task resources (:data:`rerank.items.VISIBLE_RESOURCES`).
    scores : labels, one per candidate (read only by reports and the simulated judge).
    where : what errors name as the file.

    Returns
    -------
    The item.

    Raises
    ------
    InputError
        A value of the wrong type, no candidates, an unknown kind or resource, or a number
        of scores other than the number of candidates; naming ``where`` and the field.
    """

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

    Parameters
    ----------
    prompt, candidates : the prompt and the candidates' texts.
    strategy : one of :data:`STRATEGIES`.
    judge : a spec, a judge object or a plain function (:func:`resolve_judge`); default
        :func:`default_judge_spec`. A judge given as an object is not closed here.
    seed : the run seed (:func:`item_seed`).
    id, kind, resources : the item's id, task kind and visible resources
        (:func:`build_item`).
    scores : labels, read only by the simulated judge.
    **options : :class:`StrategyConfig` fields (``both_orders``, ``aggregate``,
        ``checkpoints``).

    Returns
    -------
    The strategy's :class:`~tournaments.Selection`.

    Raises
    ------
    ConfigError
        No candidates, an unknown strategy, judge or option.
    InputError
        A malformed prompt, candidate or resource (:func:`build_item`).

    Notes
    -----
    Ties and display orders follow a seed of this item's own, made from ``seed`` and
    ``id`` as in a file run; without an ``id``, from the prompt and the candidates
    (:func:`content_id`), so a rerun reproduces and different prompts differ.
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

"""Plain functions as judges: the three shapes people already have, sync or async.

- ``compare(prompt, a, b)`` returns ``"A"``, ``"B"`` or ``"tie"`` (any case), or the
  probability that ``a`` is better (0.5 is a tie); ``None`` or NaN is no verdict;
- ``score(prompt, candidate)`` returns a number (higher is better); ``None`` or NaN is no
  score. Its judge also compares (the higher score wins), so every strategy works;
- ``judge(prompts, completions)`` is TRL's pairwise judge over a batch
  (``completions[i]`` is a pair), returning one int per prompt: 0 (first), 1 (second) or
  -1 (no verdict). A TRL judge object (anything with a ``judge`` method) is one too.

:func:`from_callable` wraps one in the judge protocol, so strategies, ``--trace`` fields
and cost counts work as with any judge: every verdict names the function, each call of it
counts as one judge call and its seconds. :func:`as_judge` turns whatever a caller passed
as ``judge=`` into a judge, inferring the shape from the signature (:func:`infer_kind`).
A function that returns something of the wrong shape raises a ``TypeError`` naming the
shape that was expected; no wrong value is read as a tie or a coin flip.

Examples
--------
>>> from rerank import select
>>> longer = from_callable(lambda prompt, a, b: "A" if len(a) > len(b) else "B", kind="compare")
>>> select("q", ["a", "abc", "ab"], strategy="round-robin", judge=longer).winner
1
"""

from __future__ import annotations

import asyncio
import inspect
import math
import numbers
import time
from collections.abc import Callable
from typing import Any, cast

from rerank.items import Item
from rerank.judges.base import BaseJudge, Cost, Judge, Score, Verdict
from rerank.memo import SingleFlight

__all__ = [
    "KINDS",
    "CallableJudge",
    "ScoreFunctionJudge",
    "as_judge",
    "from_callable",
    "infer_kind",
]

KINDS: tuple[str, ...] = ("compare", "score", "batch")

_SHAPES = {
    "compare": "compare(prompt, a, b) -> 'A' | 'B' | 'tie' | probability that A is better",
    "score": "score(prompt, candidate) -> float",
    "batch": "judge(prompts, completions) -> list[int] (0: first, 1: second, -1: no verdict)",
}
_ANY_SHAPE = "; ".join(_SHAPES.values())
#: What a judge object must have (``explain`` is optional: a judge without it explains
#: nothing).
_REQUIRED = ("spec", "reads_labels", "compare", "score", "aclose")


def _label(fn: Any) -> str:
    target = getattr(fn, "__func__", fn)
    name = getattr(target, "__qualname__", None) or type(fn).__qualname__
    return name.replace("<locals>.", "")


def infer_kind(fn: Any) -> str:
    """The shape of ``fn`` read from its signature (best effort).

    An object with a ``judge`` method, or a function whose first parameters are named
    ``prompts, completions``, is a batch judge; three required positional parameters make
    a compare function, two a score function.

    >>> infer_kind(lambda prompt, a, b: "A"), infer_kind(lambda prompt, text: 1.0)
    ('compare', 'score')
    >>> infer_kind(lambda prompts, completions, shuffle_order=True: [0])
    'batch'
    """
    if not inspect.isroutine(fn) and callable(getattr(fn, "judge", None)):
        return "batch"
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise TypeError(
            f"cannot read the signature of {_label(fn)}: wrap it with "
            "rerank.judges.from_callable(fn, kind='compare' | 'score' | 'batch')"
        ) from None
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    names = [p.name for p in positional[:2]]
    if names[:1] == ["prompts"] or "completions" in names:
        return "batch"
    required = [p for p in positional if p.default is p.empty]
    if len(required) == 3:
        return "compare"
    if len(required) == 2:
        return "score"
    raise TypeError(
        f"cannot tell which judge shape {_label(fn)}{signature} has; expected one of: "
        f"{_ANY_SHAPE}. Wrap it: rerank.judges.from_callable(fn, kind='compare' | 'score' | "
        "'batch')"
    )


def from_callable(fn: Any, kind: str | None = None, *, name: str | None = None) -> CallableJudge:
    """Wrap a compare, score or batch function (sync or async) as a judge.

    Parameters
    ----------
    fn : the function, or a TRL judge object (its ``judge`` method is called).
    kind : which shape ``fn`` has (:data:`KINDS`; ``None``: :func:`infer_kind`).
    name : what verdicts and the spec call it (default: the function's name).

    Returns
    -------
    CallableJudge (a :class:`ScoreFunctionJudge` for a score function).

    Raises
    ------
    ValueError
        for an unknown ``kind``; ``TypeError`` when ``fn`` is not callable.
    """
    if kind is None:
        kind = infer_kind(fn)
    if kind not in KINDS:
        raise ValueError(f"unknown callable judge kind {kind!r} (choose from {', '.join(KINDS)})")
    call = fn.judge if kind == "batch" and callable(getattr(fn, "judge", None)) else fn
    if not callable(call):
        raise TypeError(f"expected a function of the shape {_SHAPES[kind]}, got {fn!r}")
    cls = ScoreFunctionJudge if kind == "score" else CallableJudge
    return cls(call, kind, name=name or _label(fn))


def as_judge(judge: Any) -> Judge:
    """``judge`` as a judge: a judge object as it is, a function wrapped by its shape.

    Parameters
    ----------
    judge : a judge object (``spec``, ``reads_labels``, ``compare``, ``score``, ``aclose``;
        ``explain`` is optional), or a function of one of the shapes of :func:`infer_kind`.

    Returns
    -------
    Judge

    Raises
    ------
    TypeError
        for an object with part of the judge protocol but not all of it (naming what it
        lacks; subclassing :class:`~rerank.judges.BaseJudge` provides it), or anything
        that is neither a judge nor a function.
    """
    if all(hasattr(judge, a) for a in _REQUIRED):
        return cast(Judge, judge)
    if callable(getattr(judge, "compare", None)):
        missing = [a for a in _REQUIRED if not hasattr(judge, a)]
        raise TypeError(
            f"{type(judge).__name__} is not a complete judge: it lacks {', '.join(missing)} "
            "(subclass rerank.judges.BaseJudge, or pass a plain function)"
        )
    if callable(judge) or callable(getattr(judge, "judge", None)):
        return from_callable(judge)
    raise TypeError(
        f"expected a judge: a spec such as 'evidence', a judge object, or a function "
        f"({_ANY_SHAPE}); got {type(judge).__name__}"
    )


async def _invoke(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call ``fn`` (awaiting what it returns, if anything) and time it. A sync function runs
    on the event loop: it is the caller's, and may not be safe to call from other threads."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    if inspect.isawaitable(value):
        value = await value
    return value, time.perf_counter() - start


def _number(value: Any) -> float | None:
    """A real number as a float (NaN: ``None``); anything else (bool too) raises TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError
    number = float(value)
    return None if math.isnan(number) else number


class CallableJudge(BaseJudge):
    """A compare, score or batch function as a judge (built by :func:`from_callable`).

    Its verdicts name the function (``judge="callable:NAME"``) and have no ``via``.
    """

    name = "callable"
    #: Scores of (prompt, candidate) pairs kept for comparisons (score functions only).
    cache_size = 4096

    def __init__(self, fn: Callable[..., Any], kind: str, *, name: str) -> None:
        self.fn = fn
        self.kind = kind
        self.label = name
        self.spec = f"callable:{kind}:{name}"  # recorded, not rebuilt: a function has no spec
        self._scores: SingleFlight[tuple[str, str], tuple[Any, float]] = SingleFlight(
            self.cache_size
        )
        self._pending: list[tuple[str, str, str, asyncio.Future[tuple[int, float, int]]]] = []
        self._flushes: set[asyncio.Task[None]] = set()  # held so that none is collected early
        self._shuffle_order = kind == "batch" and _accepts(fn, "shuffle_order")

    def _wrong(self, value: Any, expected: str) -> TypeError:
        return TypeError(
            f"judge {self.label} returned {value!r} ({type(value).__name__}): expected "
            f"{expected}, as the shape {_SHAPES[self.kind]} says"
        )

    # --- compare ------------------------------------------------------------------------

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        if self.kind == "score":
            return await self._compare_by_scores(item, a, b)
        if self.kind == "batch":
            return await self._compare_in_batch(item, a, b)
        texts = item.candidates[a].text, item.candidates[b].text
        value, seconds = await _invoke(self.fn, item.prompt, *texts)
        return self._read_comparison(value, Cost(calls=1, seconds=seconds))

    def _read_comparison(self, value: Any, cost: Cost) -> Verdict:
        expected = "'A', 'B', 'tie' or a probability in [0, 1] that A is better"
        if value is None:
            return Verdict(
                "invalid", reason="the function gave no verdict (None)", **self._by(cost)
            )
        if isinstance(value, str):
            winner = value.strip().lower()
            if winner not in ("a", "b", "tie", "invalid"):
                raise self._wrong(value, expected)
            return Verdict(
                winner, reason=f"the function said {value!r}", raw=value, **self._by(cost)
            )
        try:
            p = _number(value)
        except TypeError:
            raise self._wrong(value, expected) from None
        if p is None:
            return Verdict("invalid", reason="the function gave NaN", **self._by(cost))
        if not 0.0 <= p <= 1.0:
            raise self._wrong(value, expected)
        winner = "a" if p > 0.5 else "b" if p < 0.5 else "tie"
        return Verdict(
            winner,
            reason=f"P(A better) = {p:g}",
            confidence=max(p, 1.0 - p),
            raw=repr(value),
            **self._by(cost),
        )

    def _by(self, cost: Cost) -> dict[str, Any]:
        return {"judge": f"{self.name}:{self.label}", "cost": cost}

    # --- score (ScoreFunctionJudge) -----------------------------------------------------

    async def _score(self, item: Item, index: int) -> Score:
        (value, seconds), fresh = await self._score_value(item.prompt, item.candidates[index].text)
        cost = Cost(calls=1, seconds=seconds) if fresh else Cost()
        return self._read_score(value, cost)

    async def _score_value(self, prompt: str, text: str) -> tuple[tuple[Any, float], bool]:
        """The function's value for one candidate, computed once (concurrent asks wait; a
        failed call is asked again next time), and whether this call computed it."""
        return await self._scores.get((prompt, text), lambda: _invoke(self.fn, prompt, text))

    def _read_score(self, value: Any, cost: Cost) -> Score:
        if value is None:
            return Score(None, reason="the function gave no score (None)", **self._by(cost))
        try:
            number = _number(value)
        except TypeError:
            raise self._wrong(value, "a number (higher is better) or None") from None
        if number is None:
            return Score(None, reason="the function gave NaN", **self._by(cost))
        return Score(number, reason=f"score {number:g}", raw=repr(value), **self._by(cost))

    async def _compare_by_scores(self, item: Item, a: int, b: int) -> Verdict:
        sa, sb = await asyncio.gather(self._score(item, a), self._score(item, b))
        cost = sa.cost + sb.cost
        if sa.value is None or sb.value is None:
            missing = "A" if sa.value is None else "B"
            return Verdict("invalid", reason=f"no score for {missing}", **self._by(cost))
        winner = "a" if sa.value > sb.value else "b" if sa.value < sb.value else "tie"
        reason = f"scores A {sa.value:g}, B {sb.value:g}"
        return Verdict(winner, reason=reason, **self._by(cost))

    # --- batch --------------------------------------------------------------------------

    async def _compare_in_batch(self, item: Item, a: int, b: int) -> Verdict:
        """Comparisons asked in the same step of the event loop go to the function in one
        call; that call counts once, on the first of the verdicts it returned."""
        future: asyncio.Future[tuple[int, float, int]] = asyncio.get_running_loop().create_future()
        texts = item.candidates[a].text, item.candidates[b].text
        self._pending.append((item.prompt, *texts, future))
        if len(self._pending) == 1:  # runs after the comparisons already scheduled join
            flush = asyncio.ensure_future(self._flush())
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        choice, seconds, calls = await future
        cost = Cost(calls=calls, seconds=seconds)
        if choice == -1:
            return Verdict("invalid", reason="the judge gave no verdict (-1)", **self._by(cost))
        return Verdict(
            "ab"[choice],
            reason=f"the judge chose completion {choice}",
            raw=str(choice),
            **self._by(cost),
        )

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        prompts = [prompt for prompt, _, _, _ in batch]
        pairs = [[a, b] for _, a, b, _ in batch]
        options = {"shuffle_order": False} if self._shuffle_order else {}
        try:
            value, seconds = await _invoke(self.fn, prompts, pairs, **options)
            choices = self._read_batch(value, len(batch))
        except Exception as exc:  # every comparison of the batch fails with it
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for k, (*_, future) in enumerate(batch):
            if not future.done():
                future.set_result((choices[k], seconds if k == 0 else 0.0, int(k == 0)))

    def _read_batch(self, value: Any, n: int) -> list[int]:
        expected = f"a list of {n} ints, each 0 (first), 1 (second) or -1 (no verdict)"
        value = value.tolist() if hasattr(value, "tolist") else value
        if not isinstance(value, list | tuple) or len(value) != n:
            raise self._wrong(value, expected)
        choices = []
        for choice in value:
            if isinstance(choice, bool) or not isinstance(choice, numbers.Integral):
                raise self._wrong(value, expected)
            if int(choice) not in (-1, 0, 1):
                raise self._wrong(value, expected)
            choices.append(int(choice))
        return choices


class ScoreFunctionJudge(CallableJudge):
    """A score function as a judge: it scores single candidates (so ``pointwise`` works),
    and compares by scores. A compare or batch function's judge does not score: the
    pointwise strategy refuses it rather than pick from no scores."""

    async def score(self, item: Item, index: int) -> Score:
        return await self._score(item, index)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())

"""Selecting for many prompts in one call, as a generation loop does.

:func:`aselect_many` (and the blocking :func:`select_many`) run one strategy over a batch
of prompts with one judge shared by all of them, at most ``concurrency`` judge calls at
once, and return one row per prompt in input order: the row ``rerank select`` writes
(:func:`rerank.run.output_row`: ``selected``, ``text``, ``ranking``, ``scores``, costs,
``decided_by``, ...). A prompt whose item cannot be built or judged gets an error row
(``selected: None`` and ``error``) and the others go on.

Examples
--------
>>> rows = select_many(["What is 2+3?", "What is 2*3?"], [["#### 5", "#### 6"], ["#### 6"]])
>>> [(r["selected"], r["n"]) for r in rows]
[(0, 2), (0, 1)]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tqdm import tqdm

from rerank.errors import ConfigError
from rerank.judges import EvidenceJudge, Judge
from rerank.outputs import trace_row
from rerank.run import output_row
from rerank.selector import (
    DEFAULT_STRATEGY,
    StrategyConfig,
    build_item,
    resolve_judge,
    select_item,
)

__all__ = ["aselect_many", "error_row", "select_many"]

T = TypeVar("T")


def _per_item(name: str, values: Sequence[T], n: int) -> list[T]:
    """``values`` as a list, which must hold one value for each of ``n`` items."""
    found = list(values)
    if len(found) != n:
        raise ConfigError(f"{name}: expected {n} values, one per prompt, got {len(found)}")
    return found


def error_row(item_id: str | None, exc: BaseException) -> dict[str, Any]:
    """The row of an item that could not be selected: no pick, and why.

    >>> error_row("7", ValueError("no candidates"))["error"]
    'ValueError: no candidates'
    """
    return {"id": item_id, "selected": None, "text": None, "error": f"{type(exc).__name__}: {exc}"}


async def aselect_many(
    prompts: Sequence[str],
    candidate_lists: Sequence[Sequence[str]],
    *,
    ids: Sequence[str | int | None] | None = None,
    strategy: str = DEFAULT_STRATEGY,
    judge: Judge | str | Callable[..., Any] | None = None,
    seed: int = 0,
    kind: str | Sequence[str | None] | None = None,
    resources: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None,
    scores: Sequence[Sequence[float | None] | None] | None = None,
    concurrency: int = 8,
    progress: bool = False,
    trace: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Pick the best candidate for each prompt (async); one row per prompt, in input order.

    Parameters
    ----------
    prompts : the prompts.
    candidate_lists : each prompt's candidates' texts.
    ids : the items' ids (default: a digest of each prompt and its candidates, which also
        seeds its ties, so a rerun reproduces).
    strategy : one of :data:`rerank.selector.STRATEGIES`.
    judge : a spec, a judge object or a plain function (see
        :func:`rerank.judges.from_callable`), built once and shared by all prompts.
    seed : the run seed.
    kind, resources : one value for all prompts, or one per prompt.
    scores : labels per prompt, read only by the simulated judge.
    concurrency : judge calls in flight (and twice as many items).
    progress : show a bar on stderr.
    trace : add each item's trace row (every match and verdict) as ``row["trace"]``.
    **options : :class:`~rerank.selector.StrategyConfig` fields.

    Returns
    -------
    The rows ``rerank select`` writes, one per prompt; :func:`error_row` for an item that
    could not be built or judged.

    Raises
    ------
    ConfigError
        A bad option (an unknown strategy or judge, lists of different lengths), before
        anything runs.
    """
    n = len(prompts)
    if len(candidate_lists) != n:
        raise ConfigError(f"{n} prompts but {len(candidate_lists)} candidate lists")
    if concurrency < 1:
        raise ConfigError("concurrency must be at least 1")
    config = StrategyConfig(name=strategy, seed=seed, **options)
    item_ids = [None] * n if ids is None else _per_item("ids", ids, n)
    kinds = [kind] * n if kind is None or isinstance(kind, str) else _per_item("kind", kind, n)
    item_resources = (
        [resources] * n
        if resources is None or isinstance(resources, dict)
        else _per_item("resources", resources, n)
    )
    item_scores = [None] * n if scores is None else _per_item("scores", scores, n)
    chosen = resolve_judge(judge, config)
    evidence = None
    if config.name == "vote":  # vote's keys: one evidence judge for the batch
        evidence = judge if isinstance(judge, EvidenceJudge) else EvidenceJudge()
    limiter = asyncio.Semaphore(concurrency)
    window = asyncio.Semaphore(2 * concurrency)
    bar = tqdm(total=n, unit="item", file=sys.stderr, dynamic_ncols=True, disable=not progress)

    async def one(i: int) -> dict[str, Any]:
        item_id = None if item_ids[i] is None else str(item_ids[i])
        item = None
        async with window:
            try:
                item = build_item(
                    prompts[i],
                    candidate_lists[i],
                    id=item_id,
                    kind=kinds[i],
                    resources=item_resources[i],
                    scores=item_scores[i],
                    where=f"item {i}",
                )
                result = await select_item(item, config, chosen, limiter=limiter, evidence=evidence)
            except Exception as exc:  # this item's failure, not the batch's
                return error_row(item.id if item is not None else item_id, exc)
            finally:
                bar.update(1)
        row = output_row(result)
        if trace:
            row["trace"] = trace_row(result)
        return row

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        bar.close()
        if chosen is not None and chosen is not judge:
            await chosen.aclose()
        if evidence is not None and evidence is not judge:
            await evidence.aclose()


def select_many(
    prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]], **kwargs: Any
) -> list[dict[str, Any]]:
    """Pick the best candidate for each prompt: a blocking :func:`aselect_many`."""
    return asyncio.run(aselect_many(prompts, candidate_lists, **kwargs))

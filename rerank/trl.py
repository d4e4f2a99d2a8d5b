"""TRL's judge interfaces over any rerank judge (TRL itself is not needed).

- :class:`PairwiseJudge` has TRL's ``BasePairwiseJudge`` interface,
  ``judge(prompts, completions, shuffle_order=True) -> list[int]``: for each prompt, the
  index (0 or 1) of the better completion of its pair, -1 where the judge reached no
  verdict (a tie, an invalid verdict, a failed call). ``OnlineDPOTrainer(judge=...)``
  and TRL's ``WinRateCallback`` call it so.
- :class:`RankJudge` has TRL's ``BaseRankJudge`` interface,
  ``judge(prompts, completions, shuffle_order=True) -> list[list[int]]``: for each
  prompt, the indices of its completions best first, from a strategy with a full
  ranking (round-robin by default).

Either wraps a judge spec (``"evidence"``, ``"llm:..."``, ``"local"``), a judge object or
a plain function (:func:`rerank.judges.from_callable`). Prompts and completions may be
strings or conversations (lists of messages). The calls are blocking, as TRL makes them;
the judge lives on an event loop of the adapter's own (:mod:`rerank.background_loop`).
``close()`` releases it.

Examples
--------
>>> judge = PairwiseJudge("evidence")
>>> pairs = [["2 + 3 = 6. #### 6", "2 + 3 = 5. #### 5"], ["roses", "violets"]]
>>> judge.judge(["What is 2+3?", "Write a poem."], pairs)  # a poem: no evidence, no verdict
[1, -1]
>>> judge.close()
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

from rerank.background_loop import BackgroundLoop
from rerank.errors import JudgeError
from rerank.judges import EvidenceJudge, Judge, Verdict
from rerank.rewards import completion_text, prompt_text
from rerank.run import output_row
from rerank.selector import (
    StrategyConfig,
    build_item,
    item_seed,
    resolve_judge,
    select_item,
)

__all__ = ["PairwiseJudge", "RankJudge"]


class _Adapter:
    """What both adapters share: the judge, its loop, a cap on calls in flight."""

    def __init__(
        self,
        judge: Judge | str | Callable[..., Any],
        config: StrategyConfig,
        concurrency: int,
    ) -> None:
        self.config = config
        resolved = resolve_judge(judge, config)
        self._evidence: EvidenceJudge | None = None
        if resolved is None:  # vote: keys from the evidence
            self._evidence = judge if isinstance(judge, EvidenceJudge) else EvidenceJudge()
            resolved = self._evidence
        self.rerank_judge: Judge = resolved
        self._owned = resolved is not judge
        self.concurrency = concurrency
        self._loop: BackgroundLoop | None = None

    def _run(self, coroutine: Any) -> Any:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop.run(coroutine)

    def _items(self, prompts: Sequence[Any], completions: Sequence[Sequence[Any]]) -> list[Any]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completion lists")
        return [
            build_item(prompt_text(p), [completion_text(c) for c in cs], where=f"judge input {i}")
            for i, (p, cs) in enumerate(zip(prompts, completions, strict=True))
        ]

    def close(self) -> None:
        """Close the judge if the adapter built it, and stop the adapter's loop."""

        async def aclose() -> None:
            if self._owned:
                await self.rerank_judge.aclose()

        self._run(aclose())
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PairwiseJudge(_Adapter):
    """TRL's pairwise judge over a rerank judge (see the module docstring).

    Parameters
    ----------
    judge : a spec, a judge object or a plain function.
    seed : draws the order each pair is shown in (with ``shuffle_order``), from the seed
        and the pair's content: reproducible, unlike TRL's own judges.
    both_orders : ask both orders and keep the verdict only when they agree.
    concurrency : judge calls in flight.

    Attributes
    ----------
    last_verdicts : the rerank verdicts of the last call (reasons, evidence, cost).
    """

    def __init__(
        self,
        judge: Judge | str | Callable[..., Any] = "evidence",
        *,
        seed: int = 0,
        both_orders: bool = False,
        concurrency: int = 8,
    ) -> None:
        super().__init__(judge, StrategyConfig(name="knockout", seed=seed), concurrency)
        self.both_orders = both_orders
        self.last_verdicts: list[list[Verdict]] = []

    def judge(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Sequence[Any]],
        shuffle_order: bool = True,
    ) -> list[int]:
        """The better completion of each prompt's pair.

        Parameters
        ----------
        prompts : strings or conversations.
        completions : two per prompt.
        shuffle_order : show each pair in a seeded order (else as given), to spread
            position bias.

        Returns
        -------
        For each prompt, 0 or 1, or -1 where the judge reached no verdict.

        Raises
        ------
        ValueError
            Other than two completions for a prompt, or lists of different lengths.
        """
        items = self._items(prompts, completions)
        for item in items:
            if item.n != 2:
                raise ValueError(f"a pairwise judge takes pairs of completions, got {item.n}")
        return self._run(self._judge(items, shuffle_order))

    async def _judge(self, items: list[Any], shuffle_order: bool) -> list[int]:
        limiter = asyncio.Semaphore(self.concurrency)

        async def ask(item: Any, first: int) -> Verdict:
            async with limiter:
                try:
                    return await self.rerank_judge.compare(item, first, 1 - first)
                except JudgeError as exc:
                    return Verdict("invalid", reason=f"{type(exc).__name__}: {exc}")

        async def one(item: Any) -> tuple[int, list[Verdict]]:
            first = random.Random(item_seed(self.config.seed, item)).randrange(2)
            first = first if shuffle_order else 0
            orders = [first, 1 - first] if self.both_orders else [first]
            verdicts = list(await asyncio.gather(*(ask(item, f) for f in orders)))
            picks = {_picked(v, f) for v, f in zip(verdicts, orders, strict=True)}
            return (picks.pop() if len(picks) == 1 else -1), verdicts

        results = await asyncio.gather(*(one(item) for item in items))
        self.last_verdicts = [verdicts for _, verdicts in results]
        return [choice for choice, _ in results]


def _picked(verdict: Any, first: int) -> int:
    """The completion a verdict names (``first`` was shown as A), or -1 for none."""
    winner = getattr(verdict, "winner", verdict)
    return {"a": first, "b": 1 - first}.get(winner, -1)


class RankJudge(_Adapter):
    """TRL's rank judge over a rerank judge: each prompt's completions, best first.

    Parameters
    ----------
    judge : a spec, a judge object or a plain function.
    strategy : one that gives a full ranking (``round-robin``, ``pointwise`` or
        ``vote``); equal candidates are ordered by the seeded tie-break, so the result is
        a permutation.
    seed : the run seed.
    concurrency : judge calls in flight.
    **options : :class:`~rerank.selector.StrategyConfig` fields.

    Attributes
    ----------
    last_rows : each prompt's output row of the last call (scores, costs).
    """

    def __init__(
        self,
        judge: Judge | str | Callable[..., Any] = "evidence",
        *,
        strategy: str = "round-robin",
        seed: int = 0,
        concurrency: int = 8,
        **options: Any,
    ) -> None:
        if strategy not in ("round-robin", "pointwise", "vote"):
            raise ValueError(f"strategy {strategy!r} gives no full ranking")
        config = StrategyConfig(name=strategy, seed=seed, **options)
        super().__init__(judge, config, concurrency)
        self.last_rows: list[dict[str, Any]] = []

    def judge(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Sequence[Any]],
        shuffle_order: bool = True,
    ) -> list[list[int]]:
        """Each prompt's completions, best first.

        Parameters
        ----------
        prompts : strings or conversations.
        completions : each prompt's completions.
        shuffle_order : accepted for TRL's interface: the strategies already show pairs
            in seeded orders.

        Returns
        -------
        For each prompt, the indices of its completions, best first.
        """
        return self._run(self._rank(self._items(prompts, completions)))

    async def _rank(self, items: list[Any]) -> list[list[int]]:
        limiter = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(
            *(
                select_item(
                    item, self.config, self.rerank_judge, limiter=limiter, evidence=self._evidence
                )
                for item in items
            )
        )
        self.last_rows = [output_row(r) for r in results]
        return [list(r.selection.ranking or []) for r in results]

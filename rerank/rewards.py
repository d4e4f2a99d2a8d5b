"""Rewards for RL trainers, from rerank's judges, strategies and verifiers.

- :func:`grpo_reward` returns a reward function with TRL's signature,
  ``f(prompts, completions, **kwargs) -> list[float | None]`` (``GRPOTrainer(reward_funcs=
  ...)``); :func:`agrpo_reward` its ``async def`` form, which TRL awaits concurrently with
  other async rewards. Within each group (the consecutive completions of one prompt, as
  TRL lays out ``num_generations`` samples) it runs a strategy with a rerank judge and
  turns the outcome into one reward per completion (:data:`MODES`).
- :func:`compute_score` / :func:`compute_score_batch` have verl's custom-reward
  signatures (:mod:`rerank.verifier_scores`).

No usable evidence or verdict is ``None``, never a made-up 0.5: TRL ignores a ``None``
reward (it becomes NaN, left out of the sum over reward functions), so another reward
function can speak for that sample. Dataset columns TRL passes in ``kwargs`` (``answer``,
``tests``, ...) reach the judge only when granted with ``expose``, as ``--expose`` grants
a file's hidden fields: a column of gold answers is a label until the caller says
otherwise.

Examples
--------
>>> reward = grpo_reward(mode="rank")
>>> reward(prompts=["What is 2+3?"] * 3, completions=["#### 5", "#### 6", "It is 5. #### 5"])
[0.75, 0.0, 0.75]
>>> reward.close()
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import Any

from rerank.background_loop import BackgroundLoop
from rerank.errors import ConfigError, JudgeError
from rerank.items import RESOURCE_SHAPES, Item, resource_problem
from rerank.judges import EvidenceJudge, Judge
from rerank.run import output_row
from rerank.selector import StrategyConfig, build_item, resolve_judge, select_item
from rerank.verifier_scores import compute_score, compute_score_batch, plain_data
from tournaments import Selection

__all__ = [
    "MODES",
    "GroupReward",
    "agrpo_reward",
    "completion_text",
    "compute_score",
    "compute_score_batch",
    "grpo_reward",
    "prompt_text",
]

log = logging.getLogger(__name__)

#: How a group's outcome becomes rewards, and the strategy each uses by default:
#: ``winner`` 1 for the pick, 0 for the rest; ``rank`` the normalised position in the
#: ranking (ties share the mean place); ``bradley_terry`` the fitted probability of beating
#: another completion of the group; ``verifier`` the share of hard checks passed.
MODES: dict[str, str | None] = {
    "winner": "knockout",
    "rank": "round-robin",
    "bradley_terry": "round-robin",
    "verifier": None,
}
#: Columns granted under their own name that name another resource.
COLUMN_ALIASES: dict[str, str] = {
    "answer": "reference",
    "solution": "reference",
    "ground_truth": "reference",
    "test_list": "tests",
}


def content_of(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a multimodal list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    raise TypeError(f"expected message content as a string or a list of parts, got {content!r}")


def _messages(value: Any, what: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(m, dict) for m in value):
        return list(value)
    raise TypeError(
        f"expected a {what} as a string or a list of messages ({{'role': ..., 'content': ...}})"
        f", got {type(value).__name__}"
    )


def completion_text(completion: Any) -> str:
    """A completion as text: a string as it is, a conversational completion (a list of
    messages, TRL's ``[{"role": "assistant", "content": ...}]``) as its assistant text."""
    if isinstance(completion, str):
        return completion
    messages = _messages(completion, "completion")
    said = [m for m in messages if m.get("role", "assistant") == "assistant"] or messages
    return "\n".join(content_of(m.get("content")) for m in said)


def prompt_text(prompt: Any) -> str:
    """A prompt as text: a string as it is, a conversation as its last user message (where
    the task and its instructions are; a system message is not the task)."""
    if isinstance(prompt, str):
        return prompt
    messages = _messages(prompt, "prompt")
    users = [m for m in messages if m.get("role") == "user"]
    return content_of((users or messages)[-1].get("content"))


def _grants(expose: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """Column -> resource name, checked against the resources a judge can use."""
    if isinstance(expose, str):
        expose = [expose]
    pairs = (
        dict(expose)
        if isinstance(expose, Mapping)
        else {c: COLUMN_ALIASES.get(c, c) for c in expose}
    )
    for column, resource in pairs.items():
        if resource not in RESOURCE_SHAPES:
            known = ", ".join(sorted(RESOURCE_SHAPES))
            raise ConfigError(
                f"expose: column {column!r} would become resource {resource!r}, which no "
                f"judge reads (resources: {known}); map it, e.g. expose={{{column!r}: "
                "'reference'}"
            )
    return pairs


def _mid_ranks(values: list[float | None]) -> list[float | None]:
    """Each value's place among the others, 0 (lowest) to 1 (highest), ties sharing their
    mean place; ``None`` where there is no value or nothing to compare with."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return [None] * len(values)
    out: list[float | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        below = sum(w < v for w in present)
        equal = sum(w == v for w in present) - 1
        out.append((below + 0.5 * equal) / (len(present) - 1))
    return out


def _win_chances(strengths: list[float | None]) -> list[float | None]:
    """Bradley-Terry: each candidate's mean probability of beating each other one."""
    present = [s for s in strengths if s is not None]
    if len(present) < 2:
        return [None] * len(strengths)
    out: list[float | None] = []
    for s in strengths:
        if s is None:
            out.append(None)
            continue
        others = list(present)
        others.remove(s)
        out.append(sum(1.0 / (1.0 + math.exp(o - s)) for o in others) / len(others))
    return out


class GroupReward:
    """A TRL reward function over groups of completions (parameters: :func:`grpo_reward`).

    Call it as TRL does (``reward(prompts=..., completions=..., **columns)``), or await
    :meth:`acall`. ``last_rows`` holds the output row of each group of the last call
    (the strategy's picks, verdict counts and costs), for logging.
    """

    def __init__(
        self,
        judge: Judge | str | Callable[..., Any] = "evidence",
        *,
        mode: str = "rank",
        strategy: str | None = None,
        expose: Mapping[str, str] | Sequence[str] = (),
        kind: str | None = None,
        num_generations: int | None = None,
        seed: int = 0,
        concurrency: int = 8,
        name: str | None = None,
        **options: Any,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown reward mode {mode!r} (choose from {', '.join(MODES)})")
        if num_generations is not None and num_generations < 1:
            raise ConfigError("num_generations must be at least 1")
        self.mode = mode
        self.grants = _grants(expose)
        self.kind = kind
        self.num_generations = num_generations
        self.concurrency = concurrency
        self.__name__ = name or f"rerank_{mode}"  # TRL logs each reward by its __name__
        self.config = self._strategy(strategy, seed, options)
        self.judge = resolve_judge(judge, self.config or StrategyConfig())
        if self.judge is None:  # vote: its keys come from the evidence
            self.judge = judge if isinstance(judge, EvidenceJudge) else EvidenceJudge()
        self._owned = self.judge is not judge
        self.evidence = self._evidence_of(self.judge)
        if mode == "verifier" and self.evidence is None:
            raise ConfigError(
                f"mode 'verifier' reads verifier evidence; judge {self.judge.spec!r} has none "
                "(use judge='evidence')"
            )
        self.last_rows: list[dict[str, Any] | None] = []
        self._thread: BackgroundLoop | None = None

    def _strategy(self, strategy: str | None, seed: int, options: dict[str, Any]) -> Any:
        default = MODES[self.mode]
        if default is None:
            if strategy is not None:
                raise ConfigError("mode 'verifier' runs no strategy: drop strategy=")
            return None
        name = strategy or default
        if self.mode == "bradley_terry":
            if name != "round-robin":
                raise ConfigError("mode 'bradley_terry' fits every pair: strategy='round-robin'")
            options = {**options, "aggregate": "bradley_terry"}
        if self.mode == "rank" and name not in ("round-robin", "pointwise", "vote"):
            raise ConfigError(
                f"mode 'rank' needs a full ranking; {name!r} gives none "
                "(choose round-robin, pointwise or vote)"
            )
        return StrategyConfig(name=name, seed=seed, **options)

    @staticmethod
    def _evidence_of(judge: Judge | None) -> EvidenceJudge | None:
        if isinstance(judge, EvidenceJudge):
            return judge
        inner = getattr(judge, "evidence", None)  # a judge built on evidence (llm, local)
        return inner if isinstance(inner, EvidenceJudge) else None

    # --- calling ------------------------------------------------------------------------

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        if self._thread is None:
            self._thread = BackgroundLoop()
        return self._thread.run(self.acall(prompts, completions, **kwargs))

    async def acall(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        """The rewards of ``completions`` (TRL's flattened groups), in their order."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        texts = [completion_text(c) for c in completions]
        resources = [self._resources(kwargs, i, len(texts)) for i in range(len(texts))]
        groups = self._groups(prompts, resources)
        limiter = asyncio.Semaphore(self.concurrency)
        outcomes = await asyncio.gather(
            *(
                self._group(
                    prompt_text(prompts[g[0]]), [texts[i] for i in g], resources[g[0]], limiter
                )
                for g in groups
            )
        )
        rewards: list[float | None] = [None] * len(texts)
        self.last_rows = []
        for group, (values, row) in zip(groups, outcomes, strict=True):
            self.last_rows.append(row)
            for i, value in zip(group, values, strict=True):
                rewards[i] = value
        return rewards

    def _resources(self, kwargs: dict[str, Any], i: int, n: int) -> dict[str, Any]:
        granted = {}
        for column, resource in self.grants.items():
            if column not in kwargs:
                raise ValueError(f"expose names column {column!r}, which the trainer did not pass")
            values = kwargs[column]
            if len(values) != n:
                raise ValueError(f"column {column!r}: {len(values)} values for {n} completions")
            value = plain_data(values[i])
            if value is None:
                continue
            if resource == "reference" and not isinstance(value, str | int | float):
                value = str(value)
            if resource == "kwargs" and isinstance(value, list):  # parquet fills absent keys
                value = [{k: v for k, v in (d or {}).items() if v is not None} for d in value]
            problem = resource_problem(resource, value)
            if problem is not None:
                raise ValueError(f"column {column!r}, row {i}{problem[0]}: {problem[1]}")
            granted[resource] = value
        return granted

    def _groups(self, prompts: Sequence[Any], resources: list[dict[str, Any]]) -> list[list[int]]:
        n = len(prompts)
        if self.num_generations is not None:
            size = self.num_generations
            if n % size:
                raise ValueError(f"{n} completions do not split into groups of {size}")
            return [list(range(s, s + size)) for s in range(0, n, size)]
        groups: list[list[int]] = []
        for i in range(n):
            same = i > 0 and prompts[i] == prompts[i - 1] and resources[i] == resources[i - 1]
            if same:
                groups[-1].append(i)
            else:
                groups.append([i])
        return groups

    async def _group(
        self, prompt: str, texts: list[str], resources: dict[str, Any], limiter: asyncio.Semaphore
    ) -> tuple[list[float | None], dict[str, Any] | None]:
        item = build_item(prompt, texts, kind=self.kind, resources=resources, where="reward group")
        item = replace(item, exposed=tuple(resources))
        if self.config is None:
            assert self.evidence is not None  # __init__ refuses mode 'verifier' without it
            _, stand = await self.evidence.assess(item)
            return [s.hard for s in stand], None
        try:
            result = await select_item(
                item, self.config, self.judge, limiter=limiter, evidence=self.evidence
            )
        except JudgeError as exc:  # no verdict for this group: no reward, the run goes on
            log.warning("rerank reward: no verdicts for a group of %d: %s", item.n, exc)
            return [None] * item.n, None
        usable = await self._usable(item, result.selection)
        return self._rewards(result.selection, usable), output_row(result)

    async def _usable(self, item: Item, selection: Selection) -> list[bool]:
        """Which candidates the judge said anything about: a verdict that is not invalid
        (a score that is not None), and, from the evidence judge, some evidence."""
        n = item.n
        if selection.strategy == "pointwise":
            usable = [s is not None for s in selection.scores or [None] * n]
        elif selection.strategy == "vote":  # an abstainer (class size 0) cast no vote
            usable = [bool(s) for s in selection.scores or [0.0] * n]
        else:
            usable = [False] * n
            for m in selection.matches:
                if m.outcome != "invalid":
                    usable[m.a] = usable[m.b] = True
        if isinstance(self.judge, EvidenceJudge):
            _, stand = await self.judge.assess(item)
            usable = [u and s.evidence is not None for u, s in zip(usable, stand, strict=True)]
        return usable

    def _rewards(self, selection: Selection, usable: list[bool]) -> list[float | None]:
        scores = selection.scores or [None] * selection.n
        values = [s if u else None for s, u in zip(scores, usable, strict=True)]
        if self.mode == "rank":
            return _mid_ranks(values)
        if self.mode == "bradley_terry":
            return _win_chances(values)
        if selection.strategy in ("pointwise", "vote"):
            decisive = len({v for v in values if v is not None}) > 1
        else:
            decisive = any(m.outcome in ("a", "b") for m in selection.matches)
        if not decisive:  # nothing told them apart: a pick would be a coin flip
            return [None] * selection.n
        return [
            (1.0 if i == selection.winner else 0.0) if u else None for i, u in enumerate(usable)
        ]

    # --- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the judge if this reward built it (its sandbox workers, HTTP clients)."""
        if self._owned and self.judge is not None:
            await self.judge.aclose()

    def close(self) -> None:
        """Close the judge and stop the sync form's event loop."""
        if self._thread is not None:
            self._thread.run(self.aclose())
            self._thread.stop()
            self._thread = None
        else:
            asyncio.run(self.aclose())

    def __enter__(self) -> GroupReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grpo_reward(
    judge: Judge | str | Callable[..., Any] = "evidence", **options: Any
) -> GroupReward:
    """A TRL reward function: ``reward(prompts, completions, **kwargs) -> list[float | None]``.

    Parameters
    ----------
    judge : a spec (``"evidence"``, ``"llm:..."``), a judge object or a plain function
        (:func:`rerank.judges.from_callable`).
    mode : ``"rank"`` (default), ``"winner"``, ``"bradley_terry"`` or ``"verifier"``
        (:data:`MODES`).
    strategy : overrides the mode's default strategy (``rank``: any strategy with a full
        ranking; ``winner``: any).
    expose : the dataset columns the judge may read, as names (``("answer",)``;
        ``answer``, ``solution`` and ``ground_truth`` become the ``reference``) or a
        mapping ``{"column": "resource"}`` (resources: ``reference``, ``tests``,
        ``entry_point``, ``inputs``, ``instruction_id_list``, ``kwargs``).
    kind : the task kind of every prompt (default: detected per group).
    num_generations : fixed group size (default: runs of equal prompts).
    seed, concurrency, name : the strategy's seed, judge calls in flight, TRL's log name.
    **options : :class:`~rerank.selector.StrategyConfig` fields (``both_orders``, ...).

    Returns
    -------
    GroupReward : rewards lie in [0, 1]; ``None`` where the judge said nothing usable
        about a completion. Call :meth:`GroupReward.close` when done (or use it as a
        context manager).
    """
    return GroupReward(judge, **options)


def agrpo_reward(
    judge: Judge | str | Callable[..., Any] = "evidence", **options: Any
) -> Callable[..., Coroutine[Any, Any, list[float | None]]]:
    """The ``async def`` form of :func:`grpo_reward`, for TRL's concurrent async rewards (TRL
    tells them apart with ``asyncio.iscoroutinefunction``). Its judge lives on the loop
    that awaits it; ``await reward.aclose()`` closes it."""
    group = GroupReward(judge, **options)

    async def reward(
        prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        return await group.acall(prompts, completions, **kwargs)

    reward.__name__ = group.__name__
    reward.__qualname__ = group.__name__
    reward.aclose = group.aclose  # type: ignore[attr-defined]
    reward.group = group  # type: ignore[attr-defined]
    return reward

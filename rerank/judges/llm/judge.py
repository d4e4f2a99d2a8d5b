"""The skill-driven LLM judge behind OpenAI-compatible endpoints (``--judge llm``).

For each comparison :class:`LLMJudge`

1. gathers the verifier evidence of the item (once per item, through its
   :class:`~rerank.judges.evidence.EvidenceJudge`) and routes the item to a skill (by task
   kind, or the one forced with ``skill=``);
2. returns the evidence's verdict when hard evidence decides the pair (``short_circuit``,
   on by default): no request is made;
3. returns a cached verdict when the same question was answered before: no request;
4. otherwise runs the skill's conversation (:func:`~rerank.judges.llm.loop.converse`):
   the skill prefix as the system message, the item with candidates A (= ``a``) and
   B (= ``b``) and their evidence, tools, a forced final answer, a text re-ask;
5. binds the verdict to evidence: cited ids that exist nowhere are kept and flagged.

The judge only ever sees what the selector hands it (``item.public()``: no labels), and of
that the reference only when the item exposes it and the skill grants it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rerank.errors import RequestRejectedError
from rerank.items import Item
from rerank.judges.base import BaseJudge, Cost, Score, Verdict, register_judge
from rerank.judges.evidence import EvidenceJudge, Standing
from rerank.judges.llm.dedup import ClusterDedup
from rerank.judges.llm.loop import LoopResult, converse
from rerank.judges.llm.parse import unknown_evidence
from rerank.judges.llm.prompt import Shown, user_message
from rerank.judges.llm.solve import OwnAnswers, own_answer_note, own_answer_verdict
from rerank.judges.llm.tools import ToolBox, ToolContext
from rerank.llm import ChatResult, EndpointPool, NullCache, Usage, VerdictCache
from rerank.skills import GATED, Skill, SkillRegistry, render
from tournaments import combine_orders

__all__ = ["PROTOCOL", "LLMJudge", "both_orders_verdict"]

log = logging.getLogger(__name__)

#: Part of every cache key: bump it when the messages or the way replies are read change.
PROTOCOL = 1
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(value: bool | str, name: str) -> bool:
    """A boolean option, also as a spec gives it (``short_circuit=false``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _number(value: Any, name: str, kind: type, minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, not {value!r}")
    return number


def _open_cache(cache: Any) -> VerdictCache | NullCache:
    """``None``/``True``: the default file; ``False``: none; a path; or a cache object."""
    if isinstance(cache, VerdictCache | NullCache):
        return cache
    if cache is None or cache is True or (isinstance(cache, str) and cache.lower() in _TRUE):
        return VerdictCache()
    if cache is False or (isinstance(cache, str) and cache.strip().lower() in _FALSE + ("none",)):
        return NullCache()
    if isinstance(cache, str | Path):
        return VerdictCache(cache)
    raise ValueError(f"cache must be a path, true or false, not {cache!r}")


_SIZE = re.compile(r"(?<![0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
#: Models up to this many billion parameters get the compact form under ``compact=auto``.
SMALL_MODEL_BILLIONS = 3.0


def small_model(name: str | None) -> bool:
    """Whether a model id names a small model (``...-1.5B-...``, ``SmolLM2-135M``).

    >>> [small_model(m) for m in ("Qwen2.5-Coder-1.5B-Instruct", "smollm2-135m", "Qwen3-8B")]
    [True, True, False]
    >>> small_model("gpt-4o")
    False
    """
    if not name:
        return False
    sizes = [
        float(number) / (1000 if unit.lower() == "m" else 1)
        for number, unit in _SIZE.findall(name.rsplit("/", 1)[-1])
    ]
    return bool(sizes) and max(sizes) <= SMALL_MODEL_BILLIONS


def _compact(value: Any) -> bool | None:
    """True, False, or None for "auto" (decided by the model's size once it is known)."""
    if value == "auto":
        return None
    return _flag(value, "compact")


@dataclass(frozen=True)
class _Ready:
    """An item prepared for judging: its skill, what the skill may see, its evidence."""

    skill: Skill
    view: Item
    kind: str
    standings: list[Standing]


@dataclass(frozen=True)
class _Outcome:
    """A judgement before it becomes a Verdict or a Score (what the cache stores)."""

    winner: str  # a | b | tie | invalid (pairwise); valid | invalid (pointwise)
    score: float | None
    reason: str
    confidence: float | None
    evidence: tuple[str, ...]
    raw: str | None
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "evidence": list(self.evidence), "flags": list(self.flags)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Outcome:
        return cls(**{**data, "evidence": tuple(data["evidence"]), "flags": tuple(data["flags"])})


def both_orders_verdict(forward: Verdict, backward: Verdict) -> Verdict:
    """One verdict from ``forward`` (a shown first) and ``backward`` (b shown first, its
    winner relative to (b, a)), by :func:`tournaments.combine_orders`: kept when both name
    the same candidate, a tie when they disagree (the display order decided), invalid when
    either is. Costs add up; the reason says which case it was.

    >>> a_first = Verdict("a", reason="A is right")
    >>> both_orders_verdict(a_first, Verdict("b", reason="B is right")).winner
    'a'
    >>> tie = both_orders_verdict(a_first, Verdict("a", reason="A is right"))
    >>> tie.winner, tie.reason.split(":")[0]
    ('tie', 'position-dependent')
    """
    winner = combine_orders(forward.winner, backward.winner)
    if winner == "invalid":
        bad = forward if forward.winner == "invalid" else backward
        order = "" if bad is forward else " (display order swapped)"
        reason = f"{bad.reason}{order}"
    elif winner != "tie":
        reason = f"{forward.reason} [the same with the display order swapped]"
    elif "tie" in (forward.winner, backward.winner):
        reason = f"a tie in one display order: {forward.reason} | swapped: {backward.reason}"
    else:
        place = "first" if forward.winner == "a" else "second"
        reason = (
            f"position-dependent: the model named the response shown {place} in both "
            f"display orders, so the order decided, not the responses; a tie. "
            f"{forward.reason} | swapped: {backward.reason}"
        )
    cited = tuple(dict.fromkeys((*forward.evidence, *backward.evidence)))
    return Verdict(
        winner,
        reason=reason,
        confidence=forward.confidence if winner in ("a", "b") else None,
        evidence=cited,
        raw=f"{forward.raw or ''}\n--- display order swapped ---\n{backward.raw or ''}",
        judge=forward.judge,
        cost=forward.cost + backward.cost,
        flags=tuple(dict.fromkeys((*forward.flags, *backward.flags))),
    )


def _gated(item: Item, skill: Skill) -> Item:
    """The item without the gated resources (the reference) the skill does not grant."""
    withheld = [k for k in item.task.resources if k in GATED and k not in skill.grants]
    if not withheld:
        return item
    resources = {k: v for k, v in item.task.resources.items() if k not in withheld}
    return replace(item, task=replace(item.task, resources=resources))


@register_judge("llm")
class LLMJudge(BaseJudge):
    """A judge that executes a skill with an LLM; see the module docstring.

    ``base_url`` is one URL, several separated by commas, or a list; ``api_key`` defaults
    to ``$RERANK_API_KEY`` / ``$OPENAI_API_KEY`` and is never logged or recorded.
    ``skill`` forces one skill for every item; ``skills_dirs`` adds skill folders.
    ``max_steps`` bounds the tool loop (then one forced final answer and one text re-ask).
    ``cache``: ``None`` the default file, a path, or ``False`` for none. ``compact``
    (``"auto"``, true, false) sends the compact form of the skill; ``"auto"`` sends it to
    small models (:func:`small_model`: at most 3B parameters by the model id). ``swap``
    (``"auto"``, true, false) asks a question the model must answer in both display orders
    and keeps a verdict only when the two agree (:func:`both_orders_verdict`); ``"auto"``
    does so for compact questions, whose small models tend to name whichever response
    comes first. ``pool``, ``evidence`` and ``registry`` replace the parts the judge would
    build (for sharing them, and for tests).

    Every option may be given as a string, as a judge spec gives it
    (``--judge llm:max_steps=4,short_circuit=false``).
    """

    def __init__(
        self,
        base_url: str | list[str] | None = None,
        model: str | None = None,
        *,
        api_key: str | None = None,
        skill: str | None = None,
        skills_dirs: tuple[str, ...] | list[str] | str = (),
        short_circuit: bool | str = True,
        dedup: bool | str = True,
        max_steps: int | str = 6,
        temperature: float | str = 0.0,
        max_tokens: int | str | None = 2048,
        timeout: float | str = 120.0,
        concurrency: int | str | list[int] = 8,
        retries: int | str = 4,
        enable_thinking: bool | str = False,
        cache: Any = None,
        compact: bool | str = "auto",
        swap: bool | str = "auto",
        pool: EndpointPool | None = None,
        evidence: EvidenceJudge | None = None,
        registry: SkillRegistry | None = None,
    ) -> None:
        self.short_circuit = _flag(short_circuit, "short_circuit")
        self.dedup = ClusterDedup(self) if _flag(dedup, "dedup") else None
        self.max_steps = _number(max_steps, "max_steps", int, 0)
        self.temperature = _number(temperature, "temperature", float, 0)
        self.max_tokens = (
            None if max_tokens in (None, "none") else _number(max_tokens, "max_tokens", int, 1)
        )
        self.enable_thinking = _flag(enable_thinking, "enable_thinking")
        self.compact = _compact(compact)
        self.swap = None if swap == "auto" else _flag(swap, "swap")
        if isinstance(skills_dirs, str):
            skills_dirs = [d for d in skills_dirs.split(":") if d]
        self.registry = registry or SkillRegistry.from_dirs(skills_dirs)
        self.skill_name = skill
        if skill is not None:
            self.registry.get(skill)  # an unknown name fails now, listing the others
        if pool is None:
            if isinstance(concurrency, str):
                concurrency = _number(concurrency, "concurrency", int, 1)
            pool = EndpointPool(
                base_url if base_url is not None else [],
                model,
                api_key=api_key,
                concurrency=concurrency,
                timeout=_number(timeout, "timeout", float, 0.001),
                retries=_number(retries, "retries", int, 0),
                enable_thinking=self.enable_thinking,
            )
        self.pool = pool
        self.enable_thinking = pool.enable_thinking  # a given pool decides (it sends it)
        self.evidence = evidence or EvidenceJudge()
        self._cache_option = cache
        self._cache: VerdictCache | NullCache | None = None
        self._tools_supported = True
        self._prefixes: dict[tuple[str, bool], str] = {}
        self.own_answers = OwnAnswers(self)
        self.spec = "llm" if model is None else f"llm:model={model}"

    protocol = PROTOCOL

    # -- parts --------------------------------------------------------------------------

    async def use_compact(self) -> bool:
        """Whether this judge sends compact skills (``compact=auto``: by the model's size)."""
        if self.compact is None:
            return small_model(await self.pool.resolve_model())
        return self.compact

    @property
    def cache(self) -> VerdictCache | NullCache:
        """The verdict cache, opened on first use (a run the evidence decides opens none)."""
        if self._cache is None:
            self._cache = _open_cache(self._cache_option)
        return self._cache

    def prefix(self, skill: Skill, compact: bool = False) -> str:
        """The skill's rendered prefix: the same string object for every call."""
        key = (skill.hash, compact)
        if key not in self._prefixes:
            self._prefixes[key] = render(skill, compact=compact)
        return self._prefixes[key]

    async def prepare(self, item: Item) -> _Ready:
        """Route ``item`` to its skill, and gather the evidence the skill may see."""
        kind, standings = await self.evidence.assess(item)
        skill = (
            self.registry.get(self.skill_name)
            if self.skill_name is not None
            else self.registry.for_kind(kind)
        )
        view = _gated(item, skill)
        if view is not item:  # the reference is withheld, and so are its checks
            kind, standings = await self.evidence.assess(view)
        return _Ready(skill, view, kind, standings)

    # -- judging ------------------------------------------------------------------------

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        """Which of ``a`` (shown first, as A) and ``b`` (as B) is better.

        With ``dedup`` (on by default) equivalent candidates are compared once: a pair in
        one cluster is a tie, other pairs reuse the verdict on their clusters'
        representatives (:mod:`rerank.judges.llm.dedup`).
        """
        ready = await self.prepare(item)
        if self.short_circuit:
            decided = await self.evidence.hard_verdict(ready.view, a, b)
            if decided is not None:
                return decided
        if self.dedup is not None and not self.dedup.active():  # equivalent ones: once
            return await self.dedup.compare(item, ready, a, b)
        note, solve_cost = None, Cost()
        if OwnAnswers.applies(ready, await self.use_compact()):
            own, first = await self.own_answers.get(ready)
            solve_cost = own.cost if first else Cost()
            decided = own_answer_verdict(own, a, b, f"{self.name}:{ready.skill.name}", solve_cost)
            if decided is not None:
                return decided
            note = own_answer_note(own)
        if await self._swaps(ready):  # the two orders concurrently, as --both-orders does
            verdict = both_orders_verdict(
                *await asyncio.gather(self._ask(ready, a, b, note), self._ask(ready, b, a, note))
            )
        else:
            verdict = await self._ask(ready, a, b, note)
        return replace(verdict, cost=verdict.cost + solve_cost)

    async def _swaps(self, ready: _Ready) -> bool:
        """Whether pairwise questions on this item are asked in both display orders."""
        if self.swap is not None:
            return self.swap
        return ready.skill.compact is not None and await self.use_compact()

    async def _ask(self, ready: _Ready, a: int, b: int, note: str | None) -> Verdict:
        """The model's verdict on ``a`` shown as A and ``b`` as B."""
        shown = [
            Shown(label, ready.view.candidates[i].text, ready.standings[i])
            for label, i in (("A", a), ("B", b))
        ]
        outcome, cost, judge = await self._judge(ready, shown, "pairwise", note=note)
        return Verdict(
            outcome.winner,
            reason=outcome.reason,
            confidence=outcome.confidence,
            evidence=outcome.evidence,
            raw=outcome.raw,
            judge=judge,
            cost=cost,
            flags=outcome.flags,
        )

    async def score(self, item: Item, index: int) -> Score:
        """Candidate ``index`` on the skill's scale (``value=None`` when invalid)."""
        ready = await self.prepare(item)
        shown = [Shown("A", ready.view.candidates[index].text, ready.standings[index])]
        outcome, cost, judge = await self._judge(ready, shown, "pointwise")
        return Score(
            outcome.score if outcome.winner != "invalid" else None,
            reason=outcome.reason,
            flags=outcome.flags,
            evidence=outcome.evidence,
            raw=outcome.raw,
            judge=judge,
            cost=cost,
        )

    async def _judge(
        self, ready: _Ready, shown: list[Shown], mode: str, *, note: str | None = None
    ) -> tuple[_Outcome, Cost, str]:
        skill = ready.skill
        judge = f"{self.name}:{skill.name}"
        compact = await self.use_compact() and mode == "pairwise" and skill.compact is not None
        contract = skill.contract[mode]
        tools = None
        if not compact and self._tools_supported:
            context = ToolContext(ready.view, skill, shown, ready.kind, self.evidence.verifiers)
            tools = ToolBox(context, contract)
        system = self.prefix(skill, compact)
        user = user_message(
            ready.view,
            skill,
            shown,
            ready.kind,
            mode=mode,
            tools=tools.names if tools else None,
            note=note,
        )
        key = self.cache.key(
            model=await self.pool.resolve_model(),
            skill=skill.hash,
            prompt=ready.view.prompt,
            candidates=[s.text for s in shown],
            mode=mode,
            # The evidence shown depends on the other candidates too (cluster sizes).
            question=hashlib.sha256(user.encode()).hexdigest(),
            parameters={
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "max_steps": self.max_steps,
                "enable_thinking": self.enable_thinking,
                "compact": compact,
            },
            protocol=PROTOCOL,
        )
        cached = self.cache.get(key)
        if cached is not None:
            return _Outcome.from_dict(cached), Cost(), f"{judge}:cached"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        spent: list[Usage] = []
        loop = await self._converse(messages, contract, mode, tools, compact, ready, shown, spent)
        outcome = self._outcome(loop, mode, skill, shown, tools)
        if outcome.winner != "invalid":  # a rerun retries what failed; it keeps the rest
            self.cache.put(key, outcome.to_dict())
        return outcome, Cost(**asdict(sum(spent, Usage()))), judge

    async def _converse(
        self,
        messages: list[dict[str, Any]],
        contract: dict[str, Any],
        mode: str,
        tools: ToolBox | None,
        compact: bool,
        ready: _Ready,
        shown: list[Shown],
        spent: list[Usage],
    ) -> LoopResult:
        """The conversation; ``spent`` gets the usage of every answered call (also of a
        tool conversation abandoned for text)."""

        async def chat(messages: list[dict[str, Any]], **options: Any) -> ChatResult:
            result = await self.pool.chat(
                messages, temperature=self.temperature, max_tokens=self.max_tokens, **options
            )
            spent.append(result.usage)
            return result

        run = functools.partial(converse, chat, contract=contract, mode=mode, lines=compact)
        try:
            return await run(messages, tools=tools, max_steps=self.max_steps)
        except RequestRejectedError as exc:
            if tools is None or "tool" not in str(exc).lower():
                raise
            # A server without tool calling (vLLM without --enable-auto-tool-choice):
            # ask for the verdict as text from now on.
            log.warning("%s; asking for verdicts as text from now on", exc)
            self._tools_supported = False
        user = user_message(ready.view, ready.skill, shown, ready.kind, mode=mode, tools=None)
        return await run([messages[0], {"role": "user", "content": user}], tools=None, max_steps=0)

    def _outcome(
        self, loop: LoopResult, mode: str, skill: Skill, shown: list[Shown], tools: ToolBox | None
    ) -> _Outcome:
        decision = loop.decision
        if decision is None:
            return _Outcome("invalid", None, loop.problem, None, (), loop.raw, ())
        known = set(skill.citable_ids)
        for one in shown:
            if one.standing.evidence is not None:
                known.update(check.id for check in one.standing.evidence.checks)
        if tools is not None:
            known.update(tools.names)
            known.update(tools.revealed)
        unknown = unknown_evidence(decision.evidence, known)
        flags = (f"cites unknown evidence: {', '.join(unknown)}",) if unknown else ()
        reason = decision.reason or f"the reply gave no reason (verdict read from a {decision.via})"
        winner = decision.winner if mode == "pairwise" else "valid"
        assert winner is not None
        return _Outcome(
            winner, decision.score, reason, decision.confidence, decision.evidence,
            decision.raw, flags,
        )  # fmt: skip

    # -- the rest -----------------------------------------------------------------------

    async def explain(self, item: Item) -> dict[str, Any]:
        """The task kind, the skill (name, version, hash), the model and the evidence, for
        the trace."""
        ready = await self.prepare(item)
        found = await self.evidence.explain(ready.view)
        return {
            "task_kind": found["task_kind"],
            "skill": ready.skill.name,
            "skill_version": ready.skill.version,
            "skill_hash": ready.skill.hash,
            "model": self.pool.model,
            "evidence": found["evidence"],
        }

    async def aclose(self) -> None:
        """Close the endpoint pool and the cache."""
        await self.pool.aclose()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        await self.evidence.aclose()

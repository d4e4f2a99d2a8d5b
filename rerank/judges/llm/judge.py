"""The skill-driven LLM judge behind OpenAI-compatible endpoints (``--judge llm``).

For each comparison :class:`LLMJudge`

1. gathers the verifier evidence of the item (once per item, through its
   :class:`~rerank.judges.evidence.EvidenceJudge`) and routes the item to a skill (by task
   kind, or the one forced with ``skill=``);
2. returns the evidence's verdict when hard evidence decides the pair (``short_circuit``,
   on by default): no request is made;
3. compares equivalent candidates once (``dedup``, :mod:`~rerank.judges.llm.dedup`);
4. returns a cached verdict when the same question was answered before: no request;
5. otherwise runs the skill's conversation (:func:`~rerank.judges.llm.loop.converse`):
   the skill prefix as the system message, the item with candidates A (= ``a``) and
   B (= ``b``) and their evidence, tools, a forced final answer, a text re-ask;
6. binds the verdict to evidence: cited ids that exist nowhere are kept and flagged.

Every verdict says how it was reached (``via``: model, cache, dedup, evidence, own-answer).
The judge only ever sees what the selector hands it (``item.public()``: no labels), and of
that the reference only when the item exposes it and the skill grants it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from rerank.errors import RequestRejectedError
from rerank.items import Item
from rerank.judges.base import BaseJudge, Cost, Score, Verdict, Via, register_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.dedup import ClusterDedup
from rerank.judges.llm.loop import LoopResult, converse
from rerank.judges.llm.options import LLMOptions, ModelOptions
from rerank.judges.llm.parse import unknown_evidence
from rerank.judges.llm.prompt import Shown, user_message
from rerank.judges.llm.question import PROTOCOL, Prepared, question_key
from rerank.judges.llm.solve import OwnAnswers, own_answer_note, own_answer_verdict
from rerank.judges.llm.tools import ToolBox, ToolContext
from rerank.llm import ChatBackend, ChatResult, EndpointPool, NullCache, Usage, VerdictCache
from rerank.skills import GATED, Skill, SkillRegistry, render
from tournaments import combine_orders

__all__ = ["PROTOCOL", "LLMJudge", "Prepared", "both_orders_verdict", "small_model", "take_cache"]

log = logging.getLogger(__name__)

_SIZE = re.compile(r"(?<![0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
#: Models up to this many billion parameters get the compact form under ``compact=auto``.
SMALL_MODEL_BILLIONS = 3.0


def small_model(name: str | None) -> bool:
    """Whether a model id names a small model (``...-1.5B-...``, ``SmolLM2-135M``).

    Parameters
    ----------
    name : a model id (the part after the last ``/`` is read), or None.

    Returns
    -------
    bool, true for at most :data:`SMALL_MODEL_BILLIONS` billion parameters by the id.

    Examples
    --------
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


def _open_cache(option: bool | str) -> VerdictCache | NullCache:
    """The cache an option names: True the default file, False none, else a path."""
    if option is True:
        return VerdictCache()
    if option is False:
        return NullCache()
    return VerdictCache(option)


@dataclass(frozen=True)
class _Judgement:
    """What the model decided, before it becomes a Verdict or a Score (what the cache
    stores)."""

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
    def from_dict(cls, data: dict[str, Any]) -> _Judgement:
        return cls(**{**data, "evidence": tuple(data["evidence"]), "flags": tuple(data["flags"])})


def both_orders_verdict(forward: Verdict, backward: Verdict) -> Verdict:
    """One verdict from both display orders of one question.

    Combined by :func:`tournaments.combine_orders`: kept when both name the same
    candidate, a tie when they disagree (the display order decided), invalid when either
    is. Costs add up; the reason says which case it was; ``judge`` and ``via`` are the
    forward verdict's.

    Parameters
    ----------
    forward : the verdict with ``a`` shown first.
    backward : the verdict with ``b`` shown first, its winner relative to ``(b, a)``.

    Returns
    -------
    Verdict relative to ``(a, b)``.

    Examples
    --------
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
        via=forward.via,
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

    Every option may be given as a value or as the string a spec gives
    (``--judge llm:max_steps=4,short_circuit=false``); they become :class:`LLMOptions`
    once, when the judge is built, and a bad one is a ``ConfigError`` naming it.

    Parameters
    ----------
    base_url : one URL, several separated by commas, or a list (positional, first).
    model : the model id (positional, second); default: the first one the server lists.
    api_key : default ``$RERANK_API_KEY``, else ``$OPENAI_API_KEY``; never logged or
        recorded.
    skill : one skill for every item (default: by task kind).
    skills_dirs : more skill folders (a list, or one string of ``:``-separated folders).
    short_circuit : return the evidence's verdict when hard evidence decides (default on).
    dedup : compare equivalent candidates once (default on; :mod:`.dedup`).
    max_steps : tool-calling steps before one forced final answer and one text re-ask
        (default 6).
    temperature : sampling temperature (default 0).
    max_tokens : per model call (default 2048; ``None``: no limit).
    timeout : seconds per whole request (default 120).
    concurrency : requests in flight per endpoint: one number, or one per URL (default 8).
    retries : rounds over the endpoints after the first (default 4).
    enable_thinking : let a thinking model think (default off).
    cache : the verdict cache: a path, ``True``/``None`` the default file, ``False`` none,
        or a :class:`~rerank.llm.VerdictCache` / :class:`~rerank.llm.NullCache`.
    compact : send the compact form of the skill: true, false or ``"auto"`` (default:
        for small models, :func:`small_model`).
    swap : ask each question in both display orders and keep a verdict only when the two
        agree (:func:`both_orders_verdict`): true, false or ``"auto"`` (default: for
        compact questions, whose small models tend to name whichever response comes first).
    options : all options at once (the keywords above then apply on top).
    pool : the :class:`~rerank.llm.ChatBackend` to ask, instead of an
        :class:`~rerank.llm.EndpointPool` built from the options (for sharing, and tests).
    evidence : the :class:`~rerank.judges.EvidenceJudge` to build on (shared, or one that
        runs code candidates elsewhere).
    registry : the skills (default: built-in ones and ``skills_dirs``).
    """

    Options: ClassVar[type[ModelOptions]] = LLMOptions
    options: ModelOptions
    protocol = PROTOCOL

    def __init__(
        self,
        *args: Any,
        options: LLMOptions | None = None,
        pool: ChatBackend | None = None,
        evidence: EvidenceJudge | None = None,
        registry: SkillRegistry | None = None,
        **values: Any,
    ) -> None:
        store = take_cache(values)
        given = LLMOptions.build(options, args, values, judge=self.name)
        if pool is None:
            pool = EndpointPool(
                list(given.base_url),
                given.model,
                api_key=given.api_key,
                concurrency=given.concurrency,
                timeout=given.timeout,
                retries=given.retries,
                enable_thinking=given.enable_thinking,
            )
        self._start(given, pool, evidence, registry, store)

    def _start(
        self,
        options: ModelOptions,
        pool: ChatBackend,
        evidence: EvidenceJudge | None,
        registry: SkillRegistry | None,
        store: VerdictCache | NullCache | None,
    ) -> None:
        """Set up the judge on its options and collaborators (shared with the local judge)."""
        self.use_options(options)
        self.registry = registry or SkillRegistry.from_dirs(list(options.skills_dirs))
        if options.skill is not None:
            self.registry.get(options.skill)  # an unknown name fails now, listing the others
        self.pool = pool
        self.evidence = evidence or EvidenceJudge()
        self._given_cache = store  # a cache object given in place of the option
        self._cache: VerdictCache | NullCache | None = None
        self._tools_supported = True
        self._prefixes: dict[tuple[str, bool], str] = {}
        self.dedup = ClusterDedup(self._undeduplicated, judge=self.name) if options.dedup else None
        self.own_answers = OwnAnswers(
            pool, lambda: self.cache, self.evidence.assess, temperature=options.temperature
        )

    # -- parts --------------------------------------------------------------------------

    async def use_compact(self) -> bool:
        """Whether this judge sends compact skills (``compact=auto``: by the model's size)."""
        if self.options.compact is None:
            return small_model(await self.pool.resolve_model())
        return self.options.compact

    @property
    def cache(self) -> VerdictCache | NullCache:
        """The verdict cache, opened on first use (a run the evidence decides opens none)."""
        if self._cache is None:
            self._cache = self._given_cache or _open_cache(self.options.cache)
        return self._cache

    def prefix(self, skill: Skill, compact: bool = False) -> str:
        """The skill's rendered prefix: the same string object for every call."""
        key = (skill.hash, compact)
        if key not in self._prefixes:
            self._prefixes[key] = render(skill, compact=compact)
        return self._prefixes[key]

    async def prepare(self, item: Item) -> Prepared:
        """Route ``item`` to its skill, and gather the evidence the skill may see."""
        kind, standings = await self.evidence.assess(item)
        skill = (
            self.registry.get(self.options.skill)
            if self.options.skill is not None
            else self.registry.for_kind(kind)
        )
        view = _gated(item, skill)
        if view is not item:  # the reference is withheld, and so are its checks
            kind, standings = await self.evidence.assess(view)
        return Prepared(skill, view, kind, standings)

    # -- judging ------------------------------------------------------------------------

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        """Which of ``a`` (shown first, as A) and ``b`` (as B) is better.

        With ``dedup`` (on by default) equivalent candidates are compared once: a pair in
        one cluster is a tie, other pairs reuse the verdict on their clusters'
        representatives (:mod:`rerank.judges.llm.dedup`).
        """
        prepared = await self.prepare(item)
        if self.dedup is None:
            return await self._undeduplicated(prepared, a, b)
        decided = await self._short_circuit(prepared, a, b)
        if decided is not None:
            return decided
        return await self.dedup.compare(prepared, a, b)

    async def _short_circuit(self, prepared: Prepared, a: int, b: int) -> Verdict | None:
        """The evidence's verdict when hard evidence decides the pair (``short_circuit``)."""
        if not self.options.short_circuit:
            return None
        return await self.evidence.hard_verdict(prepared.view, a, b)

    async def _undeduplicated(self, prepared: Prepared, a: int, b: int) -> Verdict:
        """The judge's answer on ``(a, b)`` without deduplication: the evidence when it
        decides, else the model's own answer when it decides, else the model."""
        decided = await self._short_circuit(prepared, a, b)
        if decided is not None:
            return decided
        note, solve_cost = None, Cost()
        if OwnAnswers.applies(prepared, await self.use_compact()):
            own, first = await self.own_answers.get(prepared)
            solve_cost = own.cost if first else Cost()
            judge = f"{self.name}:{prepared.skill.name}"
            decided = own_answer_verdict(own, a, b, judge, solve_cost)
            if decided is not None:
                return decided
            note = own_answer_note(own)
        if await self._swaps(prepared):  # the two orders concurrently, as --both-orders does
            verdict = both_orders_verdict(
                *await asyncio.gather(
                    self._ask(prepared, a, b, note), self._ask(prepared, b, a, note)
                )
            )
        else:
            verdict = await self._ask(prepared, a, b, note)
        return replace(verdict, cost=verdict.cost + solve_cost)

    async def _swaps(self, prepared: Prepared) -> bool:
        """Whether pairwise questions on this item are asked in both display orders."""
        if self.options.swap is not None:
            return self.options.swap
        return prepared.skill.compact is not None and await self.use_compact()

    async def _ask(self, prepared: Prepared, a: int, b: int, note: str | None) -> Verdict:
        """The model's verdict on ``a`` shown as A and ``b`` as B."""
        shown = [
            Shown(label, prepared.view.candidates[i].text, prepared.standings[i])
            for label, i in (("A", a), ("B", b))
        ]
        judged, cost, via = await self._judge(prepared, shown, "pairwise", note=note)
        return Verdict(
            judged.winner,
            reason=judged.reason,
            confidence=judged.confidence,
            evidence=judged.evidence,
            raw=judged.raw,
            judge=f"{self.name}:{prepared.skill.name}",
            cost=cost,
            flags=judged.flags,
            via=via,
        )

    async def score(self, item: Item, index: int) -> Score:
        """Candidate ``index`` on the skill's scale (``value=None`` when invalid)."""
        prepared = await self.prepare(item)
        shown = [Shown("A", prepared.view.candidates[index].text, prepared.standings[index])]
        judged, cost, via = await self._judge(prepared, shown, "pointwise")
        return Score(
            judged.score if judged.winner != "invalid" else None,
            reason=judged.reason,
            flags=judged.flags,
            evidence=judged.evidence,
            raw=judged.raw,
            judge=f"{self.name}:{prepared.skill.name}",
            cost=cost,
            via=via,
        )

    async def _judge(
        self, prepared: Prepared, shown: list[Shown], mode: str, *, note: str | None = None
    ) -> tuple[_Judgement, Cost, Via]:
        """The model's judgement of ``shown``, from the cache or a conversation."""
        skill = prepared.skill
        compact = await self.use_compact() and mode == "pairwise" and skill.compact is not None
        contract = skill.contract[mode]
        tools = None
        if not compact and self._tools_supported:
            context = ToolContext(
                prepared.view, skill, shown, prepared.kind, self.evidence.verifiers
            )
            tools = ToolBox(context, contract)
        system = self.prefix(skill, compact)
        user = user_message(
            prepared.view,
            skill,
            shown,
            prepared.kind,
            mode=mode,
            tools=tools.names if tools else None,
            note=note,
        )
        options = self.options
        key = question_key(
            model=await self.pool.resolve_model(),
            skill=skill,
            prompt=prepared.view.prompt,
            candidates=[s.text for s in shown],
            mode=mode,
            question=user,
            parameters={
                "temperature": options.temperature,
                "max_tokens": options.max_tokens,
                "max_steps": options.max_steps,
                "enable_thinking": self.pool.enable_thinking,  # a backend sends what it sends
                "compact": compact,
            },
        )
        cached = self.cache.get(key)
        if cached is not None:
            return _Judgement.from_dict(cached), Cost(), "cache"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        spent: list[Usage] = []
        loop = await self._converse(
            messages, contract, mode, tools, compact, prepared, shown, spent
        )
        judged = self._judgement(loop, mode, skill, shown, tools)
        if judged.winner != "invalid":  # a rerun retries what failed; it keeps the rest
            self.cache.put(key, judged.to_dict())
        return judged, Cost(**asdict(sum(spent, Usage()))), "model"

    async def _converse(
        self,
        messages: list[dict[str, Any]],
        contract: dict[str, Any],
        mode: str,
        tools: ToolBox | None,
        compact: bool,
        prepared: Prepared,
        shown: list[Shown],
        spent: list[Usage],
    ) -> LoopResult:
        """The conversation; ``spent`` gets the usage of every answered call (also of a
        tool conversation abandoned for text)."""
        options = self.options

        async def chat(messages: list[dict[str, Any]], **sampling: Any) -> ChatResult:
            result = await self.pool.chat(
                messages,
                temperature=options.temperature,
                max_tokens=options.max_tokens,
                **sampling,
            )
            spent.append(result.usage)
            return result

        run = functools.partial(converse, chat, contract=contract, mode=mode, lines=compact)
        try:
            return await run(messages, tools=tools, max_steps=options.max_steps)
        except RequestRejectedError as exc:
            if tools is None or "tool" not in str(exc).lower():
                raise
            # A server without tool calling (vLLM without --enable-auto-tool-choice):
            # ask for the verdict as text from now on.
            log.warning("%s; asking for verdicts as text from now on", exc)
            self._tools_supported = False
        user = user_message(
            prepared.view, prepared.skill, shown, prepared.kind, mode=mode, tools=None
        )
        return await run([messages[0], {"role": "user", "content": user}], tools=None, max_steps=0)

    def _judgement(
        self, loop: LoopResult, mode: str, skill: Skill, shown: list[Shown], tools: ToolBox | None
    ) -> _Judgement:
        decision = loop.decision
        if decision is None:
            return _Judgement("invalid", None, loop.problem, None, (), loop.raw, ())
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
        return _Judgement(
            winner, decision.score, reason, decision.confidence, decision.evidence,
            decision.raw, flags,
        )  # fmt: skip

    # -- the rest -----------------------------------------------------------------------

    async def explain(self, item: Item) -> dict[str, Any]:
        """The task kind, the skill (name, version, hash), the model and the evidence, for
        the trace."""
        prepared = await self.prepare(item)
        found = await self.evidence.explain(prepared.view)
        return {
            "task_kind": found["task_kind"],
            "skill": prepared.skill.name,
            "skill_version": prepared.skill.version,
            "skill_hash": prepared.skill.hash,
            "model": self.pool.model,
            "evidence": found["evidence"],
        }

    async def aclose(self) -> None:
        """Close the backend, the cache and the evidence judge."""
        await self.pool.aclose()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        await self.evidence.aclose()


def take_cache(values: dict[str, Any]) -> VerdictCache | NullCache | None:
    """Take a cache object given as ``cache=`` out of a model judge's keyword arguments
    ``values``: it is a collaborator, not an option (a path or a flag stays there)."""
    if isinstance(values.get("cache"), VerdictCache | NullCache):
        return values.pop("cache")
    return None

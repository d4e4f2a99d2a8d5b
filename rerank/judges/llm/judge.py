"""The skill-driven LLM judge behind OpenAI-compatible endpoints (``--judge llm``).

For each comparison :class:`LLMJudge`

1. gathers the verifier evidence of the item (once per item, through its
   :class:`~rerank.judges.evidence.EvidenceJudge`) and routes the item to a skill (by task
   kind, or the one forced with ``skill=``);
2. returns the evidence's verdict when hard evidence decides the pair (``short_circuit``,
   on by default): no request is made;
3. compares equivalent candidates once (``dedup``, :mod:`~rerank.judges.llm.dedup`);
4. returns a cached verdict when the same question was answered before: no request;
5. for compact math skills, solves the problem first and lets the model's own answer decide
   when exactly one candidate reaches it (:mod:`~rerank.judges.llm.solve`);
6. otherwise asks the model: with log-probability verdicts (``verdict=logprobs``, the
   default on the compact route where the endpoint sends them) one-token "A or B?"
   questions in both display orders (:mod:`~rerank.judges.llm.probabilities`); with text
   verdicts the skill's conversation (:func:`~rerank.judges.llm.loop.converse`): the skill
   prefix as the system message, the item with candidates A (= ``a``) and B (= ``b``) and
   their evidence, tools, a forced final answer, a text re-ask, every request kept inside
   the model's context;
7. binds a text verdict to evidence: cited ids that exist nowhere are kept and flagged.

Every verdict says how it was reached (``via``: model, cache, dedup, evidence, own-answer).
The judge only ever sees what the selector hands it (``item.public()``: no labels), and of
that the reference only when the item exposes it and the skill grants it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from rerank.errors import RequestRejectedError
from rerank.items import Item
from rerank.judges.base import BaseJudge, Cost, Score, Verdict, Via, register_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.context import ContextBudget
from rerank.judges.llm.dedup import ClusterDedup
from rerank.judges.llm.loop import LoopResult, converse
from rerank.judges.llm.options import LLMOptions, ModelOptions
from rerank.judges.llm.parse import unknown_evidence
from rerank.judges.llm.predict import Differing, OwnResults, differing_outputs
from rerank.judges.llm.probabilities import LabelQuestions, NoLogprobs
from rerank.judges.llm.prompt import Shown, user_message
from rerank.judges.llm.question import PROTOCOL, Prepared, question_key
from rerank.judges.llm.route import both_orders_verdict, small_by_size, small_model
from rerank.judges.llm.solve import OwnAnswer, OwnAnswers, own_answer_note, own_answer_verdict
from rerank.judges.llm.tools import ToolBox, ToolContext
from rerank.llm import ChatBackend, ChatResult, EndpointPool, NullCache, Usage, VerdictCache
from rerank.llm.server_info import ServerInfo
from rerank.skills import GATED, Skill, SkillRegistry, render

__all__ = [
    "PROTOCOL",
    "LLMJudge",
    "Prepared",
    "both_orders_verdict",
    "small_by_size",
    "small_model",
    "take_cache",
]

log = logging.getLogger(__name__)


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
        Log-probability verdicts average the two orders (``swap=false``: one order).
    verdict : ``"logprobs"`` (one-token answers read from their log-probabilities),
        ``"text"`` (the reply's text: the compact lines or the full tool loop) or ``"auto"``
        (default: log-probabilities on the compact route when the endpoint sends them,
        else text; the full tool loop stays the route for large models).
    margin : a log-probability verdict is a tie when P(A better) is within this of 0.5
        (default :data:`~rerank.judges.llm.options.DEFAULT_MARGIN`).
    solve : solve math problems first and use the own answer (``"auto"``: on the compact
        route, for skills with a ``solve`` instruction).
    outputs : with log-probability verdicts, on a code pair the evidence leaves tied
        whose programs give different results for the same call (the behaviour probes),
        ask which result the task asks for, on up to this many such calls, instead of
        which program is better (default 3; 0: never).
    context : tokens per request (default: what the server reports, ``/props`` or
        ``/v1/models``); every request is kept inside it.
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
        self.labels = LabelQuestions(pool, lambda: self.cache)
        self.own_results = OwnResults(pool, lambda: self.cache)
        self._info: ServerInfo | None = None

    async def server_info(self) -> ServerInfo:
        """What the backend's server says about itself (nothing for a backend that cannot
        ask), with the ``context`` option in place of the reported context."""
        if self._info is None:
            ask = getattr(self.pool, "server_info", None)
            info = await ask() if ask is not None else ServerInfo()
            given = getattr(self.options, "context", None)
            self._info = replace(info, context=given) if given is not None else info
        return self._info

    # -- parts --------------------------------------------------------------------------

    async def use_compact(self) -> bool:
        """Whether this judge sends compact skills (``compact=auto``: by the model's size,
        from its id or from the parameter count its server reports)."""
        if self.options.compact is None:
            if small_model(await self.pool.resolve_model()):
                return True
            return small_by_size(await self.server_info())
        return self.options.compact

    async def use_logprobs(self, prepared: Prepared) -> bool:
        """Whether questions on this item are one-token log-probability questions
        (``verdict``): never for a skill without a compact form, nor once the endpoint
        has shown that it sends no log-probabilities."""
        mode = self.options.verdict
        if mode == "text" or prepared.skill.compact is None or self.labels.supported is False:
            return False
        return mode == "logprobs" or await self.use_compact()

    async def _solves(self, prepared: Prepared, *, code: bool = False) -> bool:
        """Whether the model solves this item first (``solve``; auto: compact math), or,
        with ``code``, works out the calls where two programs differ (auto: compact)."""
        if self.options.solve is False:
            return False
        compact = self.options.solve or await self.use_compact()
        if code:
            return compact
        return OwnAnswers.applies(prepared, compact)

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
        judge = f"{self.name}:{prepared.skill.name}"
        own, solve_cost = await self._own_answer(prepared)
        if own is not None:
            decided = own_answer_verdict(own, a, b, judge, solve_cost)
            if decided is not None:
                return decided
        note = own_answer_note(own) if own is not None else None
        differ: list[Differing] = []
        if prepared.kind == "code" and self.options.outputs:
            found = differing_outputs(prepared.standings[a], prepared.standings[b])
            differ = found[: self.options.outputs]
        if differ and await self._solves(prepared, code=True):
            decided, predict_cost = await self.own_results.verdict(prepared, a, b, differ, judge)
            if decided is not None:
                return decided
            solve_cost = solve_cost + predict_cost
        if await self.use_logprobs(prepared):
            ask = self.labels.verdict
            if differ:
                ask = functools.partial(self.labels.outputs_verdict, calls=differ)
            try:
                verdict = await ask(
                    prepared, a, b,
                    model=await self.pool.resolve_model(), judge=judge,
                    margin=self.options.margin, both_orders=self.options.swap is not False,
                    note=note,
                )  # fmt: skip
                return replace(verdict, cost=verdict.cost + solve_cost)
            except NoLogprobs:
                pass  # the endpoint sends none: the text question, from now on
        if await self._swaps(prepared):  # the two orders concurrently, as --both-orders does
            verdict = both_orders_verdict(
                *await asyncio.gather(
                    self._ask(prepared, a, b, note), self._ask(prepared, b, a, note)
                )
            )
        else:
            verdict = await self._ask(prepared, a, b, note)
        return replace(verdict, cost=verdict.cost + solve_cost)

    async def _own_answer(self, prepared: Prepared) -> tuple[OwnAnswer | None, Cost]:
        """The model's own answer when it solves this item first, and the solve's cost
        (carried by the first verdict that needed it)."""
        if not await self._solves(prepared):
            return None, Cost()
        own, first = await self.own_answers.get(prepared)
        return own, own.cost if first else Cost()

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
        """Candidate ``index`` on the skill's scale (``value=None`` when invalid); with
        log-probability verdicts, P(yes) for "is it correct?" (a value in [0, 1])."""
        prepared = await self.prepare(item)
        if await self.use_logprobs(prepared):
            own, solve_cost = await self._own_answer(prepared)
            try:
                scored = await self.labels.score(
                    prepared, index,
                    model=await self.pool.resolve_model(),
                    judge=f"{self.name}:{prepared.skill.name}",
                    note=own_answer_note(own) if own is not None else None,
                )  # fmt: skip
                return replace(scored, cost=scored.cost + solve_cost)
            except NoLogprobs:
                pass
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

        context = (await self.server_info()).context
        budget = None
        if context is not None:
            reply = options.max_tokens if options.max_tokens is not None else context // 4
            budget = ContextBudget(context, min(reply, context // 2))
        run = functools.partial(
            converse, chat, contract=contract, mode=mode, lines=compact, budget=budget
        )
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

"""The embedded local judge (``--judge local``), and the default evidence-then-local chain.

:class:`LocalJudge` is the skill-driven :class:`~rerank.judges.llm.judge.LLMJudge` talking, through
the ``openai`` client, to llama.cpp's server run inside this process
(:class:`~rerank.local.server.LocalServer`) on a free loopback port. The server starts on
the first comparison the evidence cannot decide (a run that evidence decides loads no
model) and stops when the judge is closed. The model is small, so the judge sends compact
skills and, for math, solves the problem first (:mod:`rerank.judges.llm.solve`). Its
verdicts come from the log-probabilities of one-token answers
(:mod:`rerank.judges.llm.probabilities`; ``verdict=text`` asks for ``Verdict: A`` lines
instead). The server keeps a prompt cache per slot (``cache_prompt``) and has two slots by
default, one per display order, so that the prefix questions share (the skill, the
problem, its evidence) is processed once per slot.

:class:`EvidenceThenLocal` (``--judge evidence+local``) asks the evidence judge first and
the local model only where the evidence ties. Every verdict names the judge that decided
it (``evidence``, ``local:math``) and how (``via``: ``evidence``, ``own-answer``,
``model``, ...), and the output rows count them per match.
:func:`rerank.selector.default_judge_spec` picks the default of ``rerank select``: this
chain when the local model is installed, else the evidence judge alone (whose undecidable
pairs are explicit ties).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rerank.errors import ModelUnavailable
from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.judge import LLMJudge, take_cache
from rerank.judges.llm.options import LocalOptions
from rerank.llm import ChatResult, EndpointPool, Usage
from rerank.llm.server_info import ServerInfo
from rerank.local.models import available, get_model, model_path
from rerank.local.server import LocalServer, import_xllamacpp
from rerank.skills import SkillRegistry

__all__ = ["EvidenceThenLocal", "LocalBackend", "LocalJudge"]


class LocalBackend:
    """A :class:`~rerank.llm.ChatBackend` over the local server, which starts on the first
    call (an :class:`~rerank.llm.EndpointPool` on its loopback URL does the requests).

    Parameters
    ----------
    server : the server to start (not started yet).
    model : the model id it serves.
    concurrency : requests in flight (the server's slots).
    timeout : seconds per whole request.
    """

    enable_thinking = False  # small local models are not thinking models

    def __init__(self, server: LocalServer, model: str, concurrency: int, timeout: float) -> None:
        self.server = server
        self.model: str | None = model
        self.concurrency = concurrency
        self.timeout = timeout
        self._pool: EndpointPool | None = None
        self._lock = asyncio.Lock()

    @property
    def totals(self) -> Usage:
        return self._pool.totals if self._pool is not None else Usage()

    async def _started(self) -> EndpointPool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    await asyncio.to_thread(self.server.start)
                    self._pool = EndpointPool(
                        self.server.base_url,
                        self.model,
                        concurrency=self.concurrency,
                        timeout=self.timeout,
                        retries=1,
                    )
        return self._pool

    async def resolve_model(self) -> str:
        assert self.model is not None
        return self.model

    async def chat(self, messages: Sequence[Mapping[str, Any]], **options: Any) -> ChatResult:
        pool = await self._started()
        # llama.cpp reuses a slot's cached prompt prefix (on by default; said explicitly).
        body = {**(options.pop("extra_body", None) or {}), "cache_prompt": True}
        return await pool.chat(messages, extra_body=body, **options)

    async def server_info(self) -> ServerInfo:
        """The server's context per slot and its slots (known without starting it)."""
        return ServerInfo(
            context=self.server.context, slots=self.server.parallel, server="llama.cpp"
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        await asyncio.to_thread(self.server.stop)


@register_judge("local")
class LocalJudge(LLMJudge):
    """The LLM judge on a model run in this process; see the module docstring.

    Options are those of :class:`~rerank.judges.llm.options.LocalOptions`, as values or a
    spec's strings: the LLM judge's (``skill``, ``cache``, ``compact``, ...; no endpoint,
    key or concurrency: the judge runs its own server), and

    Parameters
    ----------
    model : a model of :data:`rerank.local.models.MODELS` (positional; default
        ``qwen2.5-coder-1.5b``).
    threads : CPU threads (default: the CPUs available).
    parallel : server slots, requests decoded together (default 2: both display orders
        of a question at once, each on a slot that keeps its prompt cache).
    context : context length per slot (default: the model's).
    timeout : seconds per request (default 600).
    max_tokens : per model call (default 256).
    compact : ``"auto"`` (the default) sends compact skills to the small models, which are
        all of them.
    verdict : ``"logprobs"`` (what ``"auto"``, the default, gives: llama.cpp sends them)
        or ``"text"`` (``Verdict: A`` lines).
    margin : the tie margin of log-probability verdicts (default 0.02).
    solve : solve math problems first (``"auto"``, the default: yes).
    options, evidence, registry : as for :class:`~rerank.judges.llm.judge.LLMJudge`.
    """

    Options = LocalOptions
    options: LocalOptions

    def __init__(
        self,
        *args: Any,
        options: LocalOptions | None = None,
        evidence: EvidenceJudge | None = None,
        registry: SkillRegistry | None = None,
        **values: Any,
    ) -> None:
        store = take_cache(values)
        given = LocalOptions.build(options, args, values, judge=self.name)
        import_xllamacpp()  # fails now, with the install command, when it is missing
        model = get_model(given.model)
        if model.missing() and not available(given.model):
            raise ModelUnavailable(
                f"the local model {given.model} is not installed ({model.missing()[0]} is "
                f"missing): {model.install}"
            )
        self.local_model = model
        name = given.model
        server = LocalServer(
            lambda: model_path(name),  # on start: assembling the model takes a while
            alias=name,
            context=given.context if given.context is not None else model.context,
            parallel=given.parallel,
            threads=given.threads,
        )
        backend = LocalBackend(server, name, given.parallel, given.timeout)
        self._start(given, backend, evidence, registry, store)

    async def use_compact(self) -> bool:
        """Compact skills for a small model under ``compact=auto`` (all local models are)."""
        if self.options.compact is None and self.local_model.small:
            return True
        return await super().use_compact()


@register_judge("evidence+local")
class EvidenceThenLocal(BaseJudge):
    """Evidence first; the local model only where the evidence ties (see module docstring).

    Options are the local judge's (:class:`LocalJudge`; ``short_circuit`` is moot: the
    evidence has spoken before the model is asked). The two judges share one evidence
    judge, so the verifiers run once per item. Verdicts the evidence reached say
    ``via="evidence"``.
    """

    Options = LocalOptions
    options: LocalOptions

    def __init__(
        self,
        *args: Any,
        options: LocalOptions | None = None,
        evidence: EvidenceJudge | None = None,
        registry: SkillRegistry | None = None,
        **values: Any,
    ) -> None:
        store = take_cache(values)
        self.use_options(LocalOptions.build(options, args, values, judge=self.name))
        self.evidence = evidence or EvidenceJudge()
        self.local = LocalJudge(
            options=replace(self.options, short_circuit=False),
            evidence=self.evidence,
            registry=registry,
            **({"cache": store} if store is not None else {}),
        )

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        verdict = await self.evidence.compare(item, a, b)
        if verdict.winner != "tie":
            return replace(verdict, via="evidence")
        return await self.local.compare(item, a, b)

    async def score(self, item: Item, index: int) -> Score:
        return await self.evidence.score(item, index)

    async def explain(self, item: Item) -> dict[str, Any] | None:
        return await self.evidence.explain(item)

    async def aclose(self) -> None:
        await self.local.aclose()

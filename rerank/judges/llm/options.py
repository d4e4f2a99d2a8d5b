"""The options of the model judges: ``llm`` (:class:`LLMOptions`) and ``local`` /
``evidence+local`` (:class:`LocalOptions`), both over the shared :class:`ModelOptions`.

This module imports neither the openai client nor llama.cpp, so a spec is read (and a bad
option reported) before either loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rerank.judges.options import (
    AUTO,
    CACHE,
    FLAG,
    PATHS,
    TEXT,
    URLS,
    Choice,
    JudgeOptions,
    Kind,
    Number,
    option,
)
from rerank.local.models import DEFAULT_MODEL

__all__ = ["DEFAULT_MARGIN", "VERDICT_MODES", "LLMOptions", "LocalOptions", "ModelOptions"]

#: How a model's verdict is read: the probabilities of a one-token answer, or its text.
VERDICT_MODES = ("logprobs", "text")
#: The default ``margin`` of log-probability verdicts: a tie when |p - 0.5| is at most
#: this. Chosen on the dev pairs of docs/benchmarks.md (section "Local judge").
DEFAULT_MARGIN = 0.02


class _Caps(Number):
    """Requests in flight per endpoint: one number for all, or one per base URL."""

    def __init__(self) -> None:
        super().__init__(int, 1)

    def parse(self, value: Any, name: str) -> int | tuple[int, ...]:
        one = super().parse
        if isinstance(value, Sequence) and not isinstance(value, str):
            return tuple(one(v, name) for v in value)
        return one(value, name)

    def render(self, value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


CAPS: Kind = _Caps()


@dataclass(frozen=True)
class ModelOptions(JudgeOptions):
    """What every model judge takes; see :class:`~rerank.judges.llm.judge.LLMJudge` for
    their meaning. The options that change verdicts are recorded in the spec; where and how
    to ask (``skills_dirs``, ``timeout``, ``cache``) are not."""

    model: str | None = option(None, TEXT)
    skill: str | None = option(None, TEXT)
    skills_dirs: tuple[str, ...] = option((), PATHS, recorded=False)
    short_circuit: bool = option(True, FLAG)
    dedup: bool = option(True, FLAG)
    max_steps: int = option(6, Number(int, 0))
    temperature: float = option(0.0, Number(float, 0))
    max_tokens: int | None = option(2048, Number(int, 1, optional=True))
    timeout: float = option(120.0, Number(float, 0.001), recorded=False)
    enable_thinking: bool = option(False, FLAG)
    cache: bool | str = option(True, CACHE, recorded=False)
    compact: bool | None = option(None, AUTO)
    swap: bool | None = option(None, AUTO)
    verdict: str | None = option(None, Choice(*VERDICT_MODES))
    margin: float = option(DEFAULT_MARGIN, Number(float, 0))
    solve: bool | None = option(None, AUTO)
    outputs: int = option(3, Number(int, 0))


@dataclass(frozen=True)
class LLMOptions(ModelOptions):
    """The options of ``--judge llm`` (:class:`~rerank.judges.llm.judge.LLMJudge`): the
    model options and where the endpoints are (``llm:URL,MODEL`` positionally)."""

    positional = ("base_url", "model")

    base_url: tuple[str, ...] = option((), URLS, recorded=False, secret=True)
    api_key: str | None = option(None, TEXT, recorded=False, secret=True)
    concurrency: int | tuple[int, ...] = option(8, CAPS, recorded=False)
    retries: int = option(4, Number(int, 0), recorded=False)
    context: int | None = option(None, Number(int, 1, optional=True), recorded=False)


@dataclass(frozen=True)
class LocalOptions(ModelOptions):
    """The options of ``--judge local`` and ``evidence+local``
    (:class:`~rerank.judges.llm.local.LocalJudge`): the model options, with a model of
    :data:`rerank.local.models.MODELS` (``local:MODEL``) and the server's own settings.
    There is no endpoint to name: the judge runs its own server."""

    positional = ("model",)
    refused = {
        name: "the local judge runs its own server: {name} is not an option"
        for name in ("base_url", "api_key", "pool", "concurrency")
    }

    model: str = option(DEFAULT_MODEL, TEXT)
    max_tokens: int | None = option(256, Number(int, 1, optional=True))
    timeout: float = option(600.0, Number(float, 0.001), recorded=False)
    threads: int | None = option(None, Number(int, 1, optional=True), recorded=False)
    parallel: int = option(2, Number(int, 1), recorded=False)
    context: int | None = option(None, Number(int, 1, optional=True))

"""Judges: the protocol, the registry, and the built-in judges (importing registers them)."""

from typing import Any

from rerank.judges.base import (
    JUDGE_OPTIONS,
    JUDGES,
    VIAS,
    BaseJudge,
    Cost,
    Judge,
    Score,
    Verdict,
    Via,
    create_judge,
    parse_spec,
    register_judge,
)
from rerank.judges.callables import CallableJudge, as_judge, from_callable
from rerank.judges.consensus import ConsensusJudge, ConsensusOptions
from rerank.judges.evidence import EvidenceJudge, EvidenceOptions
from rerank.judges.llm.options import LLMOptions, LocalOptions
from rerank.judges.options import JudgeOptions
from rerank.judges.simulated import SimulatedJudge, SimulatedOptions

__all__ = [
    "JUDGES",
    "JUDGE_OPTIONS",
    "VIAS",
    "BaseJudge",
    "CallableJudge",
    "ConsensusJudge",
    "ConsensusOptions",
    "Cost",
    "EvidenceJudge",
    "EvidenceOptions",
    "EvidenceThenLocal",
    "Judge",
    "JudgeOptions",
    "LLMJudge",
    "LLMOptions",
    "LocalJudge",
    "LocalOptions",
    "Score",
    "SimulatedJudge",
    "SimulatedOptions",
    "Verdict",
    "Via",
    "as_judge",
    "create_judge",
    "from_callable",
    "parse_spec",
    "register_judge",
]


def _llm_judge(*args: Any, **kwargs: Any) -> Judge:
    """``--judge llm``, imported on first use: it pulls in the openai client (~0.6 s), which
    runs that never ask an LLM should not pay for. Importing rerank.judges.llm.judge registers
    the class itself in its place."""
    from rerank.judges.llm.judge import LLMJudge

    return LLMJudge(*args, **kwargs)


def _local_judge(*args: Any, **kwargs: Any) -> Judge:
    """``--judge local``, imported on first use like ``llm``."""
    from rerank.judges.llm.local import LocalJudge

    return LocalJudge(*args, **kwargs)


def _evidence_then_local(*args: Any, **kwargs: Any) -> Judge:
    """``--judge evidence+local``, imported on first use like ``llm``."""
    from rerank.judges.llm.local import EvidenceThenLocal

    return EvidenceThenLocal(*args, **kwargs)


for _name, _factory, _options in (
    ("llm", _llm_judge, LLMOptions),
    ("local", _local_judge, LocalOptions),
    ("evidence+local", _evidence_then_local, LocalOptions),
):
    JUDGES.setdefault(_name, _factory)
    JUDGE_OPTIONS.setdefault(_name, _options)


def __getattr__(name: str) -> Any:
    if name == "LLMJudge":
        from rerank.judges.llm.judge import LLMJudge

        return LLMJudge
    if name in ("LocalJudge", "EvidenceThenLocal"):
        from rerank.judges.llm import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

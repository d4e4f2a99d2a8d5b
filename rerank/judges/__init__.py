"""Judges: the protocol, the registry, and the built-in judges (importing registers them)."""

from typing import Any

from rerank.judges.base import (
    JUDGES,
    BaseJudge,
    Cost,
    Judge,
    Score,
    Verdict,
    create_judge,
    parse_spec,
    register_judge,
)
from rerank.judges.callables import CallableJudge, as_judge, from_callable
from rerank.judges.consensus import ConsensusJudge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.simulated import SimulatedJudge

__all__ = [
    "JUDGES",
    "BaseJudge",
    "CallableJudge",
    "ConsensusJudge",
    "Cost",
    "EvidenceJudge",
    "Judge",
    "EvidenceThenLocal",
    "LLMJudge",
    "LocalJudge",
    "Score",
    "SimulatedJudge",
    "Verdict",
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


JUDGES.setdefault("llm", _llm_judge)
JUDGES.setdefault("local", _local_judge)
JUDGES.setdefault("evidence+local", _evidence_then_local)


def __getattr__(name: str) -> Any:
    if name == "LLMJudge":
        from rerank.judges.llm.judge import LLMJudge

        return LLMJudge
    if name in ("LocalJudge", "EvidenceThenLocal"):
        from rerank.judges.llm import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

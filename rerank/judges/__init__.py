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
from rerank.judges.consensus import ConsensusJudge
from rerank.judges.evidence import EvidenceJudge
from rerank.judges.simulated import SimulatedJudge

__all__ = [
    "JUDGES",
    "BaseJudge",
    "ConsensusJudge",
    "Cost",
    "EvidenceJudge",
    "Judge",
    "LLMJudge",
    "Score",
    "SimulatedJudge",
    "Verdict",
    "create_judge",
    "parse_spec",
    "register_judge",
]


def _llm_judge(*args: Any, **kwargs: Any) -> Judge:
    """``--judge llm``, imported on first use: it pulls in the openai client (~0.6 s), which
    runs that never ask an LLM should not pay for. Importing rerank.judges.llm registers
    the class itself in its place."""
    from rerank.judges.llm import LLMJudge

    return LLMJudge(*args, **kwargs)


JUDGES.setdefault("llm", _llm_judge)


def __getattr__(name: str) -> Any:
    if name == "LLMJudge":
        from rerank.judges.llm import LLMJudge

        return LLMJudge
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Judges: the protocol, the registry, and the built-in judges (importing registers them)."""

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
from rerank.judges.simulated import SimulatedJudge

__all__ = [
    "JUDGES",
    "BaseJudge",
    "ConsensusJudge",
    "Cost",
    "Judge",
    "Score",
    "SimulatedJudge",
    "Verdict",
    "create_judge",
    "parse_spec",
    "register_judge",
]

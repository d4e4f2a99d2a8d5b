"""The skill-driven LLM judge.

``judge`` (:class:`LLMJudge`), with its collaborators: ``options`` (the typed options of
the model judges), ``question`` (the prepared item and the cache key of a question),
``route`` (compact or full by the model's size, both display orders in one verdict),
``prompt`` (what the model is shown), ``loop`` (the tool loop), ``context`` (keeping its
requests inside the model's context), ``tools`` (the tools a skill grants), ``parse`` (the
verdict in the reply), ``probabilities`` and ``logprobs`` (verdicts and scores from the
log-probabilities of one-token answers), ``dedup`` (equivalent candidates judged once),
``solve`` (the solve-first answer of compact skills) and ``local`` (the judge on an
embedded llama.cpp server). Each collaborator gets what it uses (a callable, the chat
backend), not the judge.

Importing this package does not import the openai client; the judge classes load on first
use.
"""

from typing import Any

__all__ = ["EvidenceThenLocal", "LLMJudge", "LocalJudge"]


def __getattr__(name: str) -> Any:
    if name == "LLMJudge":
        from rerank.judges.llm.judge import LLMJudge

        return LLMJudge
    if name in ("LocalJudge", "EvidenceThenLocal"):
        from rerank.judges.llm import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

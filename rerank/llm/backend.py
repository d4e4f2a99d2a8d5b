"""The one interface a judge talks to a model through: :class:`ChatBackend`.

As httpx's transports share one small interface whatever carries the bytes, every way of
reaching a model gives the judge the same few members: :class:`~rerank.llm.EndpointPool`
(OpenAI-compatible servers, with failover) and the local judge's backend (llama.cpp run in
this process, started on the first call). A test may pass any object that has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rerank.llm.client import ChatResult

__all__ = ["ChatBackend"]


@runtime_checkable
class ChatBackend(Protocol):
    """Chat completions from one model.

    Attributes
    ----------
    model : the model id asked for, ``None`` until known (the server lists it).
    enable_thinking : whether requests let a thinking model think; part of a verdict's
        cache key, so the backend that sends it says what it sends.
    """

    model: str | None
    enable_thinking: bool

    async def chat(self, messages: Sequence[Mapping[str, Any]], **options: Any) -> ChatResult:
        """One chat completion; ``options`` are those of the OpenAI API (``tools``,
        ``tool_choice``, ``temperature``, ``max_tokens``, ...)."""
        ...

    async def resolve_model(self) -> str:
        """The model id to ask for (asking the server once if none was given)."""
        ...

    async def aclose(self) -> None:
        """Release connections and processes; the backend may be used again afterwards."""
        ...

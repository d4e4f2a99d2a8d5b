"""A scripted :class:`~rerank.llm.ChatBackend` in this process: no server, no HTTP.

For tests of what sits above the backend (the judge, its dedup, cache and solve steps),
where :class:`~rerank.testing.OpenAIServer` would only add a socket. The replies are the
server's :class:`~rerank.testing.Message`, or an exception to raise (an
:class:`~rerank.errors.EndpointError`, as a pool raises when no endpoint answers); every
request is recorded.

Examples
--------
>>> import asyncio
>>> backend = ScriptedBackend(Message(content="Verdict: A"))
>>> asyncio.run(backend.chat([{"role": "user", "content": "A or B?"}])).content
'Verdict: A'
>>> backend.requests[0]["messages"][0]["content"]
'A or B?'
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from rerank.llm.client import ChatResult, Usage
from rerank.testing.openai_server import Message

__all__ = ["ScriptedBackend"]


class ScriptedBackend:
    """Answers each chat call with the next scripted message.

    Parameters
    ----------
    *replies : the messages to answer with, or exceptions to raise, in order (more with
        :meth:`enqueue`).
    model : the model id it reports.
    logprobs : whether a request that asks for ``logprobs`` gets the first token's
        alternatives (:meth:`Message.alternatives`), as from a server that sends them.
    """

    enable_thinking = False

    def __init__(
        self, *replies: Message | Exception, model: str = "scripted-model", logprobs: bool = True
    ) -> None:
        self.model: str | None = model
        self.logprobs = logprobs
        self.replies: deque[Message | Exception] = deque(replies)
        #: Every request: ``{"messages": [...], **options}``.
        self.requests: list[dict[str, Any]] = []

    def enqueue(self, *replies: Message | Exception) -> None:
        self.replies.extend(replies)

    async def chat(self, messages: Sequence[Mapping[str, Any]], **options: Any) -> ChatResult:
        self.requests.append({"messages": [dict(m) for m in messages], **options})
        if not self.replies:
            raise AssertionError(f"no scripted reply left for request {len(self.requests)}")
        reply = self.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        usage = Usage(
            calls=1,
            prompt_tokens=reply.prompt_tokens or 0,
            completion_tokens=reply.completion_tokens or 0,
            cached_tokens=reply.cached_tokens or 0,
        )
        top = None
        if self.logprobs and options.get("logprobs"):
            top = tuple(reply.alternatives(options.get("top_logprobs"))) or None
        return ChatResult(
            content=reply.content,
            tool_calls=tuple(reply.tool_calls),
            finish_reason=reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"),
            usage=usage,
            endpoint="scripted",
            attempts=1,
            model=self.model or "scripted-model",
            reasoning=reply.reasoning,
            top_logprobs=top,
        )

    async def resolve_model(self) -> str:
        return self.model or "scripted-model"

    async def aclose(self) -> None:
        return None

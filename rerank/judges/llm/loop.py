"""The conversation behind one LLM verdict: the tool loop and its fallbacks.

:func:`converse` talks to the model through a ``chat`` callable (the endpoint pool's) and
does nothing else with the world; tools run through the :class:`ToolBox`. The protocol:

1. up to ``max_steps`` calls with the tools offered (``tool_choice="auto"``): tool calls
   are run and their results sent back; a valid ``final_answer`` ends the loop; a bad
   reply (malformed JSON arguments, an unknown tool, wrong argument types, a verdict
   breaking the contract, empty content, prose without a verdict) is answered with what
   was wrong, and the model gets another step;
2. one call forcing ``final_answer`` (``tool_choice`` names it);
3. one plain-text re-ask, its reply read from the end (the last JSON object, or a line
   ``Verdict: A``);
4. otherwise no decision, with the reason: the verdict is invalid, never a coin flip.

Without tools (a server that has none, or the compact form) steps 1 and 2 are one plain
call whose reply is read the same way. At most ``max_steps + 2`` calls in all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rerank.judges.llm.parse import (
    Decision,
    Rejected,
    parse_arguments,
    read_contract,
    read_text_reply,
)
from rerank.judges.llm.prompt import forced_text, reask_text, repair_text
from rerank.judges.llm.tools import FINAL_ANSWER, ToolBox
from rerank.llm import ChatResult, ToolCall, Usage

__all__ = ["ChatFn", "LoopResult", "converse"]

ChatFn = Callable[..., Awaitable[ChatResult]]
FORCE_FINAL = {"type": "function", "function": {"name": FINAL_ANSWER}}


@dataclass(frozen=True)
class LoopResult:
    """How a conversation ended: a decision, or ``None`` and the ``problem`` that
    prevented one; what it cost; the tools the model ran."""

    decision: Decision | None
    problem: str
    usage: Usage
    raw: str | None
    tools_run: tuple[str, ...] = ()


@dataclass
class _Conversation:
    chat: ChatFn
    messages: list[dict[str, Any]]
    contract: dict[str, Any]
    mode: str
    tools: ToolBox | None
    usage: Usage = field(default_factory=Usage)
    problem: str = "the model gave no verdict"
    raw: str | None = None
    tools_run: list[str] = field(default_factory=list)

    async def ask(self, **options: Any) -> tuple[ChatResult, list[ToolCall]]:
        result = await self.chat(self.messages, **options)
        self.usage += result.usage
        step = sum(1 for m in self.messages if m["role"] == "assistant")
        # A server may leave ids out; the tool results must name the call they answer.
        calls = [
            c if c.id else replace(c, id=f"call_{step}_{i}")
            for i, c in enumerate(result.tool_calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": result.content or ""}
        if calls:
            message["content"] = result.content or None
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
        self.messages.append(message)
        self.raw = result.content if not calls else calls[-1].arguments
        return result, calls

    def say(self, text: str) -> None:
        """A user turn; merged into the last one when that is a user turn already (some
        chat templates insist that roles alternate)."""
        last = self.messages[-1]
        if last["role"] == "user" and isinstance(last.get("content"), str):
            self.messages[-1] = {**last, "content": f"{last['content']}\n\n{text}"}
        else:
            self.messages.append({"role": "user", "content": text})

    def final(self, calls: Sequence[ToolCall]) -> Decision | None:
        """The first valid ``final_answer`` among ``calls``; notes the problem otherwise."""
        for call in calls:
            if call.name != FINAL_ANSWER:
                continue
            arguments = parse_arguments(call.arguments)
            read = (
                read_contract(arguments, self.contract, self.mode, raw=call.arguments)
                if isinstance(arguments, dict)
                else arguments
            )
            if isinstance(read, Decision):
                return read
            self.problem = f"final_answer: {read.reason}"
        return None

    async def answer(self, calls: Sequence[ToolCall], *, run_tools: bool) -> None:
        """A tool result for every call (the conversation stays well formed)."""
        assert self.tools is not None
        for call in calls:
            if call.name == FINAL_ANSWER:
                text = f"not accepted: {self.problem.removeprefix('final_answer: ')}. " + (
                    "Call final_answer again with arguments that satisfy the output contract."
                )
            elif not run_tools:
                text = "not run: the step limit is reached; give the final answer."
            else:
                arguments = parse_arguments(call.arguments)
                if isinstance(arguments, Rejected):
                    problem: str | None = f"{call.name}: {arguments.reason}; send one JSON object"
                else:
                    problem = self.tools.check(call.name, arguments)
                if problem is not None:
                    self.problem = text = problem
                else:
                    assert isinstance(arguments, dict)
                    text = await self.tools.run(call.name, arguments)
                    self.tools_run.append(call.name)
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})

    def read(self, result: ChatResult, *, lines: bool) -> Decision | None:
        read = read_text_reply(result.content, self.contract, self.mode, lines=lines)
        if isinstance(read, Decision):
            return read
        self.problem = read.reason
        return None

    async def step(self, *, run_tools: bool, **options: Any) -> Decision | None:
        result, calls = await self.ask(**options)
        if not calls:
            return self.read(result, lines=False)
        decision = self.final(calls)
        if decision is None:
            await self.answer(calls, run_tools=run_tools)
        return decision

    def result(self, decision: Decision | None) -> LoopResult:
        calls = self.usage.calls
        problem = "" if decision else f"no valid verdict after {calls} calls: {self.problem}"
        raw = decision.raw if decision else self.raw
        return LoopResult(decision, problem, self.usage, raw, tuple(self.tools_run))


async def converse(
    chat: ChatFn,
    messages: list[dict[str, Any]],
    contract: dict[str, Any],
    mode: str,
    *,
    tools: ToolBox | None,
    max_steps: int,
    lines: bool = False,
) -> LoopResult:
    """Run the protocol of the module docstring on ``messages`` (extended in place).

    ``contract`` is the output contract's schema for ``mode`` (pairwise | pointwise);
    ``lines`` accepts a ``Verdict: A`` line from the first plain reply too (the compact
    form asks for nothing else).
    """
    talk = _Conversation(chat, messages, contract, mode, tools)
    if tools is not None:
        for _ in range(max_steps):
            decision = await talk.step(run_tools=True, tools=tools.schemas, tool_choice="auto")
            if decision is not None:
                return talk.result(decision)
            if talk.messages[-1]["role"] == "assistant":  # prose without a verdict
                talk.say(repair_text(talk.problem, contract))
        talk.say(forced_text())
        decision = await talk.step(run_tools=False, tools=tools.schemas, tool_choice=FORCE_FINAL)
    else:
        result, _ = await talk.ask()
        decision = talk.read(result, lines=lines)
    if decision is not None:
        return talk.result(decision)
    talk.say(reask_text(contract, lines=True))
    options = {"tools": tools.schemas, "tool_choice": "none"} if tools is not None else {}
    result, calls = await talk.ask(**options)
    decision = talk.final(calls) if calls else None
    if decision is None:
        decision = talk.read(result, lines=True)
    return talk.result(decision)

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

With a :class:`~rerank.judges.llm.context.ContextBudget` (the model's context is known)
every request is shrunk to fit before it goes out (tool results clipped, old tool turns
dropped), and the final answer is forced as soon as another tool result might not fit.
A server's refusal of a request too long for its context forces the final answer on a
shrunk conversation; when nothing fits, the conversation ends without a decision and says
why (the verdict is invalid; the item does not fail).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rerank.errors import RequestRejectedError
from rerank.judges.llm.context import CLIPPED_CHARS, ContextBudget, fit
from rerank.judges.llm.parse import (
    Decision,
    Rejected,
    parse_arguments,
    read_contract,
    read_text_reply,
)
from rerank.judges.llm.prompt import forced_text, reask_text, repair_text
from rerank.judges.llm.tools import FINAL_ANSWER, OUTPUT_CHARS, ToolBox
from rerank.llm import ChatResult, ToolCall, Usage
from rerank.llm.failures import context_overflow
from rerank.text import clip

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


class _NoRoom(Exception):
    """The next request does not fit the model's context (estimated, or the server said)."""


@dataclass
class _Conversation:
    chat: ChatFn
    messages: list[dict[str, Any]]
    contract: dict[str, Any]
    mode: str
    tools: ToolBox | None
    budget: ContextBudget | None = None
    usage: Usage = field(default_factory=Usage)
    problem: str = "the model gave no verdict"
    raw: str | None = None
    tools_run: list[str] = field(default_factory=list)

    async def ask(self, **options: Any) -> tuple[ChatResult, list[ToolCall]]:
        offered = options.get("tools")
        budget = self.budget
        if budget is not None:
            # Shrunk as far as it goes; what still looks too long is sent all the same (the
            # estimate errs long), and the server's refusal is the final word.
            fit(self.messages, budget, offered)
        try:
            result = await self.chat(self.messages, **options)
        except RequestRejectedError as exc:
            if not context_overflow(exc):
                raise
            if budget is not None:  # the estimate was too low: count more tokens from now on
                budget.chars_per_token *= 0.8
            problem = f"the server refused a request too long for the model's context: {exc}"
            raise _NoRoom(problem) from None
        if budget is not None:
            budget.observe(self.messages, offered, result.usage.prompt_tokens)
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

    def near_limit(self) -> bool:
        """Whether another tool result might not fit: time to force the final answer (by
        an estimate calibrated on the server's counts; a first guess only errs long)."""
        if self.budget is None or self.tools is None or not self.budget.calibrated:
            return False
        room = self.budget.room(self.messages, self.tools.schemas)
        return room < self.budget.tokens_of_text(OUTPUT_CHARS)

    def shrink(self) -> None:
        """Clip every tool result and drop all but the latest tool turn (after the server
        refused a request as too long)."""
        kept: list[dict[str, Any]] = []
        for message in self.messages:
            if message.get("role") == "tool" and len(message.get("content") or "") > CLIPPED_CHARS:
                content = clip(message["content"], CLIPPED_CHARS, strip=True)
                message = {**message, "content": content + "\n(clipped to fit the context)"}
            kept.append(message)
        self.messages[:] = kept
        if self.budget is not None:
            fit(self.messages, ContextBudget(0, 0, self.budget.chars_per_token))

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
    budget: ContextBudget | None = None,
) -> LoopResult:
    """Run the protocol of the module docstring on ``messages`` (extended in place).

    ``contract`` is the output contract's schema for ``mode`` (pairwise | pointwise);
    ``lines`` accepts a ``Verdict: A`` line from the first plain reply too (the compact
    form asks for nothing else); ``budget`` keeps every request inside the model's
    context.
    """
    talk = _Conversation(chat, messages, contract, mode, tools, budget)
    try:
        if tools is not None:
            decision = await _tool_steps(talk, tools, max_steps)
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
    except _NoRoom as exc:
        talk.problem = str(exc)
        return talk.result(None)
    return talk.result(decision)


async def _tool_steps(talk: _Conversation, tools: ToolBox, max_steps: int) -> Decision | None:
    """Steps 1 and 2 of the protocol: tool steps, then the forced final answer (at once
    when the context is nearly full, or the server refused a step as too long)."""
    try:
        for _ in range(max_steps):
            if talk.near_limit():
                break
            decision = await talk.step(run_tools=True, tools=tools.schemas, tool_choice="auto")
            if decision is not None:
                return decision
            if talk.messages[-1]["role"] == "assistant":  # prose without a verdict
                talk.say(repair_text(talk.problem, talk.contract))
    except _NoRoom:
        talk.shrink()
    talk.say(forced_text())
    return await talk.step(run_tools=False, tools=tools.schemas, tool_choice=FORCE_FINAL)

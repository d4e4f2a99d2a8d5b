"""Keeping a conversation inside the model's context: estimates and trimming, no I/O.

A small server (llama.cpp with an 8,192-token context) refuses a request that does not fit,
and a tool loop grows with every tool result. :class:`ContextBudget` estimates the tokens of
a conversation from its characters (calibrated by the prompt tokens the server reports for
each answered request) and :func:`fit` shrinks it before a request goes out: first it clips
tool results, oldest first, then it drops the oldest tool turns (an assistant message with
tool calls and their results, together, so the conversation stays well formed). The
system message, the item and the latest turn are never touched. What still looks too long
then is sent all the same (the estimate errs long): the server's refusal is the final word.

Examples
--------
>>> budget = ContextBudget(context=1000, reply=100)
>>> budget.tokens([{"role": "user", "content": "x" * 3000}]) > 900
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rerank.text import clip

__all__ = ["CLIPPED_CHARS", "ContextBudget", "fit"]

#: Characters a clipped tool result keeps.
CLIPPED_CHARS = 600
#: Tokens a message costs beyond its text (role markers of the chat template).
_PER_MESSAGE = 8
#: Characters per token before the server has reported any count (dense text and code
#: tokenise at 3 to 4; a low guess keeps the estimate on the safe side).
_FIRST_GUESS = 3.0
#: The share of a measured rate that is trusted (an estimate errs toward more tokens).
_SAFETY = 0.9


def _chars(message: Mapping[str, Any]) -> int:
    content = message.get("content")
    size = len(content) if isinstance(content, str) else len(json.dumps(content or ""))
    for call in message.get("tool_calls") or ():
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        size += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    return size


@dataclass
class ContextBudget:
    """The tokens one request may hold (``context``) and those its reply needs
    (``reply``); ``chars_per_token`` turns characters into an estimate and follows what
    the server reports (:meth:`observe`; ``calibrated`` once it has)."""

    context: int
    reply: int
    chars_per_token: float = _FIRST_GUESS
    calibrated: bool = False

    def tokens(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None = None
    ) -> int:
        """The estimated prompt tokens of ``messages`` (and the ``tools`` offered)."""
        chars = sum(_chars(m) for m in messages)
        if tools:
            chars += len(json.dumps(list(tools)))
        return int(chars / self.chars_per_token) + _PER_MESSAGE * len(messages)

    def room(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> int:
        """Tokens left after the prompt and the reply (negative: it does not fit)."""
        return self.context - self.reply - self.tokens(messages, tools)

    def observe(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Any] | None,
        prompt_tokens: int,
    ) -> None:
        """Calibrate on a request the server counted ``prompt_tokens`` for."""
        if prompt_tokens <= 0:
            return
        chars = sum(_chars(m) for m in messages) + (len(json.dumps(list(tools))) if tools else 0)
        text_tokens = prompt_tokens - _PER_MESSAGE * len(messages)
        if chars > 0 and text_tokens > 0:
            self.chars_per_token = max(1.0, _SAFETY * chars / text_tokens)
            self.calibrated = True

    def tokens_of_text(self, chars: int) -> int:
        """The estimated tokens of ``chars`` characters of text."""
        return int(chars / self.chars_per_token) + 1


def _tool_turns(messages: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """The tool turns as (start, end) index ranges: an assistant message with tool calls
    and the tool results that follow it."""
    turns = []
    index = 0
    while index < len(messages):
        if messages[index].get("role") == "assistant" and messages[index].get("tool_calls"):
            end = index + 1
            while end < len(messages) and messages[end].get("role") == "tool":
                end += 1
            turns.append((index, end))
            index = end
        else:
            index += 1
    return turns


def _merge_user_turns(messages: list[dict[str, Any]]) -> None:
    """Join user messages left next to each other (some chat templates insist that roles
    alternate)."""
    index = 1
    while index < len(messages):
        before, this = messages[index - 1], messages[index]
        texts = isinstance(before.get("content"), str) and isinstance(this.get("content"), str)
        if before.get("role") == this.get("role") == "user" and texts:
            messages[index - 1] = {**before, "content": f"{before['content']}\n\n{this['content']}"}
            del messages[index]
        else:
            index += 1


def fit(
    messages: list[dict[str, Any]], budget: ContextBudget, tools: Sequence[Any] | None = None
) -> bool:
    """Shrink ``messages`` (in place) until prompt and reply fit ``budget``.

    Tool results are clipped to :data:`CLIPPED_CHARS`, oldest first; then whole tool
    turns are dropped, oldest first, all but the latest. The system message and the user
    messages stay as they are.

    Returns
    -------
    bool, whether they fit now.
    """
    if budget.room(messages, tools) >= 0:
        return True
    for start, end in _tool_turns(messages):
        for index in range(start + 1, end):
            content = messages[index].get("content")
            if isinstance(content, str) and len(content) > CLIPPED_CHARS:
                messages[index] = {
                    **messages[index],
                    "content": clip(content, CLIPPED_CHARS, strip=True)
                    + "\n(clipped to fit the model's context)",
                }
                if budget.room(messages, tools) >= 0:
                    return True
    while budget.room(messages, tools) < 0:
        turns = _tool_turns(messages)[:-1]
        if not turns:
            return False
        start, end = turns[0]
        del messages[start:end]
        _merge_user_turns(messages)
    return True

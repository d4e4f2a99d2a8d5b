"""Scripted judges for :class:`~rerank.testing.OpenAIServer`: answer any judge request by a
policy, so that ``--judge llm`` can be tried, and tested, without a model.

A policy reads the request the LLM judge sends (:mod:`rerank.judges.llm.prompt`: the prompt,
candidate A and, in a comparison, candidate B) and answers in the output contract the
request carries (the ``final_answer`` tool's parameters; a JSON object and a ``Verdict:``
line when no tools are offered); a one-token question ("A or B?", "yes or no?") gets one
token and its log-probabilities:

- ``oracle:ACCURACY`` (``oracle`` is ``oracle:1``): with the labels of the candidate file
  (``--labels``), prefers the better-labelled candidate with probability ACCURACY, the
  worse one otherwise; equal labels tie; a candidate not in the file ties;
- ``always-a``: the candidate shown first wins (a judge with total position bias); scores
  are the top of the scale;
- ``random``: a coin flip per pair (a score drawn on the scale).

Choices are seeded by the policy's seed and the request's prompt and candidates, never by
the order requests arrive in, so a rerun gets the same answers.

Examples
--------
>>> from rerank.testing import OpenAIServer
>>> policy = parse_policy("always-a")
>>> with OpenAIServer(default=policy.reply) as server:  # doctest: +SKIP
...     print(server.base_url)  # rerank select --judge llm --base-url ...
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rerank.items import Item
from rerank.testing.openai_server import Message, ToolCall

__all__ = [
    "POLICIES",
    "JudgeRequest",
    "LabelIndex",
    "Policy",
    "parse_policy",
    "read_request",
]

POLICIES: tuple[str, ...] = ("oracle", "always-a", "random")

_FINAL = "final_answer"
#: How the judge's messages lay out the prompt and the candidates: the full form
#: (``## Prompt``, ``<candidate id="A">``) and the one-token questions' (``## Task``,
#: ``<response id="A">``, ``<response>`` alone in a yes-or-no check).
_LAYOUTS = (
    ("## Prompt\n\n", '<candidate id="{}">\n', "\n</candidate>"),
    ("## Task\n\n", '<response id="{}">\n', "\n</response>"),
    ("## Task\n\n", "<response>\n", "\n</response>"),
)
#: The log-probability of the token a one-token answer gives (the other gets the rest).
_SURE = 0.9


@dataclass(frozen=True)
class JudgeRequest:
    """What a policy reads of one chat request: the item's prompt, the candidates shown
    (``A``, and ``B`` in a comparison), and how to answer."""

    prompt: str
    shown: tuple[str, ...]
    contract: dict[str, Any] | None  # the final_answer tool's parameters; None: no tools
    #: ``verdict`` (a contract's object), or a one-token ``choice`` (A or B) or ``check``
    #: (yes or no).
    form: str = "verdict"

    @property
    def mode(self) -> str:
        return "pairwise" if len(self.shown) == 2 else "pointwise"

    def scale(self) -> tuple[float, float]:
        """The contract's score range (1 to 10 when it says none)."""
        score = ((self.contract or {}).get("properties") or {}).get("score") or {}
        return float(score.get("minimum", 1)), float(score.get("maximum", 10))


def _between(text: str, start: str, end: str, at: int = 0) -> tuple[str, int] | None:
    begin = text.find(start, at)
    if begin < 0:
        return None
    begin += len(start)
    stop = text.find(end, begin)
    return (text[begin:stop], stop) if stop >= 0 else None


def _user_text(messages: Iterable[Mapping[str, Any]], marker: str) -> str | None:
    for message in messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and marker in content:
            return content
    return None


def read_request(body: Mapping[str, Any]) -> JudgeRequest | None:
    """The judge request in a chat completion body, or None if it is no comparison or
    scoring request of the LLM judge."""
    messages = body.get("messages") or []
    found = next(
        (
            (layout, user)
            for layout in _LAYOUTS
            if (user := _user_text(messages, layout[1].format("A"))) is not None
        ),
        None,
    )
    if found is None:
        return None
    (heading, opening, closing), user = found
    start = user.find(heading)
    if start < 0:
        return None
    start += len(heading)
    stop = user.find("\n\n## ", start)
    prompt = user[start : stop if stop >= 0 else None].strip()
    shown = []
    at = 0
    for label in ("A", "B") if "{}" in opening else ("",):
        part = _between(user, opening.format(label), closing, at)
        if part is None:
            break
        text, at = part
        shown.append(text)
    if not shown:
        return None
    if heading == "## Task\n\n":
        return JudgeRequest(prompt, tuple(shown), None, "choice" if "{}" in opening else "check")
    contract = None
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        if function.get("name") == _FINAL:
            contract = function.get("parameters") or {}
    if body.get("tool_choice") == "none":
        contract = None  # the plain-text re-ask: no tool call allowed
    return JudgeRequest(prompt, tuple(shown), contract)


@dataclass
class LabelIndex:
    """Candidate labels by prompt and text, from labelled items."""

    by_prompt: dict[str, dict[str, float]] = field(default_factory=dict)
    by_text: dict[str, set[float]] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> LabelIndex:
        index = cls()
        for item in items:
            scores = item.labels.scores if item.labels is not None else ()
            known = index.by_prompt.setdefault(item.prompt.strip(), {})
            for candidate, score in zip(item.candidates, scores, strict=False):
                if score is None:
                    continue
                known[candidate.text] = float(score)
                index.by_text.setdefault(candidate.text, set()).add(float(score))
        return index

    def label(self, prompt: str, text: str) -> float | None:
        """The label of ``text`` answering ``prompt``; by text alone when the prompt is not
        found and the text has one label wherever it appears; else None."""
        found = self.by_prompt.get(prompt, {}).get(text)
        if found is not None:
            return found
        labels = self.by_text.get(text, set())
        return next(iter(labels)) if len(labels) == 1 else None

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_prompt.values())


@dataclass(frozen=True)
class Policy:
    """A scripted judge. ``name`` is one of :data:`POLICIES`; ``accuracy`` and ``labels``
    are the oracle's; ``seed`` seeds every choice."""

    name: str
    accuracy: float = 1.0
    labels: LabelIndex | None = None
    seed: int = 0

    def _rng(self, request: JudgeRequest) -> random.Random:
        digest = hashlib.blake2b(digest_size=8)
        for part in (str(self.seed), self.name, request.prompt, *request.shown):
            digest.update(len(part).to_bytes(8, "big") + part.encode("utf-8", "surrogatepass"))
        return random.Random(digest.digest())

    def winner(self, request: JudgeRequest) -> tuple[str, str]:
        """``A``, ``B`` or ``tie`` for a comparison, and the reason."""
        rng = self._rng(request)
        if self.name == "always-a":
            return "A", "always-a: the candidate shown first"
        if self.name == "random":
            return rng.choice("AB"), "random: a coin flip"
        assert self.labels is not None
        la, lb = (self.labels.label(request.prompt, text) for text in request.shown)
        if la is None or lb is None:
            return "tie", "oracle: a candidate is not in the labels file"
        if la == lb:
            return "tie", f"oracle: equal labels ({la:g})"
        right = rng.random() < self.accuracy
        better, worse = ("A", "B") if la > lb else ("B", "A")
        verdict = "correct" if right else "error"
        return (better if right else worse), f"oracle: labels {la:g} vs {lb:g}, {verdict}"

    def score(self, request: JudgeRequest) -> tuple[float, str]:
        """A score on the contract's scale for one candidate, and the reason."""
        low, high = request.scale()
        rng = self._rng(request)
        if self.name == "always-a":
            return high, "always-a: the top of the scale"
        if self.name == "random":
            return round(rng.uniform(low, high), 2), "random: a draw on the scale"
        assert self.labels is not None
        label = self.labels.label(request.prompt, request.shown[0])
        if label is None:
            return (low + high) / 2, "oracle: the candidate is not in the labels file"
        right = rng.random() < self.accuracy
        value = label if right else 1.0 - label
        shown = low + (high - low) * min(max(value, 0.0), 1.0)
        return shown, f"oracle: label {label:g}, {'correct' if right else 'error'}"

    def answer(self, request: JudgeRequest) -> dict[str, Any]:
        """The verdict as the output contract's object."""
        if request.mode == "pairwise":
            winner, reason = self.winner(request)
            verdict: dict[str, Any] = {"winner": winner, "confidence": 0.9}
        else:
            value, reason = self.score(request)
            verdict = {"score": value}
        allowed = ((request.contract or {}).get("properties") or {}).keys()
        verdict = {**verdict, "evidence": [], "reason": f"scripted {reason}"}
        return {k: v for k, v in verdict.items() if not allowed or k in allowed}

    def token(self, request: JudgeRequest) -> Message:
        """One token, and its log-probability against the other's, for a one-token
        question: ``A`` or ``B`` (a tie is even odds), ``yes`` or ``no``."""
        if request.form == "choice":
            winner, _ = self.winner(request)
            pair = ("A", "B")
            if winner == "tie":
                return Message(content="A", top_logprobs=dict.fromkeys(pair, math.log(0.5)))
        else:
            value, _ = self.score(request)
            low, high = request.scale()
            pair = ("yes", "no")
            winner = "yes" if value > (low + high) / 2 else "no"
        other = pair[1] if winner == pair[0] else pair[0]
        odds = {winner: math.log(_SURE), other: math.log(1 - _SURE)}
        return Message(content=winner, top_logprobs=odds)

    def reply(self, body: dict[str, Any]) -> Message:
        """The server's reply to one chat completion request (``OpenAIServer(default=...)``)."""
        request = read_request(body)
        if request is None:
            return Message(content="This scripted judge only answers rerank's judge requests.")
        if request.form != "verdict":
            return self.token(request)
        verdict = self.answer(request)
        if request.contract is not None:
            return Message(tool_calls=[ToolCall(_FINAL, json.dumps(verdict))])
        line = f"Verdict: {verdict['winner']}" if "winner" in verdict else ""
        return Message(content=json.dumps(verdict) + ("\n" + line if line else ""))


def parse_policy(spec: str, *, labels: Iterable[Item] | None = None, seed: int = 0) -> Policy:
    """A policy from its spec: ``oracle[:ACCURACY]``, ``always-a`` or ``random``.

    Parameters
    ----------
    spec : the policy and, for the oracle, its accuracy in [0, 1].
    labels : labelled items (the oracle needs them).
    seed : seeds the policy's choices.

    Raises
    ------
    ValueError
        An unknown policy, a bad accuracy, or an oracle without labels.
    """
    name, _, argument = spec.strip().lower().partition(":")
    if name not in POLICIES:
        raise ValueError(f"unknown policy {spec!r} (choose from oracle:ACCURACY, always-a, random)")
    if name != "oracle":
        if argument:
            raise ValueError(f"policy {name!r} takes no argument, got {argument!r}")
        return Policy(name, seed=seed)
    try:
        accuracy = float(argument) if argument else 1.0
    except ValueError:
        raise ValueError(f"oracle:ACCURACY needs a number in [0, 1], got {argument!r}") from None
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"oracle:ACCURACY needs a number in [0, 1], got {accuracy:g}")
    if labels is None:
        raise ValueError("the oracle policy needs labelled candidates: give --labels FILE")
    index = LabelIndex.from_items(labels)
    if not len(index):
        raise ValueError("the labels file holds no labelled candidate")
    return Policy(name, accuracy=accuracy, labels=index, seed=seed)

"""Reading a judge model's reply: tool arguments, the output contract, text fallbacks.

Everything here is pure: text in, a value out. A reply that is a verdict becomes a
:class:`Decision`; one that is not becomes a :class:`Rejected` whose ``reason`` says why in
words fit to send back to the model (a repair step) or to put in an invalid verdict. No
function here guesses: a reply that names no winner is rejected, never read as a tie.

Examples
--------
>>> schema = {"type": "object", "properties": {"winner": {"enum": ["A", "B", "tie"]}},
...           "required": ["winner"]}
>>> read_contract({"winner": "b"}, schema, "pairwise", raw="").winner
'b'
>>> read_text_reply('Both are fine.\\n\\nVerdict: A', schema, "pairwise", lines=True).winner
'a'
>>> read_text_reply("I cannot decide.", schema, "pairwise", lines=True).reason
"no verdict in the reply: neither a JSON object nor a line such as 'Verdict: A'"
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rerank.skills import validate_instance

__all__ = [
    "Decision",
    "Rejected",
    "last_json_object",
    "parse_arguments",
    "read_contract",
    "read_text_reply",
    "unknown_evidence",
]

#: How the contract's winners map to the judge's (A is the candidate shown first).
WINNERS = {"A": "a", "B": "b", "tie": "tie"}
_CANONICAL = {"a": "A", "b": "B", "tie": "tie"}
#: Only the last this many opening braces are tried: a verdict sits at the end.
_MAX_OBJECT_STARTS = 200
_VERDICT_LINE = re.compile(
    r"^[\s*#>_`-]*(?:final\s+)?(?:verdict|winner)[\s*_`]*[:=][\s*_`\"']*"
    r"(?:candidate\s+|response\s+)?(A|B|tie)\b",
    re.I | re.M,
)
_SCORE_LINE = re.compile(
    r"^[\s*#>_`-]*(?:final\s+)?score[\s*_`]*[:=][\s*_`\"']*(-?\d+(?:\.\d+)?)", re.I | re.M
)
_REASON_LINE = re.compile(r"^[\s*#>_`-]*reason[\s*_`]*:[\s*_`]*(.+)$", re.I | re.M)


@dataclass(frozen=True)
class Decision:
    """A reply that satisfies the output contract.

    ``winner`` is ``"a"``, ``"b"`` or ``"tie"`` for a comparison and ``score`` the value
    for a pointwise judgement; ``via`` says how it was read (``final_answer``, ``json``
    from the text, or a ``line`` such as ``Verdict: A``).
    """

    winner: str | None
    score: float | None
    confidence: float | None
    evidence: tuple[str, ...]
    reason: str
    raw: str
    via: str


@dataclass(frozen=True)
class Rejected:
    """A reply that is no verdict, and why."""

    reason: str
    raw: str | None = None


def parse_arguments(text: str | None) -> dict[str, Any] | Rejected:
    """The JSON object a tool call's ``arguments`` hold, or why they are not one."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(
            f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})", text
        )
    if not isinstance(value, dict):
        return Rejected(f"the arguments must be a JSON object, not {type(value).__name__}", text)
    return value


def _normalised(value: dict[str, Any]) -> dict[str, Any]:
    """``winner`` in the contract's spelling whatever its case ("a", "Tie"); nothing else
    is coerced: a confidence written as a string stays a type error."""
    winner = value.get("winner")
    if isinstance(winner, str) and winner.strip().lower() in _CANONICAL:
        return {**value, "winner": _CANONICAL[winner.strip().lower()]}
    return value


def read_contract(
    value: Any, schema: dict[str, Any], mode: str, *, raw: str
) -> Decision | Rejected:
    """Check a parsed reply against the contract ``schema`` (``mode``: pairwise | pointwise)."""
    if not isinstance(value, dict):
        return Rejected(f"the verdict must be a JSON object, not {type(value).__name__}", raw)
    value = _normalised(value)
    errors = validate_instance(value, schema)
    if errors:
        return Rejected("the verdict breaks the output contract: " + "; ".join(errors[:5]), raw)
    if mode == "pairwise" and value.get("winner") not in WINNERS:
        return Rejected(f"'winner' must be A, B or tie, not {value.get('winner')!r}", raw)
    score = value.get("score") if mode == "pointwise" else None
    if mode == "pointwise" and (isinstance(score, bool) or not isinstance(score, int | float)):
        return Rejected(f"'score' must be a number, not {score!r}", raw)
    confidence = value.get("confidence")
    evidence = value.get("evidence") or ()
    return Decision(
        winner=WINNERS[value["winner"]] if mode == "pairwise" else None,
        score=float(score) if score is not None else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        evidence=tuple(str(e).strip() for e in evidence),
        reason=str(value.get("reason", "")).strip(),
        raw=raw,
        via="final_answer",
    )


def last_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object that ends last in ``text`` (the outermost one there), if any."""
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{", text)][-_MAX_OBJECT_STARTS:]
    best: tuple[int, int, dict[str, Any]] | None = None
    for start in starts:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        # Ending later wins; at the same end (impossible but for nesting) the outer one.
        if isinstance(value, dict) and (best is None or end > best[0]):
            best = (end, start, value)
    return best[2] if best is not None else None


def _from_lines(text: str, mode: str) -> Decision | None:
    pattern = _VERDICT_LINE if mode == "pairwise" else _SCORE_LINE
    found = pattern.findall(text)
    if not found:
        return None
    reasons = _REASON_LINE.findall(text)
    last = found[-1]
    reason = reasons[-1].strip() if reasons else ""
    if mode == "pairwise":
        winner = WINNERS[_CANONICAL[last.lower()]]
        return Decision(winner, None, None, (), reason, text, "line")
    return Decision(None, float(last), None, (), reason, text, "line")


def read_text_reply(
    text: str | None, schema: dict[str, Any], mode: str, *, lines: bool
) -> Decision | Rejected:
    """A verdict written in a plain reply, read from its end.

    The last JSON object of the text must satisfy the contract. With ``lines`` a reply
    without such an object may instead end its say with ``Verdict: A`` (``Score: 7``
    pointwise), the last such line counting; a pointwise score must lie on the scale.
    """
    if text is None or not text.strip():
        return Rejected("the reply was empty", text)
    found = last_json_object(text)
    problem = "no verdict in the reply: neither a JSON object nor a line such as 'Verdict: A'"
    if not lines:
        problem = "no verdict in the reply: no JSON object in the output contract"
    if found is not None:
        read = read_contract(found, schema, mode, raw=text)
        if isinstance(read, Decision):
            return Decision(
                read.winner, read.score, read.confidence, read.evidence, read.reason, text, "json"
            )
        problem = read.reason
    if lines:
        decision = _from_lines(text, mode)
        if decision is not None and mode == "pointwise":
            bounds = schema.get("properties", {}).get("score", {})
            low, high = bounds.get("minimum"), bounds.get("maximum")
            assert decision.score is not None
            if (low is not None and decision.score < low) or (
                high is not None and decision.score > high
            ):
                return Rejected(f"the score {decision.score:g} is off the scale {low}-{high}", text)
        if decision is not None:
            return decision
    return Rejected(problem, text)


def unknown_evidence(cited: Iterable[str], known: Iterable[str]) -> tuple[str, ...]:
    """The cited ids that name no evidence in ``known`` (in citing order, once each).

    An id prefixed with the candidate it is about (``A:test:2``, ``B/reference``) counts as
    the id itself.
    """
    ids = set(known)
    unknown: list[str] = []
    for raw in cited:
        name = raw.strip().strip("`").strip()
        bare = re.sub(r"^[AB]\s*[:/.]\s*", "", name)
        if name not in ids and bare not in ids and name not in unknown:
            unknown.append(name)
    return tuple(unknown)

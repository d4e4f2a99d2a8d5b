"""The messages the LLM judge sends: pure functions from an item and its evidence to text.

The system message is the skill's rendered prefix, the same bytes for every match of a run
(an inference server's prefix cache serves it). The user message carries the item: the
prompt, the visible task resources, a granted reference (only when the item exposes it
and the skill grants it), the candidates (A shown first) and the evidence computed for
each, with the check ids a verdict may cite. Short texts for the later turns (a repair
after a bad reply, the forced final answer, the plain-text re-ask) are here too, so that
every word the model reads is in one place.

The one-token questions of log-probability verdicts (:func:`choice_messages`, "A or B?",
and :func:`check_messages`, "yes or no?") are laid out for a server's prompt cache: the
system message is the same for every item of a skill, and the user message puts what all
questions on an item share (the prompt, its resources, the model's own answer) before the
candidates, so that only the part from the first candidate on changes between questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rerank.items import Item
from rerank.judges.evidence import Standing
from rerank.skills import GATED, Skill
from rerank.text import clip

__all__ = [
    "CHOICE_LABELS",
    "YES_NO",
    "Shown",
    "check_messages",
    "choice_messages",
    "forced_text",
    "gated_resources",
    "output_messages",
    "reask_text",
    "repair_text",
    "user_message",
]

LABELS = ("A", "B")
#: The labels of a one-token choice and of a one-token check.
CHOICE_LABELS = ("A", "B")
YES_NO = ("yes", "no")
#: Check lines per candidate in a one-token question (failed checks first).
BRIEF_CHECK_LINES = 6
#: Passing soft checks a one-token question shows all the same: the final answer read.
ALWAYS_SHOWN = ("answer",)
#: Check lines listed per candidate before the rest is summarised (run_verifier shows all).
MAX_CHECK_LINES = 40
DETAIL_CHARS = 240
RESOURCE_CHARS = 4000
_CLUSTER = {"math": "answer cluster", "code": "behaviour cluster"}


@dataclass(frozen=True)
class Shown:
    """One candidate as the model sees it: its label, text and evidence standing."""

    label: str
    text: str
    standing: Standing


def gated_resources(item: Item, skill: Skill) -> dict[str, Any]:
    """The item's task resources the skill may see: gated ones (the reference) only when
    the skill grants them."""
    return {k: v for k, v in item.task.resources.items() if k not in GATED or k in skill.grants}


def _resource_text(value: Any) -> str:
    if isinstance(value, str):
        return clip(value, RESOURCE_CHARS, strip=True)
    text = json.dumps(value, ensure_ascii=False, indent=1, default=repr)
    return clip(text, RESOURCE_CHARS, strip=True)


def evidence_lines(shown: Shown, kind: str, n: int, *, limit: int = MAX_CHECK_LINES) -> list[str]:
    """One candidate's evidence: its standing, then a line per check (id, status, hard or
    soft, detail), its cluster and the verifier's notes."""
    standing = shown.standing
    evidence = standing.evidence
    head = f"Candidate {shown.label}: "
    if evidence is None:
        return [head + "no evidence (no verifier applies)"]
    lines = [head + standing.describe()]
    for check in evidence.checks[:limit]:
        detail = f": {clip(check.detail, DETAIL_CHARS, strip=True)}" if check.detail else ""
        kind_of = "hard" if check.hard else "soft"
        lines.append(f"- `{check.id}` {check.status} ({kind_of}){detail}")
    if len(evidence.checks) > limit:
        lines.append(f"- ... {len(evidence.checks) - limit} more checks (see run_verifier)")
    cluster = _CLUSTER.get(kind, "cluster")
    if evidence.signature is not None:
        lines.append(f"- {cluster}: shared by {standing.consensus} of {n} candidates")
    for note in evidence.notes:
        lines.append(f"- note: {clip(note, DETAIL_CHARS, strip=True)}")
    return lines


def _evidence_section(shown: Sequence[Shown], kind: str, n: int) -> list[str]:
    verifiers = sorted({s.standing.evidence.verifier for s in shown if s.standing.evidence})
    source = f"verifier {', '.join(verifiers)}" if verifiers else "no verifier applies"
    lines = [f"## Evidence (task kind {kind}; {source})", ""]
    for position, one in enumerate(shown):
        if position:
            lines.append("")
        lines += evidence_lines(one, kind, n)
    return lines


def _instructions(skill: Skill, mode: str, tools: Sequence[str] | None) -> str:
    if mode == "pairwise":
        task = "Compare candidate A (shown first) with candidate B by following the procedure."
    else:
        task = "Score candidate A on the skill's scale by following the procedure."
    cite = (
        "Cite in `evidence` only the check ids above, the skill's criterion ids and the ids "
        "of resources whose results you used."
    )
    if tools is None:
        finish = "End your reply with the verdict: one JSON object in the output contract."
        return f"{task} {finish} {cite}"
    # The procedure names resources by id (`python`); the model calls functions by name.
    offered = [
        f"{tool} ({', '.join(f'`{r.id}`' for r in skill.resources if r.tool == tool)})"
        for tool in tools
        if tool != "final_answer"
    ]
    use = f"Call {', '.join(offered)} when the procedure uses them; then c" if offered else "C"
    return f"{task} {use}all `final_answer` with the output contract as its arguments. {cite}"


def user_message(
    item: Item,
    skill: Skill,
    shown: Sequence[Shown],
    kind: str,
    *,
    mode: str,
    tools: Sequence[str] | None,
    note: str | None = None,
) -> str:
    """The item as the judge model reads it, after the skill prefix.

    ``shown`` holds the candidates in display order (one for ``mode="pointwise"``);
    ``tools`` names the tools offered, ``None`` when the reply is plain text; ``note`` (a
    markdown section, such as the model's own answer) goes just before the task.
    """
    resources = gated_resources(item, skill)
    reference = resources.pop("reference", None) if "reference" in skill.grants else None
    lines = ["## Prompt", "", item.prompt.strip(), ""]
    if resources:
        lines += ["## Task resources", ""]
        for name in sorted(resources):
            lines += [f"### {name}", "", _resource_text(resources[name]), ""]
    if reference is not None:
        lines += ["## Reference answer (granted to `reference`)", "", _resource_text(reference), ""]
    for one in shown:
        lines += [f"## Candidate {one.label}", "", f'<candidate id="{one.label}">', one.text]
        lines += ["</candidate>", ""]
    lines += _evidence_section(shown, kind, item.n)
    if note is not None:
        lines += ["", note.rstrip("\n")]
    lines += ["", "## Your task", "", _instructions(skill, mode, tools)]
    return "\n".join(lines) + "\n"


def _shape(schema: dict[str, Any]) -> str:
    fields = ", ".join(f'"{name}"' for name in schema.get("properties", {}))
    return "{" + fields + "}"


def repair_text(problem: str, schema: dict[str, Any]) -> str:
    """What the model is told after a reply that was not a usable step."""
    return (
        f"That reply could not be used: {problem}. Continue the procedure with a tool, or "
        f"call `final_answer` with a JSON object {_shape(schema)} as the output contract "
        "says."
    )


def forced_text() -> str:
    """The nudge that goes with the forced ``final_answer`` call at the step limit."""
    return "The step limit is reached: call `final_answer` now with what you have found."


def reask_text(schema: dict[str, Any], *, lines: bool) -> str:
    """The last, plain-text request for the verdict."""
    fallback = " or, failing that, a last line 'Verdict: A', 'Verdict: B' or 'Verdict: tie'"
    if "score" in schema.get("properties", {}):
        fallback = " or, failing that, a last line 'Score: <number>'"
    return (
        "Reply now with the verdict only: one JSON object with the fields "
        f"{_shape(schema)} as the output contract says, at the end of your reply"
        + (fallback if lines else "")
        + "."
    )


# -- one-token questions (log-probability verdicts) ---------------------------------------

_CHOICE_QUESTION = {
    "math": "Which response reaches the correct final answer, A or B?",
    "code": "Which program is correct, A or B?",
    "instruction_following": "Which response follows the instructions better, A or B?",
}
_CHECK_QUESTION = {
    "math": "Is the final answer of this response correct?",
    "code": "Is this program correct for every input the task allows?",
    "instruction_following": "Does this response follow every instruction of the prompt?",
}
_CHECK_SYSTEM = (
    "You check one response to the task below. The evidence for the response comes with "
    "the task; there are no tools.\n\nReply with one word only: yes or no."
)


def _brief_evidence(shown: Shown, kind: str, n: int) -> list[str]:
    """A candidate's evidence in a few lines: its standing, then the checks that did not
    pass, the hard ones and its final answer (passing soft checks, such as a recomputed
    step, count in the standing only: every token is processed twice per pair)."""
    standing = shown.standing
    evidence = standing.evidence
    head = f"Evidence for {shown.label}: " if shown.label else "Evidence: "
    if evidence is None:
        return [head + "none (no verifier applies)"]
    checks = sorted(
        (c for c in evidence.checks if c.status != "pass" or c.hard or c.id in ALWAYS_SHOWN),
        key=lambda c: c.status == "pass",
    )
    lines = [head + standing.describe()]
    for check in checks[:BRIEF_CHECK_LINES]:
        detail = f": {clip(check.detail, DETAIL_CHARS, strip=True)}" if check.detail else ""
        lines.append(f"- `{check.id}` {check.status} ({'hard' if check.hard else 'soft'}){detail}")
    if len(checks) > BRIEF_CHECK_LINES:
        rest = checks[BRIEF_CHECK_LINES:]
        passing = sum(c.status == "pass" for c in rest)
        lines.append(f"- ... {len(rest)} more checks ({passing} pass)")
    if evidence.signature is not None:
        lines.append(f"- {_CLUSTER.get(kind, 'cluster')}: shared by {standing.consensus} of {n}")
    return lines


def _shared_part(item: Item, skill: Skill, note: str | None) -> list[str]:
    """What every question on ``item`` shares: the prompt, resources, a granted reference
    and the note (the model's own answer)."""
    resources = gated_resources(item, skill)
    reference = resources.pop("reference", None) if "reference" in skill.grants else None
    lines = ["## Task", "", item.prompt.strip(), ""]
    for name in sorted(resources):
        lines += [f"## Task resource: {name}", "", _resource_text(resources[name]), ""]
    if reference is not None:
        lines += ["## Reference answer", "", _resource_text(reference), ""]
    if note is not None:
        lines += [note.rstrip("\n"), ""]
    return lines


def _response(shown: Shown, kind: str, n: int) -> list[str]:
    name = f"Response {shown.label}" if shown.label else "Response"
    tag = f'<response id="{shown.label}">' if shown.label else "<response>"
    return [f"## {name}", "", tag, shown.text.strip(), "</response>", "",
            *_brief_evidence(shown, kind, n), ""]  # fmt: skip


def choice_messages(
    item: Item, skill: Skill, shown: Sequence[Shown], kind: str, *, note: str | None = None
) -> list[dict[str, str]]:
    """The messages of a one-token "A or B?" question on ``shown`` (A first).

    The system message is the skill's compact procedure with a one-letter reply (the
    skill must have a compact form); the user message is the shared part of the item, the
    two responses with their evidence, and the question.
    """
    assert skill.compact is not None, "a one-token question needs the skill's compact form"
    system = f"{skill.compact.procedure}\n\nReply with one letter only: A or B."
    lines = _shared_part(item, skill, note)
    for one in shown:
        lines += _response(one, kind, item.n)
    lines.append(_CHOICE_QUESTION.get(skill.name, "Which response is better, A or B?"))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


_OUTPUT_SYSTEM = (
    "Two programs written for the task below give different results for the same call. "
    "You say which result is the one the task asks for.\n\n"
    "Reply with one letter only: A or B."
)


def output_messages(
    item: Item, skill: Skill, call: str, results: tuple[str, str], *, note: str | None = None
) -> list[dict[str, str]]:
    """The messages of a one-token "which result?" question: ``call``, what one program
    gave as A and what the other gave as B (``results``), after the shared part."""
    lines = _shared_part(item, skill, note)
    lines += ["## The call", "", call, "", f"A: {results[0]}", f"B: {results[1]}", ""]
    lines.append("Which result is correct for this call, as the task describes it: A or B?")
    return [
        {"role": "system", "content": _OUTPUT_SYSTEM},
        {"role": "user", "content": "\n".join(lines)},
    ]


def check_messages(
    item: Item, skill: Skill, shown: Shown, kind: str, *, note: str | None = None
) -> list[dict[str, str]]:
    """The messages of a one-token "yes or no?" question on one candidate (``shown``;
    its label is not shown)."""
    lines = _shared_part(item, skill, note)
    lines += _response(Shown("", shown.text, shown.standing), kind, item.n)
    lines.append(
        _CHECK_QUESTION.get(
            skill.name, "Is this response correct, and does it answer the whole request?"
        )
    )
    return [
        {"role": "system", "content": _CHECK_SYSTEM},
        {"role": "user", "content": "\n".join(lines)},
    ]

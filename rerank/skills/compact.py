"""The compact form of a skill (``compact.md``), for small local models.

A 1.5B model run in-process cannot call tools or keep a long procedure in mind, and writes
JSON unreliably. Its form of a skill is therefore a few short steps, with the evidence
given up front, and a reply of fixed lines (``Label: <what to write>``) ending with
``Verdict: <A or B>``, which a line parser reads back. The reply lines are declared in the
file's front matter so that parser and prompt cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rerank.skills.problems import ProblemLog
from rerank.skills.yamltext import YamlError, read_text, split_front_matter

__all__ = ["CompactForm", "parse_compact"]

_REPLY = re.compile(r"^([A-Z][A-Za-z ]*): <[^<>]+>$")


@dataclass(frozen=True)
class CompactForm:
    """The procedure for small local models: evidence up front, no tools, fixed reply lines.

    ``reply`` holds the line templates the model must answer with, such as
    ``"Verdict: <A or B>"``; the last one is always the verdict. ``solve`` (optional) is
    the instruction for solving the problem first, alone, ending with an ``Answer:`` line:
    the judge asks it once per item and uses the model's own answer as a resource.
    """

    procedure: str
    reply: tuple[str, ...]
    solve: str | None = None

    @property
    def reply_keys(self) -> tuple[str, ...]:
        """The labels of the reply lines (``"Correct answer"``, ``"Verdict"``)."""
        return tuple(line.split(":", 1)[0] for line in self.reply)


def parse_compact(file: Path, log: ProblemLog) -> CompactForm | None:
    """The compact form in ``file`` (``None`` when the skill has none), logging problems."""
    if not file.is_file():
        return None
    try:
        front, body = split_front_matter(read_text(file))
    except YamlError as exc:
        log.add(file, "front matter", str(exc))
        return None
    if not isinstance(front, dict) or "reply" not in front or set(front) - {"reply", "solve"}:
        log.add(file, "front matter", "must hold 'reply' and optionally 'solve', nothing else")
        return None
    solve = front.get("solve")
    if solve is not None and (not isinstance(solve, str) or "Answer:" not in solve):
        log.add(file, "solve", "must be text that asks for a final 'Answer: ...' line")
        return None
    reply = front["reply"]
    if not isinstance(reply, list) or not reply:
        log.add(file, "reply", "must be a non-empty list of lines such as 'Verdict: <A or B>'")
        return None
    keys = []
    for index, line in enumerate(reply):
        match = _REPLY.match(line) if isinstance(line, str) else None
        if match is None:
            log.add(file, f"reply[{index}]", f"{line!r} must read 'Label: <what to write>'")
            return None
        keys.append(match.group(1))
    if keys[-1] != "Verdict" or len(set(keys)) != len(keys):
        log.add(file, "reply", "labels must be distinct and the last line must be 'Verdict: ...'")
        return None
    if not body.strip():
        log.add(file, "procedure", "missing: write the compact steps below the front matter")
        return None
    return CompactForm(body.strip(), tuple(reply), solve.strip() if solve else None)

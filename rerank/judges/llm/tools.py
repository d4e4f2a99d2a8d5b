"""The tools the LLM judge offers a skill, as OpenAI function schemas, and running them.

A skill lists the tools it may use in its resource bank (``type: tool``); the judge offers
those and ``final_answer``, whose parameters are the skill's output contract:

- ``view_resource(id)``: the text of a resource (a rubric, checklist, calibration, the
  decision rule), a granted reference, or a verifier's evidence for both candidates;
- ``run_verifier(verifier, candidate[, test])``: that candidate's evidence from the
  verifier; for code, ``test`` (an ``assert`` the judge writes) runs the candidate's program
  on an input of the judge's choosing, in the sandbox;
- ``run_python(code)``: a short computation in the sandbox (small limits), its status,
  stdout and stderr.

Every failure is a message for the model (a tool result it can act on), never an
exception: a tool that cannot run says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rerank.evidence import Evidence, Verifier
from rerank.items import Candidate, Item
from rerank.judges.evidence import Standing
from rerank.judges.llm.prompt import Shown, evidence_lines
from rerank.sandbox.runner import Limits, RunResult, SandboxError, run_python
from rerank.skills import Skill, validate_instance
from rerank.text import clip

__all__ = ["FINAL_ANSWER", "PYTHON_LIMITS", "ToolBox", "ToolContext", "offered_tools"]

FINAL_ANSWER = "final_answer"
#: A judge's check is a few lines of arithmetic: small limits keep a runaway one cheap.
PYTHON_LIMITS = Limits(
    cpu_seconds=5, wall_seconds=10, memory_mb=512, processes=8, file_size_mb=4,
    open_files=32, output_bytes=16_384,
)  # fmt: skip
OUTPUT_CHARS = 4000


def offered_tools(skill: Skill) -> tuple[str, ...]:
    """The tools ``skill`` lists, in bank order, once each."""
    return tuple(dict.fromkeys(r.tool for r in skill.resources if r.tool))


@dataclass(frozen=True)
class ToolContext:
    """What the tools of one verdict may reach: the item as the skill sees it (labels
    never, the reference only when granted), the candidates shown and their evidence."""

    item: Item
    skill: Skill
    shown: Sequence[Shown]
    kind: str
    verifiers: Mapping[str, Verifier]


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _object(properties: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _format_run(result: RunResult) -> str:
    code = "" if result.returncode is None else f" (exit {result.returncode})"
    parts = [f"status: {result.status}{code}"]
    parts += [f"stdout:\n{result.stdout}" if result.stdout else "stdout: (empty)"]
    if result.stderr:
        parts.append(f"stderr:\n{result.stderr}")
    if result.truncated:
        parts.append("(output truncated)")
    return "\n".join(parts)


class ToolBox:
    """The tools of one verdict: their schemas (``schemas``, in the order offered) and
    :meth:`run`. ``contract`` is the output contract's schema for ``final_answer``."""

    def __init__(
        self,
        context: ToolContext,
        contract: dict[str, Any],
        *,
        python: Callable[..., RunResult] = run_python,
    ) -> None:
        self.context = context
        self._python = python
        specs: dict[str, dict[str, Any]] = {}
        for tool in offered_tools(context.skill):
            spec = getattr(self, f"_{tool}_spec")()
            if spec is not None:
                specs[tool] = spec
        parameters = {k: v for k, v in contract.items() if k not in ("$schema", "title")}
        specs[FINAL_ANSWER] = _function(
            FINAL_ANSWER,
            "Give the verdict in the skill's output contract. This ends the evaluation.",
            parameters,
        )
        self._specs = specs
        #: Check ids the tools showed beyond the item's evidence (a test the judge wrote),
        #: which a verdict may cite.
        self.revealed: set[str] = set()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    @property
    def schemas(self) -> list[dict[str, Any]]:
        return list(self._specs.values())

    def parameters(self, name: str) -> dict[str, Any]:
        return self._specs[name]["function"]["parameters"]

    # -- schemas ------------------------------------------------------------------------

    def _viewable(self) -> dict[str, str]:
        """id -> what viewing it gives."""
        out = {}
        for r in self.context.skill.resources:
            if r.text is not None or r.type in ("reference", "verifier"):
                out[r.id] = r.type
        return out

    def _view_resource_spec(self) -> dict[str, Any] | None:
        ids = list(self._viewable())
        if not ids:
            return None
        return _function(
            "view_resource",
            "Read a resource of the skill by its id: a rubric, checklist, calibration "
            "examples or decision rule, the granted reference, or a verifier's evidence.",
            _object({"id": {"type": "string", "enum": ids}}, ["id"]),
        )

    def _verifier_names(self) -> list[str]:
        names = [r.verifier for r in self.context.skill.resources if r.verifier]
        names += [s.standing.evidence.verifier for s in self.context.shown if s.standing.evidence]
        return list(dict.fromkeys(n for n in names if n))

    def _run_verifier_spec(self) -> dict[str, Any] | None:
        names = self._verifier_names()
        if not names:
            return None
        properties: dict[str, Any] = {
            "verifier": {"type": "string", "enum": names},
            "candidate": {"type": "string", "enum": [s.label for s in self.context.shown]},
        }
        if "code" in names:
            properties["test"] = {
                "type": "string",
                "description": "code only: one assert on an input you chose, such as "
                "`assert add(2, 3) == 5`, run against the candidate's program",
            }
        return _function(
            "run_verifier",
            "Every check a verifier made of one candidate (status and detail); for code, "
            "run the candidate's program on a test you write.",
            _object(properties, ["verifier", "candidate"]),
        )

    def _run_python_spec(self) -> dict[str, Any]:
        return _function(
            "run_python",
            "Run a short Python program in a sandbox (no network, no files kept, a few "
            "seconds of CPU) and see its status, stdout and stderr. Print what you need.",
            _object({"code": {"type": "string", "minLength": 1}}, ["code"]),
        )

    # -- running ------------------------------------------------------------------------

    def check(self, name: str, arguments: dict[str, Any]) -> str | None:
        """Why the call cannot run (unknown tool, wrong arguments), or ``None``."""
        if name not in self._specs:
            return f"unknown tool {name!r}: the tools are {', '.join(self.names)}"
        errors = validate_instance(arguments, self.parameters(name))
        if errors:
            return f"wrong arguments for {name}: " + "; ".join(errors[:5])
        return None

    async def run(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool other than ``final_answer``; the result is text for the model."""
        problem = self.check(name, arguments)
        if problem is not None:
            return problem
        if name == "view_resource":
            return self._view(arguments["id"])
        if name == "run_verifier":
            return await self._run_verifier(
                arguments["verifier"], arguments["candidate"], arguments.get("test")
            )
        if name == "run_python":
            return await self._run_python(arguments["code"])
        return f"{name} cannot be called as a tool here"

    def _view(self, resource_id: str) -> str:
        context = self.context
        resource = context.skill.resource(resource_id)
        if resource.text is not None:
            return clip(resource.text, 3 * OUTPUT_CHARS)
        if resource.type == "reference":
            reference = context.item.task.resources.get("reference")
            if reference is None:
                return "no reference was granted for this item (rerank select --expose reference)"
            return clip(str(reference), OUTPUT_CHARS)
        lines: list[str] = []
        for one in context.shown:
            lines += evidence_lines(one, context.kind, context.item.n, limit=10_000)
        return clip("\n".join(lines), OUTPUT_CHARS)

    async def _run_verifier(self, name: str, label: str, test: str | None) -> str:
        context = self.context
        position = [s.label for s in context.shown].index(label)
        shown = context.shown[position]
        evidence = shown.standing.evidence
        if test is None and evidence is not None and evidence.verifier == name:
            lines = evidence_lines(shown, context.kind, context.item.n, limit=10_000)
            return clip("\n".join(lines), OUTPUT_CHARS)
        verifier = context.verifiers.get(name)
        if verifier is None:
            return f"no {name} verifier is available"
        item = replace(context.item, candidates=(Candidate(shown.text),))
        if test is not None:
            if name != "code":
                return "a test can only be run by the code verifier"
            resources = {**item.task.resources, "tests": [test]}
            item = replace(item, task=replace(item.task, resources=resources))
        if not verifier.applies(item):
            return f"the {name} verifier does not apply to this item"
        try:
            found: list[Evidence] = await asyncio.to_thread(verifier.verify, item)
        except SandboxError as exc:
            return f"the sandbox cannot run programs on this machine: {exc}"
        self.revealed.update(check.id for check in found[0].checks)
        # Run alone, the candidate has no cluster: its signature would mislead.
        one = Shown(
            label, shown.text, Standing(1, None, None, 0, replace(found[0], signature=None))
        )
        lines = evidence_lines(one, context.kind, context.item.n, limit=10_000)
        if test is not None:
            lines.insert(1, "(your test is `test:1`; the prompt's examples are `example:<k>`)")
        return clip("\n".join(lines), OUTPUT_CHARS)

    async def _run_python(self, code: str) -> str:
        try:
            result = await asyncio.to_thread(self._python, code, limits=PYTHON_LIMITS)
        except SandboxError as exc:
            return f"the sandbox cannot run programs on this machine: {exc}"
        return clip(_format_run(result), OUTPUT_CHARS)

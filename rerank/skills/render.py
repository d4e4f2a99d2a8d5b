"""A skill rendered as the prompt prefix that goes in front of every judge call.

The prefix depends on the package alone (no item, no time, no randomness), so it is
byte-identical across calls, runs and machines, and an inference server's prefix cache
serves it to every match of a run. Everything item-specific (prompt, candidates, evidence)
comes after it.

Full form: the procedure, the resource index (what each resource is, when to use it, whether
its evidence is hard or soft), the texts of the cheap file-backed resources, and the output
contract with the evidence-binding rule. Compact form (for small local models): the compact
procedure and the exact reply lines, nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from rerank.errors import ConfigError
from rerank.skills.package import Skill
from rerank.skills.resources import Resource

__all__ = ["render"]

_TITLES = {
    "rubric": "Rubric",
    "checklist": "Checklist",
    "calibration": "Calibration",
    "aggregation": "Decision rule",
}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _index_line(resource: Resource) -> str:
    kind = resource.type
    if resource.verifier:
        kind += f" `{resource.verifier}`"
    elif resource.tool:
        kind += f" `{resource.tool}`"
    cost = f"~{resource.cost} tokens" if isinstance(resource.cost, int) else resource.cost
    facts = [kind, f"{resource.evidence} evidence", f"cost {cost}"]
    if resource.gated:
        facts.append("sees the " + " and the ".join(sorted(resource.gated)))
    if resource.text is not None:
        facts.append("text below" if resource.inline else "read it with view_resource")
    return f"- `{resource.id}` ({'; '.join(facts)}): {resource.when}"


def _shape(schema: dict[str, Any]) -> str:
    """A schema of the contract subset as a one-line sketch a model reads at a glance:
    ``{"winner": "A" | "B" | "tie", "confidence": number 0 to 1, ...}``."""
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "object":
        required = set(schema.get("required", []))
        fields = []
        for name, sub in schema.get("properties", {}).items():
            note = sub.get("description", "")
            if name not in required:
                note = f"optional{': ' + note if note else ''}"
            fields.append(f'"{name}": {_shape(sub)}' + (f" ({note})" if note else ""))
        return "{" + ", ".join(fields) + "}"
    if kind == "array":
        return f"[{_shape(schema.get('items', {}))}, ...]"
    if "minimum" in schema and "maximum" in schema:
        return f"{kind} {_number(schema['minimum'])} to {_number(schema['maximum'])}"
    return kind


def _contract(skill: Skill) -> list[str]:
    low, high = skill.score_scale
    example = skill.criterion_ids[0] if skill.criterion_ids else None
    own = f", criterion ids of this skill as `<resource>:<criterion>` (such as `{example}`)"
    return [
        "## Output contract",
        "",
        "Comparing two candidates (A is shown first), reply with one JSON object:",
        _shape(skill.contract["pairwise"]),
        "",
        f"Scoring one candidate (scale {_number(low)} to {_number(high)}), "
        "reply with one JSON object:",
        _shape(skill.contract["pointwise"]),
        "",
        "`evidence` lists the ids your decision rests on: check ids from the item's evidence "
        "(such as `test:2`, `ifeval:<instruction>`, `reference`, `step:3`)"
        + (own if example else "")
        + ", and the id of a resource whose result you used. Cite only ids that exist: a "
        "verdict citing an unknown id is flagged as unsupported. `reason` says in a few "
        "sentences how the "
        "cited evidence decides.",
    ]


def _preamble(skill: Skill) -> str:
    """How to read what follows; evidence is mentioned only if a resource produces it."""
    if any(r.type in ("verifier", "reference") for r in skill.resources):
        return (
            "Execute the procedure step by step. Hard evidence (verifier checks, a granted "
            "reference, a computation you ran) is decisive on its own; soft evidence (rubric "
            "and checklist judgements, constraints read from prose) only informs. After this "
            "skill come the item's prompt, the candidates and the evidence computed for each "
            "candidate."
        )
    return (
        "Execute the procedure step by step. No verifier applies: your judgement against the "
        "criteria below is the evidence. After this skill come the item's prompt and the "
        "candidates."
    )


def _full(skill: Skill) -> str:
    lines = [
        f"# Evaluation skill: {skill.name} {skill.version}",
        "",
        skill.description,
        "",
        _preamble(skill),
        "",
        "## Procedure",
        "",
        skill.procedure,
        "",
        "## Resources",
        "",
        *(_index_line(r) for r in skill.resources),
    ]
    for resource in skill.resources:
        if resource.inline:
            title = _TITLES[resource.type]
            lines += ["", f"### {title} `{resource.id}`", "", resource.text or ""]
    lines += ["", *_contract(skill)]
    return "\n".join(lines) + "\n"


def _compact(skill: Skill) -> str:
    if skill.compact is None:
        raise ConfigError(
            f"skill {skill.name!r} has no compact form: add compact.md to {skill.root} "
            "to use it with small local models"
        )
    reply = "\n".join(skill.compact.reply)
    return f"{skill.compact.procedure}\n\nReply exactly in this form, nothing else:\n{reply}\n"


def render(skill: Skill, *, compact: bool = False) -> str:
    """The stable prompt prefix of ``skill`` (its compact form with ``compact=True``).

    The same package always renders to the same bytes; resources keep their file order.
    Raises ``ConfigError`` for ``compact=True`` when the skill has no compact form.

    Examples
    --------
    >>> from rerank.skills import SkillRegistry
    >>> prefix = render(SkillRegistry.from_dirs().get("math"))
    >>> prefix.startswith("# Evaluation skill: math")
    True
    """
    return _compact(skill) if compact else _full(skill)

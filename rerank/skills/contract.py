"""Output contracts: the JSON Schema subset a skill's verdicts are written in.

A contract holds two schemas: ``pairwise`` (``winner`` A, B or tie, ``confidence`` 0..1,
``evidence`` ids, ``reason``) and ``pointwise`` (``score`` on the skill's scale, ``evidence``,
``reason``). Extra properties are allowed (the math skill asks for the judge's own answer).

Only a small subset of JSON Schema is accepted (:data:`KEYWORDS`): the keywords every
guided-decoding backend understands, so a contract can be handed to a server as a response
format as it is. That subset is small enough to validate here in full
(:func:`validate_instance`), without a JSON Schema library.
"""

from __future__ import annotations

from typing import Any, TypeGuard

__all__ = [
    "KEYWORDS",
    "contract_problems",
    "schema_problems",
    "score_scale",
    "validate_instance",
]

KEYWORDS: frozenset[str] = frozenset(
    {
        "$schema",
        "title",
        "description",
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    }
)
_JSON_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems")
WINNERS = ("A", "B", "tie")

Problem = tuple[str, str]  # (field, message)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_ok(value: Any, name: str) -> bool:
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "number": _is_number,
        "integer": lambda v: _is_number(v) and float(v).is_integer(),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return checks[name](value)


def schema_problems(schema: Any, where: str) -> list[Problem]:
    """What makes ``schema`` fall outside the supported subset (empty when it is fine)."""
    if not isinstance(schema, dict):
        return [(where, "a schema must be a JSON object")]
    problems: list[Problem] = []
    for key in sorted(set(schema) - KEYWORDS):
        problems.append(
            (f"{where}.{key}", f"unsupported keyword; use {', '.join(sorted(KEYWORDS))}")
        )
    kind = schema.get("type")
    if kind is not None and kind not in _JSON_TYPES:
        problems.append((f"{where}.type", f"{kind!r} is not one of {', '.join(_JSON_TYPES)}"))
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        problems.append((f"{where}.enum", "must be a non-empty list"))
    for key in ("minimum", "maximum"):
        if key in schema and not _is_number(schema[key]):
            problems.append((f"{where}.{key}", "must be a number"))
    for key in _COUNTS:
        value = schema.get(key)
        if key in schema and not (isinstance(value, int) and not isinstance(value, bool)):
            problems.append((f"{where}.{key}", "must be a whole number"))
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        problems.append((f"{where}.properties", "must be an object of schemas"))
        properties = {}
    for name, sub in properties.items():
        problems.extend(schema_problems(sub, f"{where}.properties.{name}"))
    required = schema.get("required", [])
    if not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
        problems.append((f"{where}.required", "must be a list of property names"))
    else:
        for name in required:
            if name not in properties:
                problems.append((f"{where}.required", f"{name!r} is required but not a property"))
    if "additionalProperties" in schema and not isinstance(schema["additionalProperties"], bool):
        problems.append((f"{where}.additionalProperties", "must be true or false"))
    if "items" in schema:
        problems.extend(schema_problems(schema["items"], f"{where}.items"))
    return problems


def validate_instance(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Why ``value`` does not satisfy ``schema`` (a schema of the subset); empty if it does."""
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if _is_number(value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, str | list):
        low, high = (
            ("minLength", "maxLength") if isinstance(value, str) else ("minItems", "maxItems")
        )
        if low in schema and len(value) < schema[low]:
            errors.append(f"{where}: shorter than {schema[low]}")
        if high in schema and len(value) > schema[high]:
            errors.append(f"{where}: longer than {schema[high]}")
    if isinstance(value, list) and "items" in schema:
        for index, element in enumerate(value):
            errors.extend(validate_instance(element, schema["items"], f"{where}[{index}]"))
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: missing {name!r}")
        for name, element in value.items():
            if name in properties:
                errors.extend(validate_instance(element, properties[name], f"{where}.{name}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected property {name!r}")
    return errors


def _expect(schema: dict[str, Any], where: str, name: str, kinds: tuple[str, ...]) -> list[Problem]:
    """``name`` must be a required property of one of ``kinds``."""
    prop = schema.get("properties", {}).get(name)
    if not isinstance(prop, dict):
        return [(f"{where}.properties.{name}", "missing: every verdict needs it")]
    problems = []
    if prop.get("type") not in kinds:
        problems.append((f"{where}.properties.{name}.type", f"must be {' or '.join(kinds)}"))
    if name not in schema.get("required", []):
        problems.append((f"{where}.required", f"must include {name!r}"))
    return problems


def _pairwise_problems(schema: dict[str, Any]) -> list[Problem]:
    where = "pairwise"
    problems = []
    for name, kinds in (("winner", ("string",)), ("confidence", ("number",))):
        problems += _expect(schema, where, name, kinds)
    winner = schema.get("properties", {}).get("winner", {})
    enum = winner.get("enum") if isinstance(winner, dict) else None
    if not (
        isinstance(enum, list)
        and all(isinstance(e, str) for e in enum)
        and sorted(enum) == sorted(WINNERS)
    ):
        problems.append((f"{where}.properties.winner.enum", 'must be exactly ["A", "B", "tie"]'))
    confidence = schema.get("properties", {}).get("confidence", {})
    if isinstance(confidence, dict) and (
        confidence.get("minimum") != 0 or confidence.get("maximum") != 1
    ):
        problems.append((f"{where}.properties.confidence", "must have minimum 0 and maximum 1"))
    return problems


def _pointwise_problems(schema: dict[str, Any]) -> list[Problem]:
    where = "pointwise"
    problems = _expect(schema, where, "score", ("number", "integer"))
    score = schema.get("properties", {}).get("score", {})
    if isinstance(score, dict):
        low, high = score.get("minimum"), score.get("maximum")
        if not (_is_number(low) and _is_number(high) and low < high):
            problems.append(
                (f"{where}.properties.score", "must state the scale: numeric minimum < maximum")
            )
    return problems


def contract_problems(contract: Any) -> list[Problem]:
    """What is wrong with a contract: its shape, and every schema in it."""
    if not isinstance(contract, dict):
        return [("", "a contract must be a JSON object with 'pairwise' and 'pointwise'")]
    problems: list[Problem] = []
    for key in sorted(set(contract) - {"pairwise", "pointwise", "description"}):
        problems.append((key, "unknown key; a contract has 'pairwise' and 'pointwise'"))
    for mode, shape in (("pairwise", _pairwise_problems), ("pointwise", _pointwise_problems)):
        schema = contract.get(mode)
        if schema is None:
            problems.append((mode, "missing"))
            continue
        found = schema_problems(schema, mode)
        if not found:
            if schema.get("type") != "object":
                found.append((f"{mode}.type", "must be 'object'"))
            found += _expect(schema, mode, "evidence", ("array",))
            evidence = schema.get("properties", {}).get("evidence", {})
            if isinstance(evidence, dict) and evidence.get("items", {}).get("type") != "string":
                found.append((f"{mode}.properties.evidence.items", "must be strings (ids)"))
            found += _expect(schema, mode, "reason", ("string",))
            found += shape(schema)
        problems.extend(found)
    return problems


def score_scale(contract: dict[str, Any]) -> tuple[float, float]:
    """The pointwise scale ``(minimum, maximum)`` of a valid contract."""
    score = contract["pointwise"]["properties"]["score"]
    return score["minimum"], score["maximum"]

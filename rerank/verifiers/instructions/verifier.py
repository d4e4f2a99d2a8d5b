"""The instruction-following verifier: IFEval's checkers on every candidate.

When an item carries IFEval's ``instruction_id_list`` and ``kwargs`` (visible task
resources), each instruction becomes one *hard* check, passed or failed by IFEval's
**strict** checker; the detail names the kwargs and, when it differs, the **loose** verdict.
When it carries none, the instructions are read off the prompt's prose
(:func:`extract_instructions`) and checked the same way as *soft* checks, since the
extraction itself may be wrong. Check ids are ``ifeval:<instruction_id>`` (a repeated id
gets ``#2``, ``#3``, ... so that every check stays citable); there is no signature, since
instructions say nothing about which candidates are equivalent.

Examples
--------
>>> from rerank.items import Item
>>> item = Item.from_texts("Answer in all lowercase letters.", ["hello there", "Hello there"])
>>> [e.checks[0].status for e in InstructionVerifier().verify(item)]
['pass', 'fail']
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rerank.evidence import Check, Evidence, Status
from rerank.items import Item
from rerank.verifiers.instructions.checkers import CheckResult, check_instruction
from rerank.verifiers.instructions.extraction import extract_instructions

__all__ = ["InstructionVerifier", "given_instructions"]


def given_instructions(item: Item) -> tuple[list[str], list[dict[str, Any]]] | None:
    """The item's own IFEval ids and kwargs, or ``None`` when it carries no ids.

    Missing kwargs count as empty: their instructions then come back unchecked, with the
    reason, rather than being guessed.
    """
    ids = item.task.resources.get("instruction_id_list")
    if not ids:
        return None
    kwargs = list(item.task.resources.get("kwargs") or [])
    kwargs += [{}] * (len(ids) - len(kwargs))
    return [str(i) for i in ids], [dict(k or {}) for k in kwargs[: len(ids)]]


def _detail(kwargs: dict[str, Any], result: CheckResult) -> str:
    shown = {k: v for k, v in kwargs.items() if v is not None}
    text = f"kwargs {json.dumps(shown, ensure_ascii=False)}" if shown else "no kwargs"
    if result.strict is None:
        return result.problem
    if result.loose != result.strict:
        verdict = "pass" if result.loose else "fail"
        text += f"; loose {verdict} (strict {'pass' if result.strict else 'fail'})"
    return text


def _check_id(instruction_id: str, seen: Counter[str]) -> str:
    seen[instruction_id] += 1
    suffix = f"#{seen[instruction_id]}" if seen[instruction_id] > 1 else ""
    return f"ifeval:{instruction_id}{suffix}"


class InstructionVerifier:
    """IFEval's strict checkers as evidence: hard for given ids, soft for extracted ones."""

    name = "instruction"

    @staticmethod
    def claims_resources(item: Item) -> bool:
        """Whether the item carries IFEval instruction ids."""
        return given_instructions(item) is not None

    @staticmethod
    def claims_content(item: Item) -> bool:
        """Whether the prompt states constraints the extractor can read."""
        return bool(extract_instructions(item.prompt)[0])

    def applies(self, item: Item) -> bool:
        """The item carries instruction ids, or its prompt states constraints we can read.

        The declared kind is not read: the router sends only instruction items here, and a
        declared one with nothing to check gets no evidence rather than an empty one.
        """
        return self.claims_resources(item) or self.claims_content(item)

    def verify(self, item: Item) -> list[Evidence]:
        """One :class:`Evidence` per candidate, in candidate order.

        Notes
        -----
        Costs one checker build per instruction and candidate, plus up to nine
        ``check_following`` calls (strict, then the eight loose variants).
        """
        given = given_instructions(item)
        if given is not None:
            (ids, kwargs), hard = given, True
            note = f"instructions given: {len(ids)} IFEval ids carried by the item (hard checks)"
        else:
            (ids, kwargs), hard = extract_instructions(item.prompt), False
            note = (
                f"instructions extracted from the prompt: {len(ids)} (soft checks)"
                if ids
                else "no instructions: the item carries no ids and none were extracted"
            )
        return [
            self._evidence(item.prompt, c.text, ids, kwargs, hard, note) for c in item.candidates
        ]

    def _evidence(
        self,
        prompt: str,
        text: str,
        ids: list[str],
        kwargs: list[dict[str, Any]],
        hard: bool,
        note: str,
    ) -> Evidence:
        seen: Counter[str] = Counter()
        checks = []
        for instruction_id, kw in zip(ids, kwargs, strict=True):
            result = check_instruction(instruction_id, kw, text, prompt)
            status: Status = (
                "unknown" if result.strict is None else "pass" if result.strict else "fail"
            )
            checks.append(
                Check(
                    _check_id(instruction_id, seen), status, hard=hard, detail=_detail(kw, result)
                )
            )
        return Evidence(self.name, checks=tuple(checks), signature=None, notes=(note,))

"""Which verifier an item goes to: its declared kind, else the first verifier that claims it.

The item's own ``task.kind`` (or ``--task``) wins. Otherwise the verifiers are asked in
two rounds, each in a fixed order, and the first to claim the item names its kind:

1. by visible resources (:data:`BY_RESOURCES`): instruction ids mean instruction
   following, whatever else the item carries (an IFEval row); tests, an entry point or
   inputs mean code;
2. by content (:data:`BY_CONTENT`): a function signature or doctest examples in the
   prompt, or a function in most candidates, mean code; instructions the extractor reads
   in the prompt mean instruction following; a question with numbers answered with final
   answers means math. Code comes first because a code prompt's prose often reads as a
   constraint ("return the words in lowercase").

Anything else is ``general``: no verifier applies, and the evidence judge says so. Each
rule is defined once, by its verifier (``claims_resources`` and ``claims_content``);
this module only orders them.

Examples
--------
>>> from rerank.items import Item
>>> detect_kind(Item.from_texts("Tom has 3 apples and buys 4. How many?", ["#### 7"]))
'math'
>>> detect_kind(Item.from_texts("Why is the sky blue?", ["Rayleigh scattering."]))
'general'
"""

from __future__ import annotations

from typing import Protocol

from rerank.items import Item
from rerank.verifiers.code.verifier import CodeVerifier
from rerank.verifiers.instructions.verifier import InstructionVerifier
from rerank.verifiers.math.verifier import MathVerifier

__all__ = ["BY_CONTENT", "BY_RESOURCES", "Claimant", "detect_kind"]


class Claimant(Protocol):
    """What the router asks of a verifier (its class will do: both rules are static)."""

    name: str

    def claims_resources(self, item: Item) -> bool: ...

    def claims_content(self, item: Item) -> bool: ...


#: Who claims an undeclared item by its visible resources, in the order asked.
BY_RESOURCES: tuple[Claimant, ...] = (InstructionVerifier, CodeVerifier)
#: Who claims it by its content, in the order asked, when no resource decided.
BY_CONTENT: tuple[Claimant, ...] = (CodeVerifier, InstructionVerifier, MathVerifier)


def detect_kind(item: Item) -> str:
    """The task kind of ``item``: declared, else from its resources, else from its content.

    Parameters
    ----------
    item : the item; only its declared kind, visible resources, prompt and candidate texts
        are read.

    Returns
    -------
    str : ``"code"``, ``"instruction"``, ``"math"``, the declared kind, or ``"general"``
        when no verifier claims the item.
    """
    if item.task.kind:
        return item.task.kind
    for verifier in BY_RESOURCES:
        if verifier.claims_resources(item):
            return verifier.name
    for verifier in BY_CONTENT:
        if verifier.claims_content(item):
            return verifier.name
    return "general"

"""How the LLM judge asks a question: the compact form for small models, and one verdict
from both display orders.

:func:`small_model` and :func:`small_by_size` decide ``compact=auto`` (from the model's id,
or from the parameter count its server reports, so that a 1.5B model served as "judge" is
still small); :func:`both_orders_verdict` combines the text verdicts of the two display
orders of one question (log-probability verdicts average theirs instead:
:mod:`~rerank.judges.llm.probabilities`).
"""

from __future__ import annotations

import re

from rerank.judges.base import Verdict
from rerank.llm.server_info import ServerInfo
from tournaments import combine_orders, outcome_of

__all__ = ["SMALL_MODEL_BILLIONS", "both_orders_verdict", "small_by_size", "small_model"]

_SIZE = re.compile(r"(?<![0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
#: Models up to this many billion parameters get the compact form under ``compact=auto``.
SMALL_MODEL_BILLIONS = 3.0


def small_model(name: str | None) -> bool:
    """Whether a model id names a small model (``...-1.5B-...``, ``SmolLM2-135M``).

    Parameters
    ----------
    name : a model id (the part after the last ``/`` is read), or None.

    Returns
    -------
    bool, true for at most :data:`SMALL_MODEL_BILLIONS` billion parameters by the id.

    Examples
    --------
    >>> [small_model(m) for m in ("Qwen2.5-Coder-1.5B-Instruct", "smollm2-135m", "Qwen3-8B")]
    [True, True, False]
    >>> small_model("gpt-4o")
    False
    """
    if not name:
        return False
    sizes = [
        float(number) / (1000 if unit.lower() == "m" else 1)
        for number, unit in _SIZE.findall(name.rsplit("/", 1)[-1])
    ]
    return bool(sizes) and max(sizes) <= SMALL_MODEL_BILLIONS


def small_by_size(info: ServerInfo) -> bool:
    """Whether a server reports a model of at most :data:`SMALL_MODEL_BILLIONS` billion
    parameters (llama.cpp does, whatever name the model is served under).

    >>> small_by_size(ServerInfo(parameters=1_540_000_000)), small_by_size(ServerInfo())
    (True, False)
    """
    return info.parameters is not None and info.parameters <= SMALL_MODEL_BILLIONS * 1e9


def both_orders_verdict(forward: Verdict, backward: Verdict) -> Verdict:
    """One verdict from both display orders of one question.

    Combined by :func:`tournaments.combine_orders`: kept when both name the same
    candidate, a tie when they disagree (the display order decided), invalid when either
    is. Costs add up; the reason says which case it was; ``judge`` and ``via`` are the
    forward verdict's.

    Parameters
    ----------
    forward : the verdict with ``a`` shown first.
    backward : the verdict with ``b`` shown first, its winner relative to ``(b, a)``.

    Returns
    -------
    Verdict relative to ``(a, b)``.

    Examples
    --------
    >>> a_first = Verdict("a", reason="A is right")
    >>> both_orders_verdict(a_first, Verdict("b", reason="B is right")).winner
    'a'
    >>> tie = both_orders_verdict(a_first, Verdict("a", reason="A is right"))
    >>> tie.winner, tie.reason.split(":")[0]
    ('tie', 'position-dependent')
    """
    winner = combine_orders(outcome_of(forward), outcome_of(backward))
    if winner == "invalid":
        bad = forward if forward.winner == "invalid" else backward
        order = "" if bad is forward else " (display order swapped)"
        reason = f"{bad.reason}{order}"
    elif winner != "tie":
        reason = f"{forward.reason} [the same with the display order swapped]"
    elif "tie" in (forward.winner, backward.winner):
        reason = f"a tie in one display order: {forward.reason} | swapped: {backward.reason}"
    else:
        place = "first" if forward.winner == "a" else "second"
        reason = (
            f"position-dependent: the model named the response shown {place} in both "
            f"display orders, so the order decided, not the responses; a tie. "
            f"{forward.reason} | swapped: {backward.reason}"
        )
    cited = tuple(dict.fromkeys((*forward.evidence, *backward.evidence)))
    return Verdict(
        winner,
        reason=reason,
        confidence=forward.confidence if winner in ("a", "b") else None,
        evidence=cited,
        raw=f"{forward.raw or ''}\n--- display order swapped ---\n{backward.raw or ''}",
        judge=forward.judge,
        cost=forward.cost + backward.cost,
        flags=tuple(dict.fromkeys((*forward.flags, *backward.flags))),
        via=forward.via,
    )

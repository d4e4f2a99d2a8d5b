"""The model's own result for a call: what code pairs the evidence leaves tied are judged by.

Two programs that pass every visible example may still give different results for the
same call (a behaviour probe of the code verifier: an input of the task, or one mutated
from its examples; :attr:`rerank.evidence.Evidence.outputs`). Which of the two results
the task asks for is a question about the specification, not about either program, and a
small code model answers it far better by working the call out than by comparing two
programs: it completes ``>>> call`` as a doctest would, and the judge compares what it
wrote with each program's result (the code verifier's equality: sets unordered, floats to
nine digits). When, on every call where exactly one program gives the model's result, it
is the same program, that decides the pair with no further question (``via="own-answer"``,
evidence ``own-answer``), as the solve-first answer does on math
(:mod:`~rerank.judges.llm.solve`). Otherwise the pair is asked as before.

Each call is worked out once per run (concurrent pairs share one request) and kept in the
verdict cache; its cost goes with the first verdict that needed it.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from rerank.errors import RequestRejectedError
from rerank.judges.base import Cost, Verdict
from rerank.judges.evidence import Standing
from rerank.judges.llm.question import Prepared, question_key
from rerank.judges.llm.solve import OWN_ANSWER
from rerank.llm.backend import ChatBackend
from rerank.llm.cache import NullCache, VerdictCache
from rerank.llm.failures import context_overflow
from rerank.memo import SingleFlight
from rerank.text import clip
from rerank.verifiers.code.values import canonical

__all__ = ["Differing", "OwnResults", "Prediction", "differing_outputs", "prediction_key"]

#: What the model is told before the task and the call.
SYSTEM = (
    "You run Python in your head. Reply with the call's result only: the value exactly as "
    "the Python interpreter prints it, or the exception's name if it raises."
)
_MAX_TOKENS = 64
_KEEP = 4096  # calls whose predictions stay in memory
_EXCEPTION = re.compile(r"([A-Z]\w*(?:Error|Exception|Exit|Interrupt))\b")
_FENCE = re.compile(r"^```\w*\s*|\s*```$")


@dataclass(frozen=True)
class Differing:
    """A behaviour probe on which two programs differ: the ``call``, what the first and the
    second program gave as a person reads it (``results``) and as the evidence compares
    it (``keys``)."""

    call: str
    results: tuple[str, str]
    keys: tuple[str, str]


@dataclass(frozen=True)
class Prediction:
    """What the model wrote for a call (``text``), and its comparable form (``key``:
    ``=`` and the canonical value, ``raise:`` and the exception's name, ``None`` when it
    reads as neither)."""

    call: str
    text: str
    key: str | None
    cost: Cost

    def matches(self, key: str, result: str) -> bool:
        """Whether a program's result (its evidence ``key`` and readable ``result``) is
        the one the model predicted."""
        if self.key is None:
            return False
        if self.key.startswith("raise:"):
            return result == f"raises {self.key[len('raise:') :]}"
        return self.key == key


def prediction_key(text: str) -> str | None:
    """The comparable form of what the model wrote for a call: its first line, without a
    code fence, backticks or a ``>>>`` echo of the call.

    >>> prediction_key("[1, 2]"), prediction_key("`(2.0, 2.2)`"), prediction_key("None")
    ('=list[1,2]', '=tuple[2,2.2]', '=None')
    >>> prediction_key("IndexError: list index out of range")
    'raise:IndexError'
    >>> prediction_key("It returns a list") is None
    True
    """
    lines = [
        line.strip()
        for line in _FENCE.sub("", text.strip()).splitlines()
        if line.strip() and not line.strip().startswith(">>>")
    ]
    if not lines:
        return None
    line = lines[0].strip("`").strip()
    if line.startswith("Traceback"):
        line = lines[-1]
    raised = _EXCEPTION.match(line)
    if raised:
        return "raise:" + raised.group(1)
    try:
        value = ast.literal_eval(line)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return "=" + canonical(value)


def differing_outputs(first: Standing, second: Standing) -> list[Differing]:
    """The probe calls whose results the two candidates' evidence counts as different
    (:attr:`rerank.evidence.Evidence.outputs`), in probe order: the item's own calls, then
    mutated ones. Empty without outputs on either side.

    >>> from rerank.evidence import Evidence, Output
    >>> def standing(*outs):
    ...     return Standing(0, None, None, 1, Evidence("code", outputs=outs))
    >>> same, other = Output("f(1)", "returns 1", "=1"), Output("f(2)", "returns 2", "=2")
    >>> broken = Output("f(2)", "raises E", "crash")
    >>> differing_outputs(standing(same, other), standing(same, broken))
    [Differing(call='f(2)', results=('returns 2', 'raises E'), keys=('=2', 'crash'))]
    """
    if first.evidence is None or second.evidence is None:
        return []
    theirs = {o.call: o for o in second.evidence.outputs}
    found = []
    for mine in first.evidence.outputs:
        other = theirs.get(mine.call)
        if other is not None and other.key != mine.key:
            found.append(Differing(mine.call, (mine.result, other.result), (mine.key, other.key)))
    return found


class OwnResults:
    """The model's result for probe calls, once per call and run; see the module docstring.

    Parameters
    ----------
    chat : the backend to ask (its model is part of the cache key).
    cache : the judge's verdict cache, opened on first use.
    """

    def __init__(self, chat: ChatBackend, cache: Callable[[], VerdictCache | NullCache]) -> None:
        self.chat = chat
        self.cache = cache
        self._memo: SingleFlight[str, Prediction] = SingleFlight(_KEEP)

    async def predict(self, prepared: Prepared, call: str) -> tuple[Prediction, bool]:
        """The model's result for ``call`` on this item's task, and whether this call made
        the request (and so carries its cost)."""
        key = hashlib.sha256(f"{prepared.view.prompt}\x00{call}".encode()).hexdigest()
        return await self._memo.get(key, lambda: self._ask(prepared, call))

    async def _ask(self, prepared: Prepared, call: str) -> Prediction:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{prepared.view.prompt.strip()}\n\n>>> {call}"},
        ]
        key = question_key(
            model=await self.chat.resolve_model(),
            skill=prepared.skill,
            prompt=prepared.view.prompt,
            candidates=[],
            mode="predict",
            question=messages[1]["content"],
            parameters={"temperature": 0.0, "max_tokens": _MAX_TOKENS, "system": SYSTEM},
        )
        store = self.cache()
        cached = store.get(key)
        if cached is not None:
            return Prediction(call, cached["text"], prediction_key(cached["text"]), Cost())
        try:
            result = await self.chat.chat(messages, temperature=0.0, max_tokens=_MAX_TOKENS)
        except RequestRejectedError as exc:
            if not context_overflow(exc):
                raise
            return Prediction(call, "", None, Cost())  # too long to ask: the pair is asked
        text = result.content or ""
        store.put(key, {"text": text})
        return Prediction(call, text, prediction_key(text), Cost(**asdict(result.usage)))

    async def verdict(
        self, prepared: Prepared, a: int, b: int, calls: Sequence[Differing], judge: str
    ) -> tuple[Verdict | None, Cost]:
        """The verdict the model's results give on ``calls`` (where ``a``'s and ``b``'s
        programs differ), or ``None`` when they decide nothing; and the cost of the
        requests this verdict made (to carry on the question asked instead)."""
        cost = Cost()
        sides: list[tuple[str, Prediction, Differing]] = []
        for call in calls:
            prediction, first = await self.predict(prepared, call.call)
            if first:
                cost = cost + prediction.cost
            hit = [prediction.matches(k, r) for k, r in zip(call.keys, call.results, strict=True)]
            if hit[0] != hit[1]:
                sides.append(("a" if hit[0] else "b", prediction, call))
        if not sides or len({side for side, _, _ in sides}) > 1:
            return None, cost
        winner = sides[0][0]
        label, other = ("A", "B") if winner == "a" else ("B", "A")
        said = "; ".join(
            f"`{clip(c.call, 80)}` gives {clip(p.text.strip(), 80, squash=True)}: "
            f"{label}'s program agrees, {other}'s {c.results[1 if winner == 'a' else 0]}"
            for _, p, c in sides
        )
        verdict = Verdict(
            winner,
            reason=f"the judge model works out that {said}",
            evidence=(OWN_ANSWER,),
            raw="\n".join(p.text for _, p, _ in sides),
            judge=judge,
            cost=cost,
            via="own-answer",
        )
        return verdict, cost

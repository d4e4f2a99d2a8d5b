"""Log-probability verdicts and scores: one-token questions, read as probabilities.

:class:`LabelQuestions` sends the messages of a one-token question ("A or B?", "yes or
no?"; built in :mod:`~rerank.judges.llm.prompt`) with ``max_tokens=1`` and
``logprobs``/``top_logprobs``, and reads P(first label) from the reply's alternatives
(:mod:`~rerank.judges.llm.logprobs`). Each answer is remembered for the run (concurrent
asks of one question share one request, so the second display order of a pair costs
nothing when the first asked the same two questions) and in the verdict cache.

:meth:`LabelQuestions.verdict` asks "A or B?" in both display orders, one after the
other (the second finds their shared prefix in the server's prompt cache), and averages
them into p = (P_AB(A) + P_BA(B)) / 2, the probability that ``a`` is better, kept in the
verdict (``probability``); the verdict is a tie when p is within ``margin`` of 0.5.
:meth:`LabelQuestions.score` asks "yes or no?" about one candidate; P(yes) is the score.

The first answer is the probe: an endpoint whose reply carries no log-probabilities (or
that rejects the request's ``logprobs``) gets :class:`NoLogprobs` raised, and
``supported`` turns false for good, so that the judge asks in text from then on and says
so once. A request too long for the model's context is an unreadable answer with its
reason (the verdict is then invalid), never an error that fails the item.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from rerank.errors import RequestRejectedError
from rerank.judges.base import Cost, Score, Verdict, Via
from rerank.judges.llm.logprobs import (
    LabelRead,
    describe,
    label_probability,
    position_free,
    verdict_from_probability,
)
from rerank.judges.llm.predict import Differing
from rerank.judges.llm.prompt import (
    CHOICE_LABELS,
    YES_NO,
    Shown,
    check_messages,
    choice_messages,
    output_messages,
)
from rerank.judges.llm.question import Prepared, question_key
from rerank.llm.backend import ChatBackend
from rerank.llm.cache import NullCache, VerdictCache
from rerank.llm.failures import context_overflow
from rerank.memo import SingleFlight
from rerank.text import clip

__all__ = [
    "TOP_LOGPROBS",
    "Answer",
    "LabelQuestions",
    "NoLogprobs",
]

#: Alternatives asked for the first token: OpenAI's maximum, and plenty to find both labels.
TOP_LOGPROBS = 20
_KEEP = 4096  # answers remembered for the run (every question of the items in flight)


class NoLogprobs(Exception):
    """The endpoint sent no log-probabilities (or refused to): ask in text instead."""


@dataclass(frozen=True)
class Answer:
    """One question's answer: P(first label) and the labels' share of the distribution,
    or ``probability=None`` and the ``reason`` it is unreadable; the alternatives as text
    (``raw``); what the request cost (zero when the answer was reused) and ``via``."""

    probability: float | None
    mass: float
    reason: str
    raw: str
    cost: Cost = Cost()
    via: Via = "model"


class LabelQuestions:
    """One-token questions to one backend, read as probabilities; see the module docstring.

    Parameters
    ----------
    chat : the backend to ask.
    cache : the judge's verdict cache, opened on first use.
    top_logprobs : alternatives asked for (default :data:`TOP_LOGPROBS`).
    """

    def __init__(
        self,
        chat: ChatBackend,
        cache: Callable[[], VerdictCache | NullCache],
        *,
        top_logprobs: int = TOP_LOGPROBS,
    ) -> None:
        self.chat = chat
        self.cache = cache
        self.top_logprobs = top_logprobs
        #: Whether the endpoint sends log-probabilities: ``None`` until an answer tells.
        self.supported: bool | None = None
        self._memo: SingleFlight[str, Answer] = SingleFlight(_KEEP)

    @property
    def parameters(self) -> dict[str, Any]:
        """What of the request changes the answer (part of its cache key)."""
        return {"max_tokens": 1, "temperature": 0.0, "top_logprobs": self.top_logprobs}

    async def ask(
        self, messages: Sequence[Mapping[str, Any]], labels: Sequence[str], *, key: str
    ) -> Answer:
        """P(``labels[0]``) among ``labels`` for the question ``messages`` (cache key
        ``key``); asked once per run, whoever asks.

        Raises
        ------
        NoLogprobs
            when the endpoint sends no log-probabilities.
        EndpointError
            when no endpoint answers (as for any request).
        """
        if self.supported is False:
            raise NoLogprobs("the endpoint sends no log-probabilities")
        answer, first = await self._memo.get(key, lambda: self._answer(messages, labels, key))
        if not first and answer.via == "model":
            return Answer(answer.probability, answer.mass, answer.reason, answer.raw, via="cache")
        return answer

    async def _answer(
        self, messages: Sequence[Mapping[str, Any]], labels: Sequence[str], key: str
    ) -> Answer:
        store = self.cache()
        cached = store.get(key)
        if cached is not None:
            return Answer(cached["probability"], cached["mass"], "", cached["raw"], via="cache")
        try:
            result = await self.chat.chat(
                messages,
                temperature=0.0,
                max_tokens=1,
                logprobs=True,
                top_logprobs=self.top_logprobs,
            )
        except RequestRejectedError as exc:
            if context_overflow(exc):
                why = f"the question does not fit the model's context: {exc}"
                return Answer(None, 0.0, why, "")
            if "logprob" in str(exc).lower():
                self._unsupported(str(exc))
            raise
        cost = Cost(**asdict(result.usage))
        alternatives = result.top_logprobs
        if alternatives is None:
            self._unsupported("its reply carried no log-probabilities")
        self.supported = True
        read = label_probability(alternatives, labels)
        raw = describe(alternatives)
        if not isinstance(read, LabelRead):
            return Answer(None, 0.0, read.reason, raw, cost)
        store.put(key, {"probability": read.probability, "mass": read.mass, "raw": raw})
        return Answer(read.probability, read.mass, "", raw, cost)

    def _unsupported(self, why: str) -> NoReturn:
        if self.supported is not False:
            logging.getLogger(__name__).warning(
                "the endpoint sends no log-probabilities (%s): verdicts are read from text "
                "from now on (--verdict text)",
                why,
            )
        self.supported = False
        raise NoLogprobs(why)

    # -- verdicts and scores ---------------------------------------------------------------

    async def _question(
        self,
        prepared: Prepared,
        model: str,
        mode: str,
        messages: list[dict[str, str]],
        texts: list[str],
        labels: Sequence[str],
    ) -> Answer:
        key = question_key(
            model=model,
            skill=prepared.skill,
            prompt=prepared.view.prompt,
            candidates=texts,
            mode=mode,
            question="\x00".join(m["content"] for m in messages),
            parameters=self.parameters,
        )
        return await self.ask(messages, labels, key=key)

    async def _choice(
        self, prepared: Prepared, model: str, first: int, second: int, note: str | None
    ) -> Answer:
        """P(A) with ``first`` shown as A and ``second`` as B."""
        shown = [
            Shown(label, prepared.view.candidates[i].text, prepared.standings[i])
            for label, i in (("A", first), ("B", second))
        ]
        messages = choice_messages(prepared.view, prepared.skill, shown, prepared.kind, note=note)
        texts = [s.text for s in shown]
        return await self._question(prepared, model, "choice", messages, texts, CHOICE_LABELS)

    async def _in_both_orders(
        self, ask: Callable[[int, int], Awaitable[Answer]], a: int, b: int, both_orders: bool
    ) -> _Read:
        """P(``a`` better) from ``ask(first, second)`` (P(A) with ``first`` shown as A) in
        both display orders, averaged (one order with ``both_orders=False``)."""
        orders = [(a, b), (b, a)] if both_orders else [(a, b)]
        # One after the other: the second order then finds the prefix the two share (the
        # skill, the task, the own answer) in the server's prompt cache, and its responses
        # among the tokens just processed; other comparisons keep the server busy meanwhile.
        answers = [await ask(x, y) for x, y in orders]
        bad = next((x for x in answers if x.probability is None), None)
        if bad is not None:
            swapped = " (display order swapped)" if bad is not answers[0] else ""
            return _Read(answers, None, f"{bad.reason}{swapped}")
        p_first = answers[0].probability
        assert p_first is not None
        if not both_orders:
            return _Read(answers, p_first, f"one display order: P(A) = {p_first:.3f}")
        p_second = 1.0 - (answers[1].probability or 0.0)  # P(B) with b shown first
        how = f"A first: P(A) = {p_first:.3f}; B first: P(B) = {p_second:.3f}"
        return _Read(answers, position_free(p_first, p_second), how)

    async def verdict(
        self,
        prepared: Prepared,
        a: int,
        b: int,
        *,
        model: str,
        judge: str,
        margin: float,
        both_orders: bool = True,
        note: str | None = None,
    ) -> Verdict:
        """Which of ``a`` (shown first) and ``b`` is better, from the probabilities of a
        one-token answer in both display orders (one with ``both_orders=False``).

        Raises
        ------
        NoLogprobs
            when the endpoint sends no log-probabilities.
        """

        async def ask(first: int, second: int) -> Answer:
            return await self._choice(prepared, model, first, second, note)

        read = await self._in_both_orders(ask, a, b, both_orders)
        return _verdict([read], margin, judge, "from the answer's log-probabilities")

    async def outputs_verdict(
        self,
        prepared: Prepared,
        a: int,
        b: int,
        *,
        calls: Sequence[Differing],
        model: str,
        judge: str,
        margin: float,
        both_orders: bool = True,
        note: str | None = None,
    ) -> Verdict:
        """Which of ``a`` and ``b`` is better, from which of their results the task asks
        for on ``calls`` (calls where the two programs differ; :func:`differing_outputs`):
        per call, "A or B?" on the two results in both display orders; p is the mean over
        the calls.

        Raises
        ------
        NoLogprobs
            when the endpoint sends no log-probabilities.
        """
        reads = []
        for call in calls:

            async def ask(first: int, second: int, call: Differing = call) -> Answer:
                results = (call.results[first != a], call.results[second != a])
                messages = output_messages(
                    prepared.view, prepared.skill, call.call, results, note=note
                )
                return await self._question(prepared, model, "output", messages, [], CHOICE_LABELS)

            reads.append(await self._in_both_orders(ask, a, b, both_orders))
        where = "; ".join(f"`{clip(c.call, 80)}`: A {c.results[0]}, B {c.results[1]}"
                          for c in calls)  # fmt: skip
        what = f"from which result the task asks for where the programs differ ({where})"
        return _verdict(reads, margin, judge, what)

    async def score(
        self, prepared: Prepared, index: int, *, model: str, judge: str, note: str | None = None
    ) -> Score:
        """P(yes) for "is candidate ``index`` correct?" (``value=None`` when unreadable).

        Raises
        ------
        NoLogprobs
            when the endpoint sends no log-probabilities.
        """
        shown = Shown("", prepared.view.candidates[index].text, prepared.standings[index])
        messages = check_messages(prepared.view, prepared.skill, shown, prepared.kind, note=note)
        answer = await self._question(prepared, model, "check", messages, [shown.text], YES_NO)
        if answer.probability is None:
            return Score(None, reason=answer.reason, raw=answer.raw, judge=judge,
                         cost=answer.cost, via=answer.via)  # fmt: skip
        question = messages[1]["content"].rsplit("\n", 1)[-1]
        return Score(
            answer.probability,
            reason=f"P(yes) = {answer.probability:.3f} for: {question}",
            raw=answer.raw,
            judge=judge,
            cost=answer.cost,
            via=answer.via,
        )


@dataclass(frozen=True)
class _Read:
    """One question asked in both display orders: its answers, and P(``a`` better) with
    how it was read (``p=None``: unreadable, ``how`` says why)."""

    answers: list[Answer]
    p: float | None
    how: str


def _verdict(reads: Sequence[_Read], margin: float, judge: str, what: str) -> Verdict:
    """The verdict of one or more questions: invalid when one is unreadable, else a tie
    within ``margin`` of 0.5 of their mean p, else the side it favours."""
    answers = [x for read in reads for x in read.answers]
    cost = sum((x.cost for x in answers), Cost())
    via: Via = "model" if any(x.via == "model" for x in answers) else "cache"
    raw = "\n--- next question ---\n".join(
        "\n--- display order swapped ---\n".join(x.raw for x in read.answers) for read in reads
    )
    bad = next((read for read in reads if read.p is None), None)
    if bad is not None:
        return Verdict("invalid", reason=bad.how, raw=raw, judge=judge, cost=cost, via=via)
    p = sum(read.p or 0.0 for read in reads) / len(reads)
    how = "; ".join(read.how for read in reads)
    winner = verdict_from_probability(p, margin)
    if winner == "tie":
        reason = f"P(A better) = {p:.3f} is within {margin:g} of 0.5, a tie, {what} ({how})"
    else:
        reason = f"P(A better) = {p:.3f} {what} ({how})"
    low = [x.mass for x in answers if x.mass < 0.5]
    flags = (f"the labels held only {min(low):.2f} of the probability",) if low else ()
    return Verdict(
        winner,
        reason=reason,
        confidence=max(p, 1.0 - p) if winner != "tie" else None,
        raw=raw,
        judge=judge,
        cost=cost,
        flags=flags,
        via=via,
        probability=p,
    )

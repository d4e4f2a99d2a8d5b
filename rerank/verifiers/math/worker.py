"""The math-verify worker: a child process that parses answers and compares them.

Run by :mod:`rerank.verifiers.math.equivalence` as ``python -P worker.py``: it imports
nothing from ``rerank`` (a quick start, and no package state in the child), and talks JSON
lines over its stdin and stdout. math-verify's own timeouts are off (they use
``signal.alarm``, which only works in a main thread); the parent enforces the deadlines by
killing this process, which is why every step is announced before it starts.

Protocol, one JSON object per line:

- child, once started: ``{"ready": true}`` or ``{"error": "..."}`` (then it exits);
- parent: ``{"answers": [str, ...], "reference": str | null, "skip": [step, ...],
  "quarantine": [party, ...], "cpu_seconds": float}`` (the CPU the request may use: a
  backstop for a worker whose parent died mid-request, as the parent's deadlines are far
  shorter);
- child: ``{"step": step}`` before each step, then ``{"done": result}``, where ``result``
  is ``{"classes": [int, ...], "reference": [true | false | null, ...] | null}``.

A step is ``["parse", i]``, ``["eq", r, i]`` (answer ``i`` against the representative
``r`` of a class), ``["parse", "reference"]`` or ``["eq", "reference", i]``; its parties
are what follows its name. A skipped step (one that timed out before), and any step of a
quarantined party, counts as unparsed, unequal or unknown.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from functools import lru_cache
from typing import Any

#: Address space for one worker: a runaway expression fails with MemoryError, not OOM.
MEMORY_LIMIT = 4 * 1024**3


def main() -> None:
    """Serve requests until stdin closes."""
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    _limit_memory()
    try:
        import math_verify  # noqa: F401
    except Exception as exc:  # pragma: no cover - depends on the environment
        _send(out, {"error": f"cannot import math_verify: {exc}"})
        return
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.CRITICAL)
    _send(out, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        _limit_cpu(request.get("cpu_seconds"))
        result = _serve(request, lambda step: _send(out, {"step": step}))
        _send(out, {"done": result})


def _serve(request: dict[str, Any], announce) -> dict[str, Any]:
    answers: list[str] = request["answers"]
    reference: str | None = request.get("reference")
    skip = {tuple(step) for step in request.get("skip", ())}
    quarantine = set(request.get("quarantine", ()))

    def run(step: tuple, work, default):
        if step in skip or quarantine.intersection(step[1:]):
            return default
        announce(list(step))
        return work()

    parsed = [run(("parse", i), lambda a=a: _parse(a), None) for i, a in enumerate(answers)]
    classes = list(range(len(answers)))
    representatives: list[int] = []
    for i, p in enumerate(parsed):
        if not p:
            continue
        for r in representatives:
            if run(("eq", r, i), lambda r=r, i=i: _equal(answers[r], answers[i]), False):
                classes[i] = r
                break
        else:
            representatives.append(i)
    matches = None
    if reference is not None:
        gold = run(("parse", "reference"), lambda: _parse(reference), None)
        matches = [
            run(("eq", "reference", i), lambda a=a: _equal(reference, a), None)
            if gold and parsed[i]
            else None
            for i, a in enumerate(answers)
        ]
    return {"classes": classes, "reference": matches}


@lru_cache(maxsize=8192)
def _parse(answer: str) -> list:
    from math_verify import parse

    return parse("\\boxed{" + answer + "}", parsing_timeout=None)


@lru_cache(maxsize=8192)
def _equal(gold: str, answer: str) -> bool:
    from math_verify import verify

    return bool(verify(_parse(gold), _parse(answer), timeout_seconds=None))


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on every OS
        pass


def _limit_cpu(seconds: float | None) -> None:
    """A backstop should the parent die mid-request: the kernel ends a request that runs on."""
    if seconds is None:
        return
    try:
        import math
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on every OS
        pass


def _send(out, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
